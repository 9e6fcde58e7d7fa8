// The library's training run: run.json round trip (and old files), resume overrides, the validation
// split, model-folder lookup, enum parsing errors, option errors that name the field, and a short run.
#include <gtest/gtest.h>

#include <fstream>

#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/lm/run.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {
// run.json as the command line wrote it before the run moved into the library (no "patience").
constexpr const char* kOldRunJson = R"({
 "batch": 4, "cell": "rnn", "clip": 0.5, "data": "tiny.txt", "dropout": 0.1, "embed": 8, "epochs": 3,
 "hidden": 16, "layers": 2, "level": "word", "lr": 0.01, "lr_gamma": 0.5, "lr_schedule": "cosine",
 "min_freq": 2, "mode": "raw", "momentum": 0.0, "nonlinearity": "relu", "optimizer": "adamw",
 "partition": "random", "random_truncation": 1.0, "seed": 7, "steps": 10, "time_budget": 30.0,
 "valid": "", "valid_fraction": 0.2, "weight_decay": -1.0
})";

RunSettings small_settings(const fs::path& data, const fs::path& out) {
  RunSettings s;
  s.data = data.string();
  s.hidden_size = 16;
  s.train = {
      .batch = 4, .steps = 10, .optimizer = OptimizerKind::kAdam, .lr = 0.01, .epochs = 2, .out_dir = out};
  return s;
}

fs::path tiny_text(const fs::path& dir) {
  std::ofstream out(dir / "tiny.txt");
  for (int i = 0; i < 40; ++i) out << "the time traveller said the time machine was ready\n";
  return dir / "tiny.txt";
}

