// `recur train`, `generate` and `eval` as a user runs them: a short end-to-end run, Ctrl-C and
// resume, and every bad input named in a message with a non-zero exit, never destroying a checkpoint.
#include <gtest/gtest.h>

#include <fstream>
#include <limits>

#include "recur/io/atomic_file.h"
#include "recur/io/safetensors.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {
fs::path tiny_text(const fs::path& dir) {
  std::ofstream out(dir / "tiny.txt");
  for (int i = 0; i < 60; ++i) out << "the time traveller said the time machine was ready\n";
  return dir / "tiny.txt";
}

// A model small enough for a test: GRU 16, batch 4 x 10 steps.
std::string small_args(const fs::path& data, const fs::path& out) {
  return "train --data '" + data.string() +
         "' --hidden 16 --batch 4 --steps 10 --optimizer adam --lr 0.01 --out '" + out.string() +
         "' --threads 1 --sample-length 20";
}

void expect_failure(const std::string& args, const std::vector<std::string>& words) {
  auto r = test::run_cli(args);
  EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << args << "\n" << r.output;
  for (const auto& w : words) EXPECT_NE(r.output.find(w), std::string::npos) << args << "\n" << r.output;
}
}  // namespace

TEST(LmCli, TrainGenerateEvalEndToEnd) {
  auto dir = test::make_temp_dir("lmcli");
  auto data = tiny_text(dir);
  auto r = test::run_cli(small_args(data, dir / "run") + " --epochs 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("validation perplexity"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sample (best model, greedy): time traveller "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sample (best model, temperature 0.8, seed 42): time traveller "),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(fs::exists(dir / "run" / "metrics.csv"));

  auto g1 =
      test::run_cli("generate --model '" + (dir / "run").string() + "' --prefix 'the ' --length 30 --seed 3");
  auto g2 =
      test::run_cli("generate --model '" + (dir / "run").string() + "' --prefix 'the ' --length 30 --seed 3");
  ASSERT_EQ(g1.exit_code, 0) << g1.output;
  EXPECT_EQ(g1.output, g2.output);
  EXPECT_EQ(g1.output.rfind("the ", 0), 0u) << g1.output;

  auto unk = test::run_cli("generate --model '" + (dir / "run").string() +
                           "' --prefix 'the zq ' --length 5 --greedy");
  ASSERT_EQ(unk.exit_code, 0) << unk.output;
  EXPECT_NE(unk.output.find("2 prefix token(s) are not in the model's vocabulary"), std::string::npos)
      << unk.output;

  auto e = test::run_cli("eval --model '" + (dir / "run").string() + "' '" + data.string() + "'");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_NE(e.output.find("perplexity: "), std::string::npos) << e.output;
  EXPECT_NE(e.output.find("bits per character: "), std::string::npos) << e.output;
}

TEST(LmCli, InterruptSavesACheckpointAndResumeFinishes) {
  auto dir = test::make_temp_dir("lmcli-int");
  auto data = tiny_text(dir);
  // SIGINT once the first epoch's checkpoint exists (so the handler is surely installed, even on a
  // slow sanitizer build): the run must save a checkpoint and exit 130.
  const std::string ckpt = (dir / "run" / "checkpoint").string();
  auto r = test::run_cli(small_args(data, dir / "run") +
                         " --epochs 100000 2>&1 & pid=$!; for i in $(seq 1200); do [ -d '" + ckpt +
                         "' ] && break; sleep 0.1; done; sleep 0.2; kill -INT $pid; wait $pid");
  EXPECT_EQ(r.exit_code, 130) << r.output;
  EXPECT_NE(r.output.find("interrupted: checkpoint saved"), std::string::npos) << r.output;
  ASSERT_TRUE(fs::exists(dir / "run" / "checkpoint" / "train_state.json"));
  auto resumed = test::run_cli("train --resume '" + (dir / "run").string() + "' --epochs 1 --threads 1");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from"), std::string::npos) << resumed.output;
}

TEST(LmCli, BadTrainingInputs) {
  auto dir = test::make_temp_dir("lmcli-bad");
  auto data = tiny_text(dir);
  expect_failure("train --data '" + (dir / "missing.txt").string() + "' --out '" + (dir / "o").string() + "'",
                 {"missing.txt"});
  std::ofstream(dir / "empty.txt").close();
  expect_failure("train --data '" + (dir / "empty.txt").string() + "' --out '" + (dir / "o").string() + "'",
                 {"empty.txt"});
  expect_failure(small_args(data, dir / "o") + " --steps 0", {"--steps"});
  expect_failure(small_args(data, dir / "o") + " --batch 0", {"--batch"});
  expect_failure(small_args(data, dir / "o") + " --lr -1", {"--lr"});
  // The library names option fields (hidden_size); the tool names its flags.
  expect_failure("train --data '" + data.string() + "' --hidden 0 --out '" + (dir / "o").string() + "'",
                 {"--hidden must be >= 1, got 0"});
  expect_failure(small_args(data, dir / "o") + " --embed -1", {"--embed must be >= 0"});
  expect_failure(small_args(data, dir / "o") + " --layers 0", {"--layers must be >= 1"});
  expect_failure(small_args(data, dir / "o") + " --random-truncation 0",
                 {"--random-truncation must be in (0, 1]"});
  expect_failure(small_args(data, dir / "o") + " --time-budget -1", {"--time-budget must be >= 0"});
  std::ofstream(dir / "a-file").close();
  expect_failure(small_args(data, dir / "a-file" / "out"), {"a-file"});
}

TEST(LmCli, BrokenCheckpointIsReportedAndNotDestroyed) {
  auto dir = test::make_temp_dir("lmcli-broken");
  auto data = tiny_text(dir);
  ASSERT_EQ(test::run_cli(small_args(data, dir / "run") + " --epochs 1").exit_code, 0);
  const fs::path model = dir / "run" / "best";
  const std::string weights = read_file(model / "model.safetensors");
  write_file_atomically(model / "model.safetensors", weights.substr(0, 100));
  expect_failure("generate --model '" + model.string() + "' --length 5", {"model.safetensors"});
  expect_failure("eval --model '" + model.string() + "' '" + data.string() + "'", {"model.safetensors"});
  std::string config = read_file(model / "config.json");
  config.replace(config.find("\"gru\""), 5, "\"mamba\"");
  write_file_atomically(model / "config.json", config);
  expect_failure("generate --model '" + model.string() + "'", {"unknown cell 'mamba'"});
  // A failing run into the same folder leaves the last checkpoint as it was.
  const std::string before = read_file(dir / "run" / "checkpoint" / "model.safetensors");
  expect_failure(small_args(data, dir / "run") + " --steps 0", {"--steps"});
  EXPECT_EQ(read_file(dir / "run" / "checkpoint" / "model.safetensors"), before);
  expect_failure("generate --model '" + (dir / "nowhere").string() + "'", {"no model"});
}

// The file with `from` replaced by `to` (the first occurrence after `after`).
void edit_file(const fs::path& path, const std::string& from, const std::string& to,
               const std::string& after = "") {
  std::string text = read_file(path);
  const size_t at = text.find(from, after.empty() ? 0 : text.find(after));
  ASSERT_NE(at, std::string::npos) << from << " in " << text;
  text.replace(at, from.size(), to);
  write_file_atomically(path, text);
}

TEST(LmCli, ASecondRunIntoTheSameFolderIsRefusedAndSigtermSavesACheckpoint) {
  auto dir = test::make_temp_dir("lmcli-lock");
  auto data = tiny_text(dir);
  const std::string ckpt = (dir / "run" / "checkpoint").string(), log = (dir / "first.log").string();
  auto r = test::run_cli(small_args(data, dir / "run") + " --epochs 100000 >'" + log +
                         "' 2>&1 & pid=$!; for i in $(seq 1200); do [ -d '" + ckpt +
                         "' ] && break; sleep 0.1; done; '" + test::cli_path() + "' " +
                         small_args(data, dir / "run") +
                         " --epochs 1 2>&1; echo second=$?; kill -TERM $pid; wait $pid");
  EXPECT_EQ(r.exit_code, 143) << r.output;
  EXPECT_NE(r.output.find("is in use by process"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("second=1"), std::string::npos) << r.output;
  const std::string first = read_file(log);
  EXPECT_NE(first.find("checkpoint saved in"), std::string::npos) << first;
  EXPECT_NE(first.find("after SIGTERM"), std::string::npos) << first;
  EXPECT_TRUE(fs::exists(dir / "run" / "checkpoint" / "train_state.json"));
}

TEST(LmCli, ANewRunKeepsAnEarlierOneUnlessForced) {
  auto dir = test::make_temp_dir("lmcli-force");
  auto data = tiny_text(dir);
  ASSERT_EQ(test::run_cli(small_args(data, dir / "run") + " --epochs 1").exit_code, 0);
  const std::string settings = read_file(dir / "run" / "run.json");
  expect_failure(small_args(data, dir / "run") + " --epochs 2 --seed 7",
                 {"already holds a run", "--force", "--resume"});
  EXPECT_EQ(read_file(dir / "run" / "run.json"), settings);
  auto forced = test::run_cli(small_args(data, dir / "run") + " --epochs 1 --seed 7 --force");
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_NE(forced.output.find("replaced the earlier run"), std::string::npos) << forced.output;
  EXPECT_NE(read_file(dir / "run" / "run.json"), settings);
}

TEST(LmCli, ResumeChecksTheTrainingStateFieldByField) {
  auto dir = test::make_temp_dir("lmcli-state");
  auto data = tiny_text(dir);
  ASSERT_EQ(test::run_cli(small_args(data, dir / "run") + " --cell lstm --epochs 1").exit_code, 0);
  const fs::path state = dir / "run" / "checkpoint" / "train_state.json";
  const fs::path tensors = dir / "run" / "checkpoint" / "train_state.safetensors";
  const std::string good = read_file(state), good_tensors = read_file(tensors);
  const std::string resume = "train --resume '" + (dir / "run").string() + "' --threads 1 --sample-length 0";
  // Saved epoch past --epochs with no history: a segmentation fault before.
  edit_file(state, "\"epoch\": 1,", "\"epoch\": 5,");
  std::string text = read_file(state);
  const size_t history = text.find("\"history\"");
  text.replace(history, text.find("\"optimizer\"", history) - history, "\"history\": [], ");
  write_file_atomically(state, text);
  expect_failure(resume + " --epochs 2", {"train_state.json", "\"history\" has 0 rows", "\"epoch\" 5"});
  write_file_atomically(state, good);
  edit_file(state, "\"epoch\": 1,", "\"epoch\": -2,");
  expect_failure(resume, {"train_state.json", "\"epoch\" must be in [0, ", "got -2"});
  write_file_atomically(state, good);
  edit_file(state, "\"batch_index\": 0", "\"batch_index\": 99999");
  expect_failure(resume + " --epochs 2", {"\"batch_index\" must be in [0, ", "99999"});
  write_file_atomically(state, good);
  edit_file(state, "recur-train-state", "something-else");
  expect_failure(resume, {"\"format\" must be \"recur-train-state\""});
  write_file_atomically(state, good);
  edit_file(state, "\"optimizer\": {", "\"optimiser\": {");
  expect_failure(resume, {"train_state.json", "missing field \"optimizer\""});
  write_file_atomically(state, good);
  auto saved = load_safetensors(tensors);
  std::erase_if(saved, [](const NamedTensor& t) { return t.name == "state.c"; });
  save_safetensors(tensors, saved);
  expect_failure(resume + " --epochs 2", {"train_state.safetensors", "'state.c' is missing"});
  write_file_atomically(tensors, good_tensors);
  auto done = test::run_cli(resume + " --epochs 1");  // nothing left to train: a summary, not a crash
  EXPECT_EQ(done.exit_code, 0) << done.output;
}

TEST(LmCli, BadModelsAndOversizedSettingsAreNamed) {
  auto dir = test::make_temp_dir("lmcli-sizes");
  auto data = tiny_text(dir);
  ASSERT_EQ(test::run_cli(small_args(data, dir / "run") + " --epochs 1").exit_code, 0);
  auto capped =
      test::run_cli("generate --model '" + (dir / "run").string() + "' --length 5 --threads 1000000");
  EXPECT_EQ(capped.exit_code, 0) << capped.output;
  EXPECT_NE(capped.output.find("--threads 1000000 is more than"), std::string::npos) << capped.output;
  const fs::path weights = dir / "run" / "best" / "model.safetensors";
  auto tensors = load_safetensors(weights);
  tensors.back().tensor.data()[0] = std::numeric_limits<float>::quiet_NaN();
  save_safetensors(weights, tensors);
  expect_failure("eval --model '" + (dir / "run").string() + "' '" + data.string() + "'",
                 {"model.safetensors", "'" + tensors.back().name + "' holds NaN"});
  expect_failure("generate --model '" + (dir / "run").string() + "'", {"holds NaN"});
  const std::string train = "train --data '" + data.string() + "' --out '" + (dir / "o").string() + "'";
  expect_failure(train + " --layers 100000", {"--layers must be <= 256"});
  expect_failure(train + " --hidden 10000000", {"--hidden", "needs about", "memory"});
  expect_failure(train + " --batch 2000000000 --steps 2000000000", {"--batch", "needs about"});
  expect_failure("bench train --hidden 10000000", {"--hidden", "needs about"});
}

TEST(BenchCli, PrintsThroughputAsItsLastLine) {
  auto last_line = [](const std::string& out) {
    const size_t end = out.find_last_not_of('\n');
    const size_t start = out.rfind('\n', end);
    return out.substr(start == std::string::npos ? 0 : start + 1,
                      end - (start == std::string::npos ? 0 : start + 1) + 1);
  };
  for (const std::string input : {"", " --embed 4"}) {
    const auto r = test::run_cli(
        "bench train --cell lstm --layers 2 --hidden 8 --batch 3 --steps 4 --vocab 7 --seconds 0.05"
        " --warmup 1 --threads 1" +
        input);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(last_line(r.output).rfind("tokens_per_s=", 0), 0u) << r.output;
    const auto g =
        test::run_cli("bench generate --cell gru --hidden 8 --vocab 7 --length 20 --seconds 0.05" + input);
    ASSERT_EQ(g.exit_code, 0) << g.output;
    EXPECT_EQ(last_line(g.output).rfind("chars_per_s=", 0), 0u) << g.output;
  }
  EXPECT_EQ(test::run_cli("bench train --embed -1").exit_code, 1);
}
