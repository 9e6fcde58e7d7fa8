// Data-parallel training (recur/lm/process_group.h) without MPI: two "processes" as two threads that
// sum through shared memory train one model as one process with the whole batch does.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <cmath>
#include <functional>
#include <thread>

#include "expect_error.h"
#include "recur/io/safetensors.h"
#include "recur/lm/corpus.h"
#include "recur/lm/process_group.h"
#include "recur/lm/trainer.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {

// Ranks as threads: all_reduce_sum publishes each rank's buffer, then every rank adds them all up
// in rank order (so each gets the same bits, as MPI promises) into its own.
class ThreadGroup {
 public:
  explicit ThreadGroup(int size) : sync_(size), buffers_(static_cast<size_t>(size)) {}

  class Rank final : public ProcessGroup {
   public:
    Rank(ThreadGroup& group, int rank) : group_(group), rank_(rank) {}
    [[nodiscard]] int rank() const override { return rank_; }
    [[nodiscard]] int size() const override { return static_cast<int>(group_.buffers_.size()); }
    void all_reduce_sum(std::span<float> values) override { group_.sum(rank_, values); }
    void all_reduce_sum(std::span<double> values) override { group_.sum(rank_, values); }

   private:
    ThreadGroup& group_;
    int rank_;
  };

 private:
  template <typename T>
  void sum(int rank, std::span<T> values) {
    buffers_[static_cast<size_t>(rank)] = values.data();
    sync_.arrive_and_wait();
    std::vector<T> total(values.size(), T(0));
    for (const void* buffer : buffers_)
      for (size_t i = 0; i < total.size(); ++i) total[i] += static_cast<const T*>(buffer)[i];
    sync_.arrive_and_wait();  // everyone has read every buffer
    std::copy(total.begin(), total.end(), values.begin());
  }

  std::barrier<> sync_;
  std::vector<const void*> buffers_;
};

// Random, not periodic: no two rows of a batch may hold the same text (a process given another
// one's rows must be told apart).
std::vector<int32_t> toy_ids(int n, int vocab) {
  Rng rng(static_cast<uint64_t>(n));
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab))));
  return ids;
}

ModelTextConfig toy_text(int vocab) {
  std::vector<std::string> tokens{"<unk>"};
  for (int i = 1; i < vocab; ++i) tokens.push_back(std::string(1, static_cast<char>('a' + i)));
  return {.encoding = {}, .vocab = Vocab::from_tokens(std::move(tokens))};
}

constexpr int kVocab = 9;

TrainOptions toy_options(const fs::path& out, int64_t batch, Partition partition) {
  return {.batch = batch,
          .steps = 6,
          .partition = partition,
          .optimizer = OptimizerKind::kAdam,
          .lr = 0.01,
          .clip = 0.5,  // small enough to clip: clipping must use the norm of the summed gradient
          .epochs = 2,
          .seed = 3,
          .out_dir = out};
}

struct Trained {
  std::vector<float> weights;
  TrainSummary summary;
};

// One rank's training (group null: a lone process); `resume` continues from out_dir's checkpoint;
// `stop_step` > 0 interrupts after that step (as Ctrl-C does), with a checkpoint.
Trained train_rank(const TrainOptions& o, CellType cell, ProcessGroup* group, bool resume = false,
                   int64_t stop_step = 0) {
  LanguageModel model({.cell = cell, .hidden_size = 12, .vocab_size = kVocab});
  Rng rng(11);
  model.reset_parameters(rng);
  Trainer trainer(model, toy_text(kVocab), {toy_ids(500, kVocab), toy_ids(100, kVocab)}, o, group);
  if (resume) trainer.resume();
  std::atomic<bool> stop{false};
  TrainCallbacks callbacks;
  if (stop_step > 0) callbacks.on_step = [&](const TrainProgress& p) { stop = stop || p.step == stop_step; };
  TrainSummary summary = trainer.run(&stop, callbacks);
  const auto w = model.parameters().values();
  return {std::vector<float>(w.begin(), w.end()), std::move(summary)};
}