// `f` throws OptionError for `field`, its message holding `words`.
template <typename F>
void expect_option_error(F&& f, const std::string& field, const std::string& words) {
  try {
    f();
    FAIL() << "expected OptionError for " << field;
  } catch (const OptionError& e) {
    EXPECT_EQ(e.field(), field);
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

void touch_model(const fs::path& dir) {
  fs::create_directories(dir);
  write_file_atomically(dir / "config.json", "{}");
}
}  // namespace

TEST(RunSettings, OldRunJsonStillParses) {
  const RunSettings s = parse_run_settings(kOldRunJson, "run.json");
  EXPECT_EQ(s.cell, CellType::kRnnRelu);
  EXPECT_EQ(s.encoding.level, TokenLevel::word);
  EXPECT_EQ(s.encoding.mode, PreprocessMode::raw);
  EXPECT_EQ(s.train.partition, Partition::kRandom);
  EXPECT_EQ(s.train.optimizer, OptimizerKind::kAdamW);
  EXPECT_EQ(s.train.lr_schedule, LrScheduleKind::kCosine);
  EXPECT_EQ(s.num_layers, 2);
  EXPECT_EQ(s.hidden_size, 16);
  EXPECT_EQ(s.embedding_size, 8);
  EXPECT_EQ(s.train.patience, 0);
  EXPECT_EQ(s.train.seed, 7u);
  EXPECT_EQ(s.train.time_budget_s, 30.0);
}

TEST(RunSettings, JsonRoundTripKeepsEveryKey) {
  RunSettings s = parse_run_settings(kOldRunJson, "run.json");
  s.train.patience = 4;
  const std::string json = run_settings_json(s);
  EXPECT_EQ(run_settings_json(parse_run_settings(json, "again")), json);
  for (const char* key :
       {"\"cell\": \"rnn\"", "\"nonlinearity\": \"relu\"", "\"hidden\": 16", "\"time_budget\": 30.0",
        "\"random_truncation\": 1.0", "\"patience\": 4", "\"level\": \"word\""})
    EXPECT_NE(json.find(key), std::string::npos) << key << "\n" << json;
}

TEST(RunSettings, UnknownNamesInRunJsonNameTheFile) {
  std::string json = kOldRunJson;
  json.replace(json.find("\"random\""), 8, "\"sideways\"");
  try {
    (void)parse_run_settings(json, "runs/x/run.json");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("runs/x/run.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("sideways"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)parse_run_settings("{\"data\": 1}", "run.json"), IoError);
}

TEST(RunSettings, EnumParsingErrorsNameTheFieldAndTheChoices) {
  expect_option_error([] { (void)parse_partition("sideways"); }, "partition", "sequential, random");
  expect_option_error([] { (void)parse_optimizer_kind("rmsprop"); }, "optimizer", "sgd, adam, adamw");
  EXPECT_EQ(parse_optimizer_kind(optimizer_kind_name(OptimizerKind::kAdamW)), OptimizerKind::kAdamW);
  EXPECT_EQ(parse_partition(partition_name(Partition::kRandom)), Partition::kRandom);
  EXPECT_THROW((void)run_cell_type("rnn", "sigmoid"), ValueError);
  EXPECT_THROW((void)run_cell_type("mamba", "tanh"), ValueError);
  for (CellType c : {CellType::kRnnTanh, CellType::kRnnRelu, CellType::kGru, CellType::kLstm}) {
    const auto [cell, nonlinearity] = run_cell_names(c);
    EXPECT_EQ(run_cell_type(cell, nonlinearity), c);
  }
}

TEST(RunSettings, OptionErrorsNameTheField) {
  auto expect_field = [](const RunSettings& s, const std::string& field, const std::string& words) {
    expect_option_error([&] { validate(s); }, field, words);
  };
  RunSettings s = small_settings("x", "out");
  s.hidden_size = 0;
  expect_field(s, "hidden_size", "hidden_size must be >= 1, got 0");
  s = small_settings("x", "out");
  s.num_layers = 0;
  expect_field(s, "num_layers", "num_layers must be >= 1");
  s = small_settings("x", "out");
  s.dropout = 1;
  expect_field(s, "dropout", "dropout must be in [0, 1)");
  s = small_settings("x", "out");
  s.train.truncation_keep = 0;
  expect_field(s, "truncation_keep", "truncation_keep must be in (0, 1]");
  s = small_settings("x", "");
  expect_field(s, "out_dir", "out_dir");
}

TEST(RunSettings, ResumeTakesRunJsonAndTheGivenOverrides) {
  const auto dir = test::make_temp_dir("run-resume");
  EXPECT_THROW((void)resume_settings(dir, {}), IoError);
  write_file_atomically(run_settings_path(dir), kOldRunJson);
  RunSettings s = resume_settings(dir, {});
  EXPECT_EQ(s.train.out_dir, dir);
  EXPECT_EQ(s.train.epochs, 3);
  EXPECT_EQ(s.train.time_budget_s, 0.0);  // a budget is for one session
  s = resume_settings(dir, {.epochs = 9, .time_budget_s = 5.0, .patience = 2});
  EXPECT_EQ(s.train.epochs, 9);
  EXPECT_EQ(s.train.time_budget_s, 5.0);
  EXPECT_EQ(s.train.patience, 2);
}

TEST(RunData, ValidationSplitTakesTheTail) {
  const TrainData d = split_validation({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0.25);
  EXPECT_EQ(d.train.to_vector(), (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(d.valid.to_vector(), (std::vector<int32_t>{8, 9}));
  EXPECT_TRUE(split_validation({1, 2, 3}, 0).valid.empty());
  EXPECT_THROW((void)split_validation({1, 2}, 1.0), ValueError);
}

TEST(RunFolder, ModelLookupPrefersTheFolderThenBestThenCheckpoint) {
  const auto dir = test::make_temp_dir("run-lookup");
  try {
    (void)find_model_folder(dir);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("no model"), std::string::npos) << e.what();
  }
  touch_model(checkpoint_folder(dir));
  EXPECT_EQ(find_model_folder(dir), dir / "checkpoint");
  touch_model(best_model_folder(dir));
  EXPECT_EQ(find_model_folder(dir), dir / "best");
  EXPECT_EQ(find_model_folder(dir / "checkpoint"), dir / "checkpoint");
  touch_model(dir);
  EXPECT_EQ(find_model_folder(dir), dir);
}

TEST(TrainingRun, TrainsSavesItsSettingsAndSamplesTheBestModel) {
  const auto dir = test::make_temp_dir("run-train");
  TrainingRun run(small_settings(tiny_text(dir), dir / "out"));
  const int64_t all = run.data().train_tokens + run.data().valid_tokens;
  EXPECT_EQ(run.data().valid_tokens, static_cast<int64_t>(static_cast<double>(all) * 0.1));
  run.save_settings();
  const TrainSummary summary = run.train();
  EXPECT_EQ(summary.history.size(), 2u);
  EXPECT_EQ(parse_run_settings(read_file(dir / "out" / "run.json"), "run.json").hidden_size, 16);
  const auto greedy = run.sample("the ", 12, {.greedy = true}, 1);
  ASSERT_TRUE(greedy.has_value());
  EXPECT_TRUE(greedy->from_best);
  EXPECT_EQ(greedy->text.rfind("the ", 0), 0u) << greedy->text;
  EXPECT_EQ(greedy->text.size(), 16u);  // one character per token
  const auto a = run.sample("the ", 12, {.temperature = 0.8}, 3),
             b = run.sample("the ", 12, {.temperature = 0.8}, 3);
  EXPECT_EQ(a->text, b->text);
  EXPECT_FALSE(run.sample("", 5, {.greedy = true}, 1).has_value());
}
