// Language-model training: learning happens, resuming is exact, bad values and NaN stop cleanly.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <fstream>

#include "recur/autograd/ops.h"
#include "recur/core/error.h"
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

ModelTextConfig toy_text(int vocab, char third = 'd') {
  std::vector<std::string> tokens{"<unk>"};
  for (int i = 1; i < vocab; ++i)
    tokens.push_back(std::string(1, i == 3 ? third : static_cast<char>('a' + i)));
  return {.encoding = {}, .vocab = Vocab::from_tokens(std::move(tokens))};
}

LanguageModelConfig toy_config(CellType cell, int vocab) {
  return {.cell = cell,
          .num_layers = 1,
          .hidden_size = 16,
          .embedding_size = 0,
          .dropout = 0,
          .vocab_size = vocab};
}

TrainOptions toy_options(const fs::path& out) {
  return {.batch = 4,
          .steps = 8,
          .optimizer = OptimizerKind::kAdam,
          .lr = 0.01,
          .clip = 1.0,
          .epochs = 3,
          .seed = 5,
          .out_dir = out};
}

// A toy-sized model initialized from `seed`.
struct ToyModel {
  ToyModel(CellType cell, uint64_t seed) : model(toy_config(cell, 9)) {
    Rng rng(seed);
    model.reset_parameters(rng);
  }
  LanguageModel model;
};