// Every rank's result, each trained on its own thread.
std::vector<Trained> train_ranks(int size, const TrainOptions& o, CellType cell, bool resume = false,
                                 int64_t stop_step = 0) {
  ThreadGroup group(size);
  std::vector<Trained> results(static_cast<size_t>(size));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r)
    threads.emplace_back([&, r] {
      try {
        ThreadGroup::Rank rank(group, r);
        results[static_cast<size_t>(r)] = train_rank(o, cell, &rank, resume, stop_step);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return results;
}

// Float sums in another order: |a - b| <= 1e-4 (1 + |b|), reporting the first index that differs.
void expect_close_weights(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_LE(std::abs(a[i] - b[i]), 1e-4 * (1 + std::abs(b[i]))) << "weight " << i;
}

void expect_same_history(const TrainSummary& a, const TrainSummary& b) {
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t e = 0; e < a.history.size(); ++e) {
    EXPECT_NEAR(a.history[e].train_perplexity, b.history[e].train_perplexity,
                1e-5 * b.history[e].train_perplexity)
        << "epoch " << e + 1;
    EXPECT_NEAR(a.history[e].valid_perplexity, b.history[e].valid_perplexity,
                1e-5 * b.history[e].valid_perplexity)
        << "epoch " << e + 1;
    EXPECT_NEAR(a.history[e].grad_norm, b.history[e].grad_norm, 1e-4 * b.history[e].grad_norm);
  }
}

struct Case {
  CellType cell;
  Partition partition;
  int64_t batch;  // 5 over 2 ranks: 3 and 2 rows, the loss weighted by each one's tokens
};

}  // namespace

TEST(RowShare, ContiguousInRankOrderFirstRanksTakeTheRemainder) {
  EXPECT_EQ(row_share(5, 0, 2).begin, 0);
  EXPECT_EQ(row_share(5, 0, 2).end, 3);
  EXPECT_EQ(row_share(5, 1, 2).begin, 3);
  EXPECT_EQ(row_share(5, 1, 2).end, 5);
  EXPECT_EQ(row_share(7, 2, 3).begin, 5);
  EXPECT_EQ(row_share(7, 2, 3).rows(), 2);
  EXPECT_EQ(row_share(4, 0, 1).rows(), 4);
  test::expect_error_words<ValueError>([] { (void)row_share(2, 0, 3); }, {"batch of 2", "3 processes"});
  test::expect_error_words<ValueError>([] { (void)row_share(4, 2, 2); }, {"rank", "[0, 2)", "2"});
}

TEST(DataParallel, TwoRanksTrainAsOneProcessWithTheWholeBatch) {
  for (const Case c :
       {Case{CellType::kGru, Partition::kSequential, 4}, Case{CellType::kLstm, Partition::kRandom, 5},
        Case{CellType::kRnnTanh, Partition::kSequential, 5}}) {
    SCOPED_TRACE(fmt::format("cell {} partition {} batch {}", cell_name(c.cell), partition_name(c.partition),
                             c.batch));
    const Trained one =
        train_rank(toy_options(test::make_temp_dir("dp_one"), c.batch, c.partition), c.cell, nullptr);
    const auto two = train_ranks(2, toy_options(test::make_temp_dir("dp_two"), c.batch, c.partition), c.cell);
    EXPECT_EQ(two[0].weights, two[1].weights);  // the same sums, the same steps: the same bits
    expect_close_weights(two[0].weights, one.weights);
    expect_same_history(two[0].summary, one.summary);
    expect_same_history(two[1].summary, one.summary);
  }
}

