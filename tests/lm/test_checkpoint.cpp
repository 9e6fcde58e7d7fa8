// Model folders: round trip, and every way a folder can be broken gives a clear IoError.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <limits>

#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/io/safetensors.h"
#include "recur/lm/checkpoint.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {
const ModelTextConfig kText{.encoding = {.level = TokenLevel::character, .mode = PreprocessMode::raw},
                            .vocab = Vocab::from_tokens({"<unk>", "a", "b", " ", "\n"})};

fs::path saved_model(CellType cell = CellType::kLstm, int64_t embed = 3) {
  auto dir = test::make_temp_dir("ckpt");
  LanguageModel model(
      {.cell = cell, .num_layers = 2, .hidden_size = 4, .embedding_size = embed, .vocab_size = 5});
  Rng rng(1);
  model.reset_parameters(rng);
  save_model_files(dir, model, kText);
  return dir;
}

void expect_load_error(const fs::path& dir, const std::vector<std::string>& words) {
  try {
    (void)load_model(dir);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    for (const auto& w : words) EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what();
  }
}

void rewrite_config(const fs::path& dir, const std::string& from, const std::string& to) {
  std::string json = read_file(dir / "config.json");
  auto at = json.find(from);
  ASSERT_NE(at, std::string::npos) << json;
  json.replace(at, from.size(), to);
  write_file_atomically(dir / "config.json", json);
}
}  // namespace

TEST(Checkpoint, RoundTripKeepsWeightsAndText) {
  auto dir = saved_model();
  LoadedModel a = load_model(dir);
  EXPECT_EQ(a.text.vocab, kText.vocab);
  EXPECT_EQ(a.text.encoding, kText.encoding);
  EXPECT_EQ(a.model->config().cell, CellType::kLstm);
  EXPECT_EQ(a.model->config().embedding_size, 3);
  LanguageModel b(
      {.cell = CellType::kLstm, .num_layers = 2, .hidden_size = 4, .embedding_size = 3, .vocab_size = 5});
  Rng rng(1);
  b.reset_parameters(rng);
  auto va = a.model->parameters().values();
  auto vb = b.parameters().values();
  EXPECT_TRUE(std::equal(va.begin(), va.end(), vb.begin(), vb.end()));
  EXPECT_TRUE(a.model->parameters().find("rnn.weight_hh_l1").has_value());
  EXPECT_TRUE(a.model->parameters().find("embedding.weight").has_value());
}

TEST(Checkpoint, MissingFilesAreNamed) {
  auto dir = saved_model();
  fs::remove(dir / "model.safetensors");
  expect_load_error(dir, {"model.safetensors", "missing"});
  dir = saved_model();
  fs::remove(dir / "config.json");
  expect_load_error(dir, {"config.json", "missing"});
  expect_load_error(dir / "nothing-here", {"does not exist"});
}

TEST(Checkpoint, TruncatedWeightsAreRejected) {
  auto dir = saved_model();
  std::string bytes = read_file(dir / "model.safetensors");
  write_file_atomically(dir / "model.safetensors", bytes.substr(0, bytes.size() / 2));
  expect_load_error(dir, {"model.safetensors", "data_offsets"});
}

TEST(Checkpoint, HeaderLengthPastTheEndIsRejected) {
  auto dir = saved_model();
  std::string bytes = read_file(dir / "model.safetensors");
  const uint64_t huge = 1ull << 40;
  std::memcpy(bytes.data(), &huge, 8);
  write_file_atomically(dir / "model.safetensors", bytes);
  expect_load_error(dir, {"past the end"});
}

TEST(Checkpoint, WrongDtypeIsRejected) {
  auto dir = saved_model();
  std::string bytes = read_file(dir / "model.safetensors");
  auto at = bytes.find("\"F32\"");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 5, "\"I32\"");
  write_file_atomically(dir / "model.safetensors", bytes);
  expect_load_error(dir, {"dtype 'I32'"});
}

TEST(Checkpoint, ShapesThatDisagreeWithConfigAreRejected) {
  auto dir = saved_model();
  rewrite_config(dir, "\"hidden_size\": 4", "\"hidden_size\": 5");
  expect_load_error(dir, {"shape", "config.json implies"});
}

TEST(Checkpoint, UnknownCellIsRejected) {
  auto dir = saved_model();
  rewrite_config(dir, "\"lstm\"", "\"transformer\"");
  expect_load_error(dir, {"config.json", "unknown cell 'transformer'"});
}

TEST(Checkpoint, MissingTensorIsNamed) {
  auto dir = saved_model(CellType::kGru, 0);
  auto tensors = load_safetensors(dir / "model.safetensors");
  tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                               [](const NamedTensor& t) { return t.name == "head.bias"; }),
                tensors.end());
  save_safetensors(dir / "model.safetensors", tensors);
  expect_load_error(dir, {"head.bias", "missing"});
}

