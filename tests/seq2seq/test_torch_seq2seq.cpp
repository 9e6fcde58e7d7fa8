// Translation models move between recur and d2l's PyTorch Seq2Seq (scripts/torch_seq2seq.py, an
// independent implementation with d2l's module names): a model PyTorch writes loads in recur and
// gives the same teacher-forced logits, loss, greedy translations and attention weights, and the
// reverse; every parameter's gradient agrees. Skipped, with a message, without python3-torch.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "recur/autograd/ops.h"
#include "recur/lm/language_model.h"  // parse_cell_type
#include "recur/seq2seq/decoding.h"
#include "recur/seq2seq/seq2seq_checkpoint.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {
bool has_torch() { return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0; }

nlohmann::json run_script(const nlohmann::json& jobs) {
  const std::string cmd = std::string("/usr/bin/python3 '") + RECUR_SOURCE_DIR +
                          "/scripts/torch_seq2seq.py' '" + jobs.dump() + "'";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  EXPECT_EQ(::pclose(pipe), 0) << cmd;
  return nlohmann::json::parse(out);
}

struct Case {
  const char* cell;
  bool bidirectional;
  const char* attention;
};
const Case kCases[] = {{"gru", false, "none"},
                       {"lstm", true, "none"},
                       {"gru", false, "bahdanau"},
                       {"lstm", true, "bahdanau"},
                       {"gru", true, "bahdanau"}};
constexpr int kSourceVocab = 10, kTargetVocab = 12, kGreedySteps = 5;

// Sources sorted longest first (recur's batch order); one is padded by 3, one by 2.
const nlohmann::json kBatch = {{"source", {{4, 5, 6, 7, 8, 3}, {9, 4, 5, 3}, {6, 6, 3}}},
                               {"decoder_input", {{2, 4, 5, 6, 7}, {2, 8, 9, 1, 1}, {2, 10, 11, 4, 1}}},
                               {"target", {{4, 5, 6, 7, 3}, {8, 9, 3, 1, 1}, {10, 11, 4, 3, 1}}}};
// No padding: d2l's own code path (packed false) must agree with recur too.
const nlohmann::json kUnpaddedBatch = {{"source", {{4, 5, 6, 3}, {9, 4, 5, 3}}},
                                       {"decoder_input", {{2, 4, 5, 6}, {2, 8, 9, 7}}},
                                       {"target", {{4, 5, 6, 3}, {8, 9, 7, 3}}}};

struct Batch {
  int64_t B = 0, Ts = 0, Tt = 0;
  std::vector<int32_t> source, decoder_input, target;
  std::vector<int64_t> lengths;
  std::vector<float> mask;
  std::vector<std::vector<int32_t>> rows;
  [[nodiscard]] Seq2SeqBatchView view() const {
    return {.batch = B,
            .source_steps = Ts,
            .target_steps = Tt,
            .source = source,
            .source_lengths = lengths,
            .decoder_input = decoder_input,
            .target = target,
            .target_mask = mask};
  }
};

Batch to_batch(const nlohmann::json& j) {
  Batch b;
  b.rows = j.at("source").get<std::vector<std::vector<int32_t>>>();
  const auto inputs = j.at("decoder_input").get<std::vector<std::vector<int32_t>>>();
  const auto targets = j.at("target").get<std::vector<std::vector<int32_t>>>();
  b.B = static_cast<int64_t>(b.rows.size());
  b.Ts = static_cast<int64_t>(b.rows[0].size());
  b.Tt = static_cast<int64_t>(inputs[0].size());
  b.source.assign(static_cast<size_t>(b.Ts * b.B), 1);
  for (int64_t r = 0; r < b.B; ++r) {
    const auto& row = b.rows[static_cast<size_t>(r)];
    b.lengths.push_back(static_cast<int64_t>(row.size()));
    for (size_t t = 0; t < row.size(); ++t)
      b.source[t * static_cast<size_t>(b.B) + static_cast<size_t>(r)] = row[t];
  }
  for (int64_t t = 0; t < b.Tt; ++t)
    for (int64_t r = 0; r < b.B; ++r) {
      b.decoder_input.push_back(inputs[static_cast<size_t>(r)][static_cast<size_t>(t)]);
      const int32_t y = targets[static_cast<size_t>(r)][static_cast<size_t>(t)];
      b.target.push_back(y);
      b.mask.push_back(y == 1 ? 0.0f : 1.0f);
    }
  return b;
}

