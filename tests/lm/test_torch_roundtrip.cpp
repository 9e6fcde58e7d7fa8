// Checkpoints move between recur and PyTorch: a model written by independent PyTorch code
// (scripts/torch_lm.py, standard-library safetensors writer) loads in recur and gives the same logits
// and greedy text, and the reverse. Skipped, with a message, where python3-torch is not installed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "recur/autograd/ops.h"
#include "recur/lm/checkpoint.h"
#include "recur/lm/evaluate.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {
bool has_torch() { return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0; }

nlohmann::json run_script(const nlohmann::json& jobs) {
  const std::string cmd =
      std::string("/usr/bin/python3 '") + RECUR_SOURCE_DIR + "/scripts/torch_lm.py' '" + jobs.dump() + "'";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  EXPECT_EQ(::pclose(pipe), 0) << cmd;
  return nlohmann::json::parse(out);
}

const std::vector<int32_t> kPrefix{1, 2, 3, 4, 5, 1, 3, 2};

void expect_same_as_torch(LanguageModel& model, const nlohmann::json& torch_out, const std::string& what) {
  Graph<float> g;
  RecurrentState state = model.zero_state(1);
  Var logits = model.forward(g, kPrefix, static_cast<int64_t>(kPrefix.size()), 1, state, nullptr, false);
  const auto expected = torch_out.at("logits").get<std::vector<std::vector<double>>>();
  const int64_t V = model.config().vocab_size;
  for (size_t t = 0; t < expected.size(); ++t)
    for (int64_t v = 0; v < V; ++v)
      ASSERT_NEAR(g.value(logits)[static_cast<int64_t>(t) * V + v], expected[t][static_cast<size_t>(v)],
                  1e-4 + 2e-6 * std::abs(expected[t][static_cast<size_t>(v)]))  // float32 rounding
          << what << " t=" << t << " v=" << v;
  Rng rng(1);
  EXPECT_EQ(generate_tokens(model, kPrefix, 20, {.greedy = true}, rng),
            torch_out.at("greedy").get<std::vector<int32_t>>())
      << what;
}

struct Case {
  const char* cell;
  int layers;
  int embed;
};
const Case kCases[] = {{"gru", 1, 0}, {"lstm", 2, 3}, {"rnn_tanh", 1, 0}, {"rnn_relu", 2, 4}};
}  // namespace

TEST(TorchRoundTrip, PyTorchCheckpointLoadsAndAgrees) {
  if (!has_torch()) GTEST_SKIP() << "python3-torch is not installed: PyTorch round trip not checked";
  nlohmann::json jobs = nlohmann::json::array();
  std::vector<fs::path> dirs;
  for (const Case& c : kCases) {
    dirs.push_back(test::make_temp_dir("torch-write"));
    jobs.push_back({{"action", "write"},
                    {"dir", dirs.back().string()},
                    {"cell", c.cell},
                    {"layers", c.layers},
                    {"embed", c.embed},
                    {"prefix", "1,2,3,4,5,1,3,2"}});
  }
  auto out = run_script(jobs);
  for (size_t i = 0; i < dirs.size(); ++i) {
    LoadedModel loaded = load_model(dirs[i]);
    expect_same_as_torch(*loaded.model, out[i], kCases[i].cell);
  }
}

TEST(TorchRoundTrip, RecurCheckpointLoadsInPyTorchAndAgrees) {
  if (!has_torch()) GTEST_SKIP() << "python3-torch is not installed: PyTorch round trip not checked";
  nlohmann::json jobs = nlohmann::json::array();
  std::vector<std::unique_ptr<LanguageModel>> models;
  for (const Case& c : kCases) {
    auto dir = test::make_temp_dir("torch-read");
    models.push_back(std::make_unique<LanguageModel>(LanguageModelConfig{.cell = parse_cell_type(c.cell),
                                                                         .num_layers = c.layers,
                                                                         .hidden_size = 8,
                                                                         .embedding_size = c.embed,
                                                                         .vocab_size = 6}));
    Rng rng(11);
    models.back()->reset_parameters(rng);
    for (float& v : models.back()->parameters().values()) v *= 3.0f;
    ModelTextConfig text{.encoding = {.level = TokenLevel::character, .mode = PreprocessMode::raw},
                         .vocab = Vocab::from_tokens({"<unk>", "a", "b", "c", "d", "e"})};
    save_model_files(dir, *models.back(), text);
    jobs.push_back({{"action", "generate"}, {"dir", dir.string()}, {"prefix", "1,2,3,4,5,1,3,2"}});
  }
  auto out = run_script(jobs);
  for (size_t i = 0; i < models.size(); ++i) expect_same_as_torch(*models[i], out[i], kCases[i].cell);
}