TEST(Checkpoint, BadConfigValuesAreNamed) {
  auto dir = saved_model();
  rewrite_config(dir, "\"layers\": 2", "\"layers\": 0");
  expect_load_error(dir, {"\"layers\""});
  dir = saved_model();
  rewrite_config(dir, "\"unk\": \"<unk>\"", "\"unk\": \"<nope>\"");
  expect_load_error(dir, {"\"unk\""});
  dir = saved_model();
  rewrite_config(dir, "{", "[");
  expect_load_error(dir, {"config.json"});
}

TEST(Checkpoint, FailedWriteLeavesThePreviousFolder) {
  auto root = test::make_temp_dir("replace");
  replace_folder_atomically(root / "ckpt", [](const fs::path& d) { write_file_atomically(d / "a", "good"); });
  EXPECT_THROW(replace_folder_atomically(root / "ckpt",
                                         [](const fs::path& d) {
                                           write_file_atomically(d / "a", "half");
                                           throw IoError("disk full");
                                         }),
               IoError);
  EXPECT_EQ(read_file(root / "ckpt" / "a"), "good");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(root)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(Checkpoint, ParameterShapesFromTheConfigMatchTheModel) {
  for (CellType cell : {CellType::kRnnTanh, CellType::kGru, CellType::kLstm})
    for (int64_t embed : {0, 3}) {
      const LanguageModelConfig config{
          .cell = cell, .num_layers = 3, .hidden_size = 4, .embedding_size = embed, .vocab_size = 5};
      const LanguageModel model(config);
      const auto shapes = language_model_parameter_shapes(config);
      ASSERT_EQ(static_cast<int>(shapes.size()), model.parameters().size());
      for (int i = 0; i < model.parameters().size(); ++i) {
        EXPECT_EQ(shapes[static_cast<size_t>(i)].first, model.parameters().slot(i).name);
        EXPECT_EQ(shapes[static_cast<size_t>(i)].second, model.parameters().slot(i).shape);
      }
    }
}

TEST(Checkpoint, ConfigIsCheckedAgainstTheHeaderBeforeAllocating) {
  // hidden_size 8000 would allocate 2.3 GB of parameters before the shape error in the old order.
  auto dir = saved_model();
  rewrite_config(dir, "\"hidden_size\": 4", "\"hidden_size\": 8000");
  expect_load_error(dir, {"model.safetensors", "has shape", "config.json implies"});
  dir = saved_model();
  rewrite_config(dir, "\"hidden_size\": 4", "\"hidden_size\": 1000000000");
  expect_load_error(dir, {"\"hidden_size\"", "1000000000"});
  dir = saved_model();  // within the width bound, but far more than any machine's memory
  rewrite_config(dir, "\"hidden_size\": 4", "\"hidden_size\": 16000000");
  expect_load_error(dir, {"config.json", "\"hidden_size\" 16000000", "needs about", "GiB"});
}

TEST(Checkpoint, ConfigIntegersMustBeIntegersReportedAsWritten) {
  struct Edit {
    std::string from, to;
    std::vector<std::string> words;
  };
  const Edit edits[] = {
      {"\"hidden_size\": 4", "\"hidden_size\": 4.5", {"\"hidden_size\" must be an integer", "4.5"}},
      {"\"layers\": 2", "\"layers\": 18446744073709551615", {"\"layers\"", "18446744073709551615"}},
      {"\"layers\": 2", "\"layers\": 100000", {"\"layers\" must be in [1, 256], got 100000"}},
      {"\"embedding_size\": 3", "\"embedding_size\": -3", {"\"embedding_size\"", "-3"}},
      {"\"vocab\"", "\"vocabulary\"", {"config.json", "missing field \"vocab\""}},
      {"\"version\": 1", "\"version\": 7", {"\"version\" is 7"}},
  };
  for (const Edit& edit : edits) {
    const auto dir = saved_model();
    rewrite_config(dir, edit.from, edit.to);
    expect_load_error(dir, edit.words);
  }
}

TEST(Checkpoint, NonFiniteWeightsAreNamed) {
  auto dir = saved_model(CellType::kGru, 0);
  auto tensors = load_safetensors(dir / "model.safetensors");
  const std::pair<float, const char*> cases[] = {{std::numeric_limits<float>::quiet_NaN(), "NaN at index 3"},
                                                 {std::numeric_limits<float>::infinity(), "infinite value"}};
  for (const auto& [value, words] : cases) {
    for (auto& t : tensors)
      if (t.name == "head.weight") t.tensor.data()[3] = value;
    save_safetensors(dir / "model.safetensors", tensors);
    expect_load_error(dir, {"model.safetensors", "'head.weight'", words});
  }
}

TEST(Checkpoint, DirectoriesWhereFilesBelongAreCalledDirectories) {
  auto dir = saved_model();
  fs::remove(dir / "model.safetensors");
  fs::create_directory(dir / "model.safetensors");
  expect_load_error(dir, {"model.safetensors", "is a directory"});
  dir = saved_model();
  expect_load_error(dir / "config.json", {"config.json", "is a file, not a folder"});
}
