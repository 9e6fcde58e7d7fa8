// Rnn::forward_one_hot (ids in, row lookup and scatter-add) must equal Rnn::forward on the one-hot
// matrix it stands for: outputs, final states, every parameter gradient and the state gradients,
// for every cell, stacked and bidirectional, both layouts, one and two threads (row blocks).
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "recur/autograd/ops.h"
#include "recur/core/error.h"
#include "recur/nn/rnn.h"

namespace recur {
namespace {

struct Run {
  std::vector<double> output, h_n, c_n, grads, dh0, dc0;
};

template <Scalar T>
std::vector<double> to_double(std::span<const T> s) {
  return std::vector<double>(s.begin(), s.end());
}

// One forward and backward, with the input as ids (as_ids = true) or as a one-hot matrix.
template <Scalar T>
Run run(const RnnConfig& config, const std::vector<int32_t>& ids, int64_t steps, int64_t batch, bool as_ids,
        int threads) {
  ParameterStore<T> store;
  Rnn<T> rnn(store, config);
  Rng rng(5);
  rnn.reset_parameters(rng);
  const int64_t L = config.num_layers * (config.bidirectional ? 2 : 1), H = config.hidden_size;
  Tensor<T> h0(Shape{L, batch, H}), c0(Shape{L, batch, H});
  for (T& v : h0.span()) v = static_cast<T>(rng.uniform(-0.5, 0.5));
  for (T& v : c0.span()) v = static_cast<T>(rng.uniform(-0.5, 0.5));
  Graph<T> g(ComputeContext{.threads = threads});
  Var h0v = g.input(h0, true);
  std::optional<Var> c0v;
  if (config.cell == CellType::kLstm) c0v = g.input(c0, true);
  store.zero_grads();
  RnnOutputs out;
  if (as_ids) {
    out = rnn.forward_one_hot(g, ids, steps, batch, h0v, c0v, nullptr, true);
  } else {
    const bool batch_major = config.layout == Layout::kBatchMajor;
    const Shape shape =
        batch_major ? Shape{batch, steps, config.input_size} : Shape{steps, batch, config.input_size};
    Var x = reshape(g, one_hot<T>(g, ids, config.input_size), shape);
    out = rnn.forward(g, x, h0v, c0v, nullptr, true);
  }
  // A loss weighing every output and final-state element differently.
  Rng wrng(9);
  auto weights = [&](Var v) {
    Tensor<T> w(g.shape(v));
    for (T& e : w.span()) e = static_cast<T>(wrng.uniform(-1, 1));
    return g.input(w);
  };
  Var loss =
      add(g, sum(g, mul(g, out.output, weights(out.output))), sum(g, mul(g, out.h_n, weights(out.h_n))));
  if (out.c_n.valid()) loss = add(g, loss, sum(g, mul(g, out.c_n, weights(out.c_n))));
  g.backward(loss);
  Run r;
  r.output = to_double<T>(g.to_tensor(out.output).span());
  r.h_n = to_double<T>(g.to_tensor(out.h_n).span());
  if (out.c_n.valid()) r.c_n = to_double<T>(g.to_tensor(out.c_n).span());
  r.grads = to_double<T>(store.grads());
  r.dh0 = to_double<T>(g.grad_tensor(h0v).span());
  if (c0v) r.dc0 = to_double<T>(g.grad_tensor(*c0v).span());
  return r;
}

void expect_close(const std::vector<double>& a, const std::vector<double>& b, double tol,
                  const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], tol * (1 + std::abs(b[i]))) << what << ": first difference at " << i;
}

template <Scalar T>
void compare(const RnnConfig& config, int64_t steps, int64_t batch, double tol, const std::string& name,
             int threads = 1) {
  Rng rng(17);
  std::vector<int32_t> ids(static_cast<size_t>(steps * batch));
  for (int32_t& id : ids) id = static_cast<int32_t>(rng.below(static_cast<uint64_t>(config.input_size)));
  const Run dense = run<T>(config, ids, steps, batch, false, threads);
  const Run sparse = run<T>(config, ids, steps, batch, true, threads);
  expect_close(sparse.output, dense.output, tol, name + " output");
  expect_close(sparse.h_n, dense.h_n, tol, name + " h_n");
  expect_close(sparse.c_n, dense.c_n, tol, name + " c_n");
  expect_close(sparse.grads, dense.grads, tol, name + " parameter gradients");
  expect_close(sparse.dh0, dense.dh0, tol, name + " dh0");
  expect_close(sparse.dc0, dense.dc0, tol, name + " dc0");
}

TEST(RnnOneHot, MatchesTheOneHotMatrixInDouble) {
  for (CellType cell : {CellType::kRnnTanh, CellType::kRnnRelu, CellType::kGru, CellType::kLstm}) {
    for (Layout layout : {Layout::kTimeMajor, Layout::kBatchMajor}) {
      const RnnConfig config{.cell = cell,
                             .input_size = 11,
                             .hidden_size = 6,
                             .num_layers = 2,
                             .bidirectional = true,
                             .layout = layout};
      compare<double>(config, 5, 3, 1e-12,
                      std::string(cell_name(cell)) + (layout == Layout::kBatchMajor ? " batch-major" : ""));
    }
  }
}

TEST(RnnOneHot, MatchesInFloatWithRowBlocksOnTwoThreads) {
  // Large enough that the time loop splits into row blocks (row_block_count), uneven batch.
  for (int threads : {1, 2}) {
    for (CellType cell : {CellType::kRnnTanh, CellType::kGru, CellType::kLstm}) {
      const RnnConfig config{.cell = cell, .input_size = 28, .hidden_size = 96, .num_layers = 1};
      compare<float>(config, 12, 37, 2e-5,
                     std::string(cell_name(cell)) + " threads " + std::to_string(threads), threads);
    }
  }
}

TEST(RnnOneHot, MatchesInFloatWithTheColumnSplitOnTwoThreads) {
  // W_hh >= 2 MiB: the time loop splits the recurrent products by columns (use_column_split), and
  // each thread gathers the input rows of its own batch rows one step ahead.
  for (CellType cell : {CellType::kGru, CellType::kLstm}) {
    const RnnConfig config{.cell = cell, .input_size = 28, .hidden_size = 520, .num_layers = 1};
    compare<float>(config, 3, 19, 2e-5, std::string(cell_name(cell)) + " column split", 2);
  }
}

TEST(RnnOneHot, RejectsIdsOutOfRangeAndWrongCounts) {
  ParameterStore<float> store;
  Rnn<float> rnn(store, {.cell = CellType::kGru, .input_size = 4, .hidden_size = 3});
  Graph<float> g;
  const std::vector<int32_t> bad{0, 1, 4, 2};
  try {
    (void)rnn.forward_one_hot(g, bad, 2, 2);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("id 4"), std::string::npos) << what;
    EXPECT_NE(what.find("position 2"), std::string::npos) << what;
  }
  const std::vector<int32_t> three{0, 1, 2};
  EXPECT_THROW((void)rnn.forward_one_hot(g, three, 2, 2), ShapeError);
}

}  // namespace
}  // namespace recur
