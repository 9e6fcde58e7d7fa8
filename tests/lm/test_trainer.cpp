// Language-model training: learning happens, resuming is exact, bad values and NaN stop cleanly.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <fstream>

#include "recur/error.h"
#include "recur/io/atomic_file.h"
#include "recur/lm/checkpoint.h"
#include "recur/lm/corpus.h"
#include "recur/lm/evaluate.h"
#include "recur/lm/trainer.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {
// A small repetitive text a GRU learns within seconds.
std::vector<int32_t> toy_ids(int n, int vocab) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>((i * 7 + i / 3) % vocab));
  return ids;
}

ModelTextConfig toy_text(int vocab) {
  ModelTextConfig t;
  t.vocab.push_back("<unk>");
  for (int i = 1; i < vocab; ++i) t.vocab.push_back(std::string(1, static_cast<char>('a' + i)));
  return t;
}

LanguageModelConfig toy_config(CellType cell, int vocab) {
  return {.cell = cell, .num_layers = 1, .hidden_size = 16, .embedding_size = 0, .dropout = 0, .vocab_size = vocab};
}

TrainOptions toy_options(const fs::path& out) {
  return {.batch = 4, .steps = 8, .optimizer = "adam", .lr = 0.01, .clip = 1.0, .epochs = 3, .seed = 5, .out_dir = out};
}

struct RunResult {
  std::vector<float> weights;
  TrainSummary summary;
};

RunResult train_fresh(const TrainOptions& o, CellType cell, std::atomic<bool>* stop_after_step = nullptr,
                      int64_t stop_step = -1, bool resume = false) {
  const int V = 9;
  LanguageModel model(toy_config(cell, V));
  Rng rng(o.seed);
  model.reset_parameters(rng);
  Trainer trainer(model, toy_text(V), {toy_ids(600, V), toy_ids(120, V)}, o);
  if (resume) trainer.resume();
  TrainCallbacks cb;
  if (stop_after_step)
    cb.on_step = [&](const TrainProgress& p) {
      if (p.step == stop_step) stop_after_step->store(true);
    };
  TrainSummary summary = trainer.run(stop_after_step, cb);
  auto v = model.parameters().values();
  return {{v.begin(), v.end()}, summary};
}
}  // namespace