// Trains a GRU initialized from `seed` on the toy text, validating on `valid`.
TrainSummary train_toy(const TrainOptions& o, uint64_t seed, std::vector<int32_t> valid = toy_ids(120, 9)) {
  ToyModel toy(CellType::kGru, seed);
  Trainer trainer(toy.model, toy_text(9), {toy_ids(600, 9), std::move(valid)}, o);
  return trainer.run();
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
  auto o = toy_options(out);
  o.epochs = 6;
  const TrainSummary s = train_toy(o, 1);
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

// A time budget that runs out inside an epoch, twice in a row, leaves one history row for that
// epoch (replaced when the epoch goes on), a loadable checkpoint, and the weights of a run never
// stopped.
TEST(Trainer, TimeBudgetStopsInsideOneEpochKeepOneRowEach) {
  auto a = test::make_temp_dir("budget-a");
  auto b = test::make_temp_dir("budget-b");
  const auto uninterrupted = train_fresh(toy_options(a), CellType::kGru).weights;
  auto budgeted = toy_options(b);
  budgeted.time_budget_s = 1e-9;  // stops after the first step of each session
  const auto first = train_fresh(budgeted, CellType::kGru);
  ASSERT_EQ(first.summary.reason, StopReason::kTimeBudget);
  ASSERT_EQ(first.summary.history.size(), 1u);
  EXPECT_EQ(first.summary.history[0].step, 1);
  const auto second = train_fresh(budgeted, CellType::kGru, nullptr, -1, true);
  ASSERT_EQ(second.summary.reason, StopReason::kTimeBudget);
  ASSERT_EQ(second.summary.history.size(), 1u);
  EXPECT_EQ(second.summary.history[0].epoch, 1);
  EXPECT_EQ(second.summary.history[0].step, 2);
  const std::string csv = read_file(b / "metrics.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2);  // header and epoch 1 so far
  const auto rest = train_fresh(toy_options(b), CellType::kGru, nullptr, -1, true);
  EXPECT_EQ(rest.summary.reason, StopReason::kFinished);
  ASSERT_EQ(rest.summary.history.size(), 3u);
  for (int64_t e = 0; e < 3; ++e) EXPECT_EQ(rest.summary.history[static_cast<size_t>(e)].epoch, e + 1);
  ASSERT_EQ(rest.weights.size(), uninterrupted.size());
  for (size_t i = 0; i < rest.weights.size(); ++i)
    ASSERT_EQ(rest.weights[i], uninterrupted[i]) << "parameter " << i;
}

TEST(Trainer, ResumeRefusesADifferentVocabulary) {
  auto out = test::make_temp_dir("resume-vocab");
  train_fresh(toy_options(out), CellType::kGru);
  const int V = 9;
  LanguageModel model(toy_config(CellType::kGru, V));
  const auto text = toy_text(V, 'Z');
  Trainer trainer(model, text, {toy_ids(600, V), {}}, toy_options(out));
  EXPECT_THROW(trainer.resume(), ValueError);
}

TEST(Trainer, NonFiniteLossStopsAndKeepsTheLastCheckpoint) {
  auto out = test::make_temp_dir("nan");
  train_fresh(toy_options(out), CellType::kGru);
  const std::string before = read_file(out / "checkpoint" / "model.safetensors");
  const int V = 9;
  ToyModel toy(CellType::kGru, 1);
  LanguageModel& model = toy.model;
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
    EXPECT_NE(std::string(e.what()).find("lr must be positive"), std::string::npos) << e.what();
  }
}

TEST(Evaluate, StreamMatchesTokenByTokenScoring) {
  const int V = 9;
  LanguageModel model(toy_config(CellType::kLstm, V));
  Rng rng(3);
  model.reset_parameters(rng);
  auto ids = toy_ids(50, V);
  // Chunking must not change the figure: the state carries across chunks.
  const double whole = evaluate_stream(model, ids, 1, 1000, {}).nll_sum;
  const double chunked = evaluate_stream(model, ids, 1, 7, {}).nll_sum;
  const double single = evaluate_stream(model, ids, 1, 1, {}).nll_sum;
  EXPECT_NEAR(whole, chunked, 1e-4 * std::abs(whole));
  EXPECT_NEAR(whole, single, 1e-4 * std::abs(whole));
  EXPECT_EQ(evaluate_stream(model, ids, 1, 7, {}).predicted, 49);
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

// Randomized truncation: with every carry scale 1 the step-by-step path is full BPTT, so logits and
// gradients equal the fused sequence's; scales of 0 cut the carried gradient and change them.
TEST(RandomizedTruncation, UnitScalesReproduceFullBackpropagation) {
  for (CellType cell : {CellType::kGru, CellType::kLstm}) {
    const int V = 9;
    const int64_t T = 6, B = 3;
    LanguageModel model(
        {.cell = cell, .num_layers = 2, .hidden_size = 5, .embedding_size = 4, .vocab_size = V});
    Rng rng(4);
    model.reset_parameters(rng);
    const auto ids = toy_ids(static_cast<int>(T * B), V);
    std::vector<int32_t> targets(ids.rbegin(), ids.rend());
    auto grads_with = [&](std::span<const float> scales, std::vector<float>& logits_out) {
      Graph<float> g;
      RecurrentState state = model.zero_state(B);
      model.parameters().zero_grads();
      Var logits = model.forward(g, ids, T, B, state, nullptr, true, scales);
      g.backward(softmax_cross_entropy(g, logits, std::span<const int32_t>(targets)));
      logits_out.assign(g.value(logits), g.value(logits) + T * B * V);
      auto gr = model.parameters().grads();
      return std::vector<float>(gr.begin(), gr.end());
    };
    std::vector<float> logits_fused, logits_steps, logits_cut;
    const auto fused = grads_with({}, logits_fused);
    const std::vector<float> ones(T, 1.0f), zeros(T, 0.0f);
    const auto steps = grads_with(ones, logits_steps);
    const auto cut = grads_with(zeros, logits_cut);
    for (size_t i = 0; i < logits_fused.size(); ++i) ASSERT_NEAR(logits_steps[i], logits_fused[i], 1e-5);
    double diff = 0;
    for (size_t i = 0; i < fused.size(); ++i) {
      ASSERT_NEAR(steps[i], fused[i], 1e-5 * std::max(1.0f, std::abs(fused[i]))) << "gradient " << i;
      diff = std::max(diff, static_cast<double>(std::abs(cut[i] - fused[i])));
    }
    EXPECT_GT(diff, 1e-4);  // cutting every step changes the recurrent weights' gradient
  }
}

TEST(RandomizedTruncation, ScaleGradientPassesAScaledGradient) {
  Graph<double> g;
  Var a = g.input(Tensor<double>({3}, {1.0, -2.0, 3.0}), true);
  Var b = scale_gradient(g, a, 0.25);
  EXPECT_EQ(g.to_tensor(b)[1], -2.0);
  g.backward(sum(g, mul(g, b, g.input(Tensor<double>({3}, {1.0, 2.0, 4.0})))));
  EXPECT_EQ(g.grad_tensor(a)[2], 1.0);
}

TEST(RandomizedTruncation, TrainingWithItLearns) {
  auto o = toy_options(test::make_temp_dir("randtrunc"));
  o.epochs = 6;
  o.truncation_keep = 0.5;
  const TrainSummary s = train_toy(o, 1);
  EXPECT_LT(s.history.back().valid_perplexity, 0.7 * s.history.front().valid_perplexity);
  o.truncation_keep = 0;
  EXPECT_THROW(validate(o), ValueError);
}

const TextEncoding kWords{.level = TokenLevel::word, .mode = PreprocessMode::raw};

// PyTorch's word_language_model counts one <eos> per line, blank lines included: WikiText-2's
// published token counts (README of the shared data) follow from that.
TEST(LmCorpus, WikiTextTokenCountsMatchThePublishedOnes) {
  const auto dir = test::shared_data_dir() / "wikitext-2";
  if (!fs::exists(dir / "valid.txt")) GTEST_SKIP() << "no " << dir;
  EXPECT_EQ(load_lm_corpus(dir / "valid.txt", kWords).ids.size(), 217646u);
  EXPECT_EQ(load_lm_corpus(dir / "test.txt", kWords).ids.size(), 245569u);
}

TEST(LmCorpus, WordPromptsStayOpenCorporaCloseEveryLine) {
  const Vocab table = Vocab::from_tokens({"<unk>", "the", "time", "<eos>"});
  const TextEncoding words = kWords;
  EXPECT_EQ(encode_text("the time", words, table).ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(encode_prompt("the time", words, table).ids, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(encode_prompt("the time\n", words, table).ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(encode_text("the\n\ntime\n", words, table).ids, (std::vector<int32_t>{1, 3, 3, 2, 3}));
  const auto unk = encode_text("the zebra", words, table);
  EXPECT_EQ(unk.unknown_count, 1);
  EXPECT_EQ(unk.ids[1], 0);
}

TEST(Trainer, PatienceStopsWhenValidationStopsImproving) {
  // Validation text unlike the training text: after a few epochs the model only gets worse on it.
  auto o = toy_options(test::make_temp_dir("trainer-patience"));
  o.epochs = 60;
  o.lr = 0.05;
  o.patience = 3;
  std::vector<int32_t> valid;
  for (int i = 0; i < 120; ++i) valid.push_back(static_cast<int32_t>((i * i + 5 * i) % 9));
  const TrainSummary s = train_toy(o, 2, valid);
  ASSERT_EQ(s.reason, StopReason::kNoImprovement) << "ran all " << s.history.size() << " epochs";
  ASSERT_GT(s.history.size(), 3u);
  EXPECT_LT(s.history.size(), 60u);
  // The best epoch is exactly `patience` epochs before the last, and none after it beat it.
  const size_t best = static_cast<size_t>(
      std::min_element(s.history.begin(), s.history.end(),
                       [](auto& a, auto& b) { return a.valid_perplexity < b.valid_perplexity; }) -
      s.history.begin());
  EXPECT_EQ(best, s.history.size() - 1 - 3);
  EXPECT_EQ(s.best_valid_perplexity, s.history[best].valid_perplexity);
}

TEST(Trainer, PatienceNeedsValidationData) {
  auto out = test::make_temp_dir("trainer-patience-novalid");
  LanguageModel model(toy_config(CellType::kGru, 9));
  auto o = toy_options(out);
  o.patience = 2;
  EXPECT_THROW(Trainer(model, toy_text(9), {toy_ids(600, 9), {}}, o), ValueError);
  o.patience = -1;
  EXPECT_THROW(validate(o), ValueError);
}

// The per-epoch schedules come from LrSchedule: step multiplies by gamma each epoch, cosine falls to 0.
TEST(Trainer, LearningRateFollowsTheEpochSchedule) {
  auto out = test::make_temp_dir("trainer-schedule");
  auto o = toy_options(out);
  o.lr_schedule = LrScheduleKind::kStep;
  o.lr_gamma = 0.5;
  const auto history = train_fresh(o, CellType::kGru).summary.history;
  ASSERT_EQ(history.size(), 3u);
  EXPECT_DOUBLE_EQ(history[0].lr, 0.01);
  EXPECT_DOUBLE_EQ(history[2].lr, 0.0025);
  o.lr_schedule = LrScheduleKind::kCosine;
  const LrSchedule cosine = epoch_lr_schedule(o);
  EXPECT_DOUBLE_EQ(cosine.lr_at(0), 0.01);
  EXPECT_NEAR(cosine.lr_at(1), 0.01 * 0.5 * (1 + std::cos(M_PI / 3)), 1e-15);
}
