// The fused layers split a large batch into row blocks run on separate threads (nn/sequence.h,
// for_row_blocks): with 2 threads every output and gradient must match the one-thread run, for
// every cell, both directions, with h0/c0 and an odd batch split unevenly. Layers whose W_hh is
// too large for a core's cache split the recurrent products by columns instead (use_column_split,
// step_team.h), with the same contract. Without an initial state (or with one that wants no
// gradient) the first step's recurrent products are skipped: the same numbers as explicit zeros.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "recur/autograd/ops.h"
#include "recur/nn/rnn.h"

namespace recur {
namespace {

// How the initial states h0 (and c0) arrive.
enum class Initial {
  kRandom,       // random values, gradient wanted
  kZeros,        // explicit zeros, gradient wanted (every product runs)
  kZerosNoGrad,  // explicit zeros, no gradient: the last backward step's dh product is skipped
  kAbsent,       // none: the first step's products are skipped as well
};

struct LayerRun {
  std::vector<float> output, h_n, grads, dx, dh0;
};

// T*B*G*H*H >= 2^22: split (row_block_count).
LayerRun run_once(CellType cell, int threads, int64_t T = 10, int64_t H = 160,
                  Initial initial = Initial::kRandom) {
  const int64_t B = 19, I = 7;
  ParameterStore<float> store;
  Rnn<float> rnn(store,
                 {.cell = cell, .input_size = I, .hidden_size = H, .num_layers = 2, .bidirectional = true});
  Rng rng(21);
  rnn.reset_parameters(rng);
  Tensor<float> x(Shape{T, B, I}), h0(Shape{4, B, H}), c0(Shape{4, B, H});
  for (float& v : x.span()) v = static_cast<float>(rng.uniform(-1, 1));
  for (float& v : h0.span())
    v = initial == Initial::kRandom ? static_cast<float>(rng.uniform(-0.5, 0.5)) : 0.0f;
  for (float& v : c0.span())
    v = initial == Initial::kRandom ? static_cast<float>(rng.uniform(-0.5, 0.5)) : 0.0f;
  {
    // A first forward leaves its numbers in the layer's reused buffers, which a skipped product
    // must not read.
    Graph<float> warm(ComputeContext{.threads = threads});
    rnn.forward(warm, warm.input(x), std::nullopt, std::nullopt, nullptr, true);
  }
  Graph<float> g(ComputeContext{.threads = threads});
  Var xv = g.input(x, true);
  std::optional<Var> h0v, c0v;
  const bool state_grad = initial == Initial::kRandom || initial == Initial::kZeros;
  if (initial != Initial::kAbsent) {
    h0v = g.input(h0, state_grad);
    if (cell == CellType::kLstm) c0v = g.input(c0, state_grad);
  }
  store.zero_grads();
  RnnOutputs out = rnn.forward(g, xv, h0v, c0v, nullptr, true);
  // A loss that weighs every output element differently.
  Tensor<float> w(g.shape(out.output));
  for (float& v : w.span()) v = static_cast<float>(rng.uniform(-1, 1));
  g.backward(sum(g, mul(g, out.output, g.input(w))));
  auto copy = [](std::span<const float> s) { return std::vector<float>(s.begin(), s.end()); };
  LayerRun r;
  r.output = copy(g.to_tensor(out.output).span());
  r.h_n = copy(g.to_tensor(out.h_n).span());
  r.grads = copy(store.grads());
  r.dx = copy(g.grad_tensor(xv).span());
  if (state_grad) r.dh0 = copy(g.grad_tensor(*h0v).span());
  return r;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], 1e-5f * (1 + std::abs(b[i]))) << what << ": first difference at " << i;
}

void expect_same_run(const LayerRun& a, const LayerRun& b, const std::string& name) {
  expect_close(a.output, b.output, name + " output");
  expect_close(a.h_n, b.h_n, name + " h_n");
  expect_close(a.grads, b.grads, name + " parameter gradients");
  expect_close(a.dx, b.dx, name + " dx");
}

// Absent initial states and zeros that want no gradient give what explicit zeros give, at 1 and 2
// threads (row blocks at H = 160, the column split at 520).
void expect_skipped_products_match_zeros(int64_t T, int64_t H) {
  for (CellType cell : {CellType::kRnnTanh, CellType::kGru, CellType::kLstm}) {
    for (int threads : {1, 2}) {
      const LayerRun zeros = run_once(cell, threads, T, H, Initial::kZeros);
      const std::string name =
          std::string(cell_name(cell)) + " H=" + std::to_string(H) + " threads=" + std::to_string(threads);
      expect_same_run(run_once(cell, threads, T, H, Initial::kZerosNoGrad), zeros,
                      name + " zeros without grad");
      expect_same_run(run_once(cell, threads, T, H, Initial::kAbsent), zeros, name + " no initial state");
    }
  }
}

void expect_two_threads_match_one(int64_t T, int64_t H) {
  for (CellType cell : {CellType::kRnnTanh, CellType::kGru, CellType::kLstm}) {
    const LayerRun one = run_once(cell, 1, T, H);
    const LayerRun two = run_once(cell, 2, T, H);
    const std::string name = std::string(cell_name(cell)) + " H=" + std::to_string(H);
    expect_same_run(two, one, name);
    expect_close(two.dh0, one.dh0, name + " dh0");
  }
}

}  // namespace

TEST(RnnRowBlocks, TwoThreadsMatchOne) { expect_two_threads_match_one(10, 160); }

// W_hh of GRU and LSTM >= 2 MiB: the column split, with shares not a multiple of a 64-column tile
// (GRU 3H = 1560, H = 520) and a second layer reading 2H inputs; the RNN runs as row blocks.
TEST(RnnRowBlocks, ColumnSplitMatchesOneThread) { expect_two_threads_match_one(3, 520); }

TEST(RnnRowBlocks, ZeroInitialStateSkipsProductsWithTheSameResult) {
  expect_skipped_products_match_zeros(10, 160);
  expect_skipped_products_match_zeros(3, 520);
}

}  // namespace recur