TEST(Trainer, LossFallsOnALearnableSequence) {
  auto out = test::make_temp_dir("trainer");
  const int V = 9;
  LanguageModel model(toy_config(CellType::kGru, V));
  Rng rng(1);
  model.reset_parameters(rng);
  auto o = toy_options(out);
  o.epochs = 6;
  Trainer trainer(model, toy_text(V), {toy_ids(600, V), toy_ids(120, V)}, o);
  TrainSummary s = trainer.run();
  ASSERT_EQ(s.history.size(), 6u);
  EXPECT_LT(s.history.back().valid_perplexity, 0.5 * s.history.front().valid_perplexity);
  EXPECT_TRUE(fs::exists(out / "checkpoint" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(out / "best" / "config.json"));
  EXPECT_TRUE(fs::exists(out / "perplexity.svg"));
  const std::string csv = read_file(out / "metrics.csv");
  EXPECT_EQ(csv.rfind("epoch,step,train_perplexity,valid_perplexity,tokens_per_s,lr,grad_norm\n", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 7);
}

// An interrupted run, resumed, ends with exactly the weights of an uninterrupted one.
TEST(Trainer, ResumeMidEpochGivesIdenticalWeights) {
  for (CellType cell : {CellType::kGru, CellType::kLstm}) {
    auto a = test::make_temp_dir("resume-a");
    auto b = test::make_temp_dir("resume-b");
    const auto uninterrupted = train_fresh(toy_options(a), cell).weights;
    std::atomic<bool> stop{false};
    const auto interrupted = train_fresh(toy_options(b), cell, &stop, 23);  // mid-epoch 2
    ASSERT_EQ(interrupted.summary.reason, StopReason::kInterrupted);
    ASSERT_NE(interrupted.weights, uninterrupted);
    ASSERT_TRUE(fs::exists(b / "checkpoint" / "train_state.json"));
    const auto resumed_run = train_fresh(toy_options(b), cell, nullptr, -1, true);
    EXPECT_EQ(resumed_run.summary.reason, StopReason::kFinished);
    EXPECT_EQ(resumed_run.summary.history.size(), 3u);
    const auto& resumed = resumed_run.weights;
    ASSERT_EQ(uninterrupted.size(), resumed.size());
    for (size_t i = 0; i < resumed.size(); ++i) ASSERT_EQ(uninterrupted[i], resumed[i]) << "parameter " << i;
  }
}

TEST(Trainer, ResumeRefusesADifferentVocabulary) {
  auto out = test::make_temp_dir("resume-vocab");
  train_fresh(toy_options(out), CellType::kGru);
  const int V = 9;
  LanguageModel model(toy_config(CellType::kGru, V));
  auto text = toy_text(V);
  text.vocab[3] = "Z";
  Trainer trainer(model, text, {toy_ids(600, V), {}}, toy_options(out));
  EXPECT_THROW(trainer.resume(), ValueError);
}

TEST(Trainer, NonFiniteLossStopsAndKeepsTheLastCheckpoint) {
  auto out = test::make_temp_dir("nan");
  train_fresh(toy_options(out), CellType::kGru);
  const std::string before = read_file(out / "checkpoint" / "model.safetensors");
  const int V = 9;
  LanguageModel model(toy_config(CellType::kGru, V));
  Rng rng(1);
  model.reset_parameters(rng);
  auto w = model.parameters().value("head.bias");
  w[0] = std::numeric_limits<float>::quiet_NaN();
  auto o = toy_options(out);
  Trainer trainer(model, toy_text(V), {toy_ids(600, V), toy_ids(120, V)}, o);
  try {
    trainer.run();
    FAIL() << "expected NumericError";
  } catch (const NumericError& e) {
    EXPECT_NE(std::string(e.what()).find("epoch 1, step 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(out / "checkpoint" / "model.safetensors"), before);
}

TEST(Trainer, RejectsBadOptions) {
  const auto out = test::make_temp_dir("bad");
  auto o = toy_options(out);
  o.steps = 0;
  EXPECT_THROW(validate(o), ValueError);
  o = toy_options(out);
  o.batch = 0;
  EXPECT_THROW(validate(o), ValueError);
  o = toy_options(out);
  o.lr = -1;
  try {
    validate(o);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("--lr"), std::string::npos);
  }
}

TEST(Evaluate, StreamMatchesTokenByTokenScoring) {
  const int V = 9;
  LanguageModel model(toy_config(CellType::kLstm, V));
  Rng rng(3);
  model.reset_parameters(rng);
  auto ids = toy_ids(50, V);
  // Chunking must not change the figure: the state carries across chunks.
  const double whole = evaluate_stream(model, ids, 1, 1000).nll_sum;
  const double chunked = evaluate_stream(model, ids, 1, 7).nll_sum;
  const double single = evaluate_stream(model, ids, 1, 1).nll_sum;
  EXPECT_NEAR(whole, chunked, 1e-4 * std::abs(whole));
  EXPECT_NEAR(whole, single, 1e-4 * std::abs(whole));
  EXPECT_EQ(evaluate_stream(model, ids, 1, 7).predicted, 49);
}

TEST(Generate, GreedyIsDeterministicAndSeededSamplingRepeats) {
  const int V = 9;
  LanguageModel model(toy_config(CellType::kGru, V));
  Rng init(2);
  model.reset_parameters(init);
  std::vector<int32_t> prefix{1, 2, 3};
  Rng r1(9), r2(9), r3(1);
  auto g1 = generate_tokens(model, prefix, 30, {.greedy = true}, r1);
  auto g2 = generate_tokens(model, prefix, 30, {.greedy = true}, r3);
  EXPECT_EQ(g1, g2);
  Rng s1(9), s2(9);
  EXPECT_EQ(generate_tokens(model, prefix, 30, {}, s1), generate_tokens(model, prefix, 30, {}, s2));
}