// The numbers of a nested JSON list in row-major order.
void flatten_into(const nlohmann::json& j, std::vector<double>& out) {
  if (j.is_array())
    for (const auto& e : j) flatten_into(e, out);
  else
    out.push_back(j.get<double>());
}

void expect_close(double actual, double expected, const std::string& what) {
  EXPECT_NEAR(actual, expected, 2e-5 + 1e-4 * std::abs(expected)) << what;
}

// recur's outputs on `batch` against PyTorch's `torch_out` (logits, loss, greedy, attention).
void expect_same_as_torch(Seq2SeqModel& model, const nlohmann::json& batch_json,
                          const nlohmann::json& torch_out, const std::string& what) {
  const Batch b = to_batch(batch_json);
  Graph<float> g;
  NoGradGuard<float> no_grad(g);
  const Tensor<float> logits = g.to_tensor(model.logits(g, b.view(), nullptr, false));
  const auto expected = torch_out.at("logits").get<std::vector<std::vector<std::vector<double>>>>();
  const int64_t V = model.config().target_vocab_size;
  for (int64_t r = 0; r < b.B; ++r)
    for (int64_t t = 0; t < b.Tt; ++t)
      for (int64_t v = 0; v < V; ++v)
        expect_close(logits[(t * b.B + r) * V + v],
                     expected[static_cast<size_t>(r)][static_cast<size_t>(t)][static_cast<size_t>(v)],
                     what + fmt::format(" logits row {} t {} v {}", r, t, v));
  g.clear();
  expect_close(g.item(model.loss(g, b.view(), nullptr, false)), torch_out.at("loss").get<double>(),
               fmt::format("{} loss", what));

  // d2l's predict_step runs all steps; recur's search stops at <eos>: compare up to it.
  const auto greedy = torch_out.at("greedy").get<std::vector<std::vector<int32_t>>>();
  const auto out = translate(model, b.rows, 2, 3, {.max_steps = kGreedySteps, .keep_attention = true});
  for (size_t r = 0; r < b.rows.size(); ++r) {
    std::vector<int32_t> until_eos;
    bool finished = false;
    for (int32_t id : greedy[r]) {
      if (id == 3) {
        finished = true;
        break;
      }
      until_eos.push_back(id);
    }
    EXPECT_EQ(out[r].tokens, until_eos) << what << " greedy row " << r;
    EXPECT_EQ(out[r].finished, finished) << what << " greedy row " << r;
    if (torch_out.contains("attention_weights")) {
      const auto weights = torch_out.at("attention_weights")[r].get<std::vector<std::vector<double>>>();
      ASSERT_EQ(out[r].attention.size(), until_eos.size() + (finished ? 1 : 0)) << what;
      for (size_t step = 0; step < out[r].attention.size(); ++step)
        for (size_t s = 0; s < out[r].attention[step].size(); ++s)
          expect_close(out[r].attention[step][s], weights[step][s],
                       what + fmt::format(" attention row {} step {}", r, step));
    }
  }
}

nlohmann::json job(const char* action, const fs::path& dir, const Case& c, const nlohmann::json& batch,
                   bool packed) {
  nlohmann::json j = {{"action", action},
                      {"dir", dir.string()},
                      {"batch", batch},
                      {"packed", packed},
                      {"greedy_steps", kGreedySteps}};
  if (std::string(action) == "write") {
    j.update({{"cell", c.cell},
              {"layers", 2},
              {"hidden", 6},
              {"embed", 5},
              {"src_vocab", kSourceVocab},
              {"tgt_vocab", kTargetVocab},
              {"attention", c.attention},
              {"bidirectional", c.bidirectional},
              {"seed", 3},
              {"scale", 1.5}});
  }
  return j;
}
}  // namespace