TEST(DataParallel, ACheckpointOfTwoRanksResumesOnOneAndTheReverse) {
  // The checkpoint holds the whole batch's carried state, whatever the number of processes:
  // interrupted in the middle of the first epoch (state carried), resumed on the other count.
  const Case c{CellType::kLstm, Partition::kSequential, 5};
  const Trained whole =
      train_rank(toy_options(test::make_temp_dir("dp_whole"), c.batch, c.partition), c.cell, nullptr);
  constexpr int64_t kStopStep = 7;  // of 16 in the first epoch
  for (const int first : {2, 1}) {
    SCOPED_TRACE(fmt::format("{} steps on {} process(es), the rest on {}", kStopStep, first, 3 - first));
    const TrainOptions o = toy_options(test::make_temp_dir("dp_resume"), c.batch, c.partition);
    if (first == 2) {
      const auto stopped = train_ranks(2, o, c.cell, false, kStopStep);
      ASSERT_EQ(stopped[0].summary.reason, StopReason::kInterrupted);
      ASSERT_EQ(stopped[1].summary.reason, StopReason::kInterrupted);
    } else {
      ASSERT_EQ(train_rank(o, c.cell, nullptr, false, kStopStep).summary.reason, StopReason::kInterrupted);
    }
    const Trained resumed =
        first == 2 ? train_rank(o, c.cell, nullptr, true) : train_ranks(2, o, c.cell, true)[0];
    expect_close_weights(resumed.weights, whole.weights);
  }
}

namespace {
// The carried state a run's checkpoint holds ("state.h", then "state.c"), flat.
std::vector<float> saved_state(const fs::path& run) {
  std::vector<float> values;
  for (const NamedTensor& t : load_safetensors(run / "checkpoint" / "train_state.safetensors"))
    if (t.name.rfind("state.", 0) == 0)
      values.insert(values.end(), t.tensor.span().begin(), t.tensor.span().end());
  return values;
}
}  // namespace

TEST(DataParallel, TheCheckpointHoldsTheWholeBatchsStateEachProcessTakesItsRows) {
  const Case c{CellType::kLstm, Partition::kSequential, 5};
  const fs::path one = test::make_temp_dir("dp_state_one"), two = test::make_temp_dir("dp_state_two");
  (void)train_rank(toy_options(one, c.batch, c.partition), c.cell, nullptr, false, 7);
  (void)train_ranks(2, toy_options(two, c.batch, c.partition), c.cell, false, 7);
  const std::vector<float> state = saved_state(one);
  ASSERT_EQ(state.size(), 2u * 5 * 12);  // h and c, [1 layer, 5 rows, 12]
  EXPECT_NE(state[4 * 12], 0.0f);        // the last row's state is carried, not zero
  expect_close_weights(saved_state(two), state);
  // One more step from the lone process's checkpoint, on one process and on two.
  fs::remove_all(two);
  fs::copy(one, two, fs::copy_options::recursive);
  (void)train_rank(toy_options(one, c.batch, c.partition), c.cell, nullptr, true, 8);
  (void)train_ranks(2, toy_options(two, c.batch, c.partition), c.cell, true, 8);
  expect_close_weights(saved_state(two), saved_state(one));
}

TEST(DataParallel, OnlyRankZeroWritesTheRunFolder) {
  const fs::path out = test::make_temp_dir("dp_files");
  (void)train_ranks(2, toy_options(out, 4, Partition::kSequential), CellType::kGru);
  EXPECT_TRUE(fs::exists(out / "checkpoint" / "train_state.json"));
  EXPECT_TRUE(fs::exists(out / "metrics.csv"));
  EXPECT_TRUE(fs::exists(out / "best" / "config.json"));
}

TEST(DataParallel, ABatchSmallerThanTheGroupIsRefusedByName) {
  // A group of 3 over a batch of 2: each process needs a row.
  class Three final : public ProcessGroup {
   public:
    [[nodiscard]] int rank() const override { return 0; }
    [[nodiscard]] int size() const override { return 3; }
    void all_reduce_sum(std::span<float>) override {}
    void all_reduce_sum(std::span<double>) override {}
  } three;
  LanguageModel model({.cell = CellType::kGru, .hidden_size = 4, .vocab_size = kVocab});
  test::expect_error_words<OptionError>(
      [&] {
        Trainer t(model, toy_text(kVocab), {toy_ids(200, kVocab), {}},
                  toy_options(test::make_temp_dir("dp_small"), 2, Partition::kSequential), &three);
      },
      {"batch", "processes (3)", "got 2"});
}