TEST(TorchSeq2Seq, PyTorchModelsLoadAndAgree) {
  if (!has_torch()) GTEST_SKIP() << "python3-torch is not installed: PyTorch round trip not checked";
  nlohmann::json jobs = nlohmann::json::array();
  std::vector<fs::path> dirs;
  for (const Case& c : kCases) {
    dirs.push_back(test::make_temp_dir("torch-s2s-write"));
    jobs.push_back(job("write", dirs.back(), c, kBatch, true));
    jobs.push_back(job("run", dirs.back(), c, kUnpaddedBatch, false));  // d2l's exact code path
  }
  const nlohmann::json out = run_script(jobs);
  for (size_t i = 0; i < dirs.size(); ++i) {
    const std::string what = fmt::format("{} bidirectional={} attention={}", kCases[i].cell,
                                         kCases[i].bidirectional, kCases[i].attention);
    LoadedSeq2Seq loaded = load_seq2seq(dirs[i]);
    expect_same_as_torch(*loaded.model, kBatch, out[2 * i], fmt::format("{} (packed)", what));
    expect_same_as_torch(*loaded.model, kUnpaddedBatch, out[2 * i + 1],
                         fmt::format("{} (d2l's unpacked encoder)", what));
  }
}

TEST(TorchSeq2Seq, RecurModelsLoadInPyTorchWithTheSameGradients) {
  if (!has_torch()) GTEST_SKIP() << "python3-torch is not installed: PyTorch round trip not checked";
  nlohmann::json jobs = nlohmann::json::array();
  std::vector<std::unique_ptr<Seq2SeqModel>> models;
  std::vector<fs::path> dirs;
  for (const Case& c : kCases) {
    models.push_back(std::make_unique<Seq2SeqModel>(Seq2SeqConfig{.cell = parse_cell_type(c.cell),
                                                                  .num_layers = 2,
                                                                  .hidden_size = 6,
                                                                  .embedding_size = 5,
                                                                  .bidirectional = c.bidirectional,
                                                                  .attention = parse_attention(c.attention),
                                                                  .source_vocab_size = kSourceVocab,
                                                                  .target_vocab_size = kTargetVocab}));
    Rng rng(static_cast<uint64_t>(dirs.size()) + 1);
    models.back()->reset_parameters(rng);
    std::vector<std::string> source{"<unk>", "<pad>", "<bos>", "<eos>"}, target = source;
    for (int i = 4; i < kSourceVocab; ++i) source.push_back(fmt::format("s{}", i));
    for (int i = 4; i < kTargetVocab; ++i) target.push_back(fmt::format("t{}", i));
    dirs.push_back(test::make_temp_dir("torch-s2s-read"));
    save_seq2seq_files(
        dirs.back(), *models.back(),
        {.source = Vocab::from_tokens(source), .target = Vocab::from_tokens(target), .steps = 9});
    jobs.push_back(job("run", dirs.back(), c, kBatch, true));
    jobs.push_back(job("grad", dirs.back(), c, kBatch, true));
  }
  const nlohmann::json out = run_script(jobs);
  for (size_t i = 0; i < dirs.size(); ++i) {
    const std::string what = fmt::format("{} bidirectional={} attention={}", kCases[i].cell,
                                         kCases[i].bidirectional, kCases[i].attention);
    Seq2SeqModel& model = *models[i];
    expect_same_as_torch(model, kBatch, out[2 * i], what);
    // Every parameter's gradient of the masked loss.
    const Batch b = to_batch(kBatch);
    Graph<float> g;
    auto& params = model.parameters();
    params.zero_grads();
    g.backward(model.loss(g, b.view(), nullptr, true));
    const nlohmann::json& grads = out[2 * i + 1].at("grads");
    ASSERT_EQ(grads.size(), static_cast<size_t>(params.size())) << what;
    for (int p = 0; p < params.size(); ++p) {
      const auto& slot = params.slot(p);
      ASSERT_TRUE(grads.contains(slot.name)) << what << " " << slot.name;
      std::vector<double> expected;
      flatten_into(grads.at(slot.name), expected);
      const auto actual = params.grad(p).span();
      ASSERT_EQ(expected.size(), actual.size()) << slot.name;
      for (size_t k = 0; k < expected.size(); ++k)
        expect_close(actual[k], expected[k], fmt::format("{} d{}[{}]", what, slot.name, k));
    }
  }
}
