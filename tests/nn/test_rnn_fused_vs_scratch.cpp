// The fused Rnn (hand-written BPTT) against ScratchRnn (cells from autograd ops, unrolled by a loop),
// sharing one ParameterStore: outputs, final states and the gradients with respect to the input, the
// initial states and every parameter must agree, for every cell, depth, direction, dropout and layout.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "random_tensor.h"
#include "recur/autograd/ops.h"
#include "recur/nn/rnn.h"
#include "recur/nn/scratch_cells.h"

namespace recur {
namespace {

using test::random_tensor;

// Reports the first index where a and b differ by more than tol * max(1, |b|).
template <Scalar T>
void expect_same(std::span<const T> a, std::span<const T> b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(std::abs(double(a[i]) - double(b[i])) <= tol * std::max(1.0, std::abs(double(b[i]))))) {
      ADD_FAILURE() << what << ": first difference at index " << i << ": fused " << a[i] << ", scratch "
                    << b[i];
      return;
    }
  }
}

template <Scalar T>
struct Result {
  Tensor<T> output, h_n, c_n, dx, dh0, dc0;
  std::vector<T> dparams;
};

template <Scalar T>
void compare(const RnnConfig& cfg, bool training, const std::string& name) {
  SCOPED_TRACE(name);
  constexpr int64_t kSteps = 5, kBatch = 3;
  const bool lstm = cfg.cell == CellType::kLstm;
  const bool batch_major = cfg.layout == Layout::kBatchMajor;
  const int D = cfg.bidirectional ? 2 : 1;
  ParameterStore<T> store;
  Rnn<T> fused(store, cfg);
  const ScratchRnn<T> scratch(fused);
  Rng init(3);
  fused.reset_parameters(init);

  Rng data(5);
  const Shape x_shape =
      batch_major ? Shape{kBatch, kSteps, cfg.input_size} : Shape{kSteps, kBatch, cfg.input_size};
  const Shape state_shape{cfg.num_layers * D, kBatch, cfg.hidden_size};
  const Shape out_shape =
      batch_major ? Shape{kBatch, kSteps, D * cfg.hidden_size} : Shape{kSteps, kBatch, D * cfg.hidden_size};
  const Tensor<T> x = random_tensor<T>(data, x_shape), h0 = random_tensor<T>(data, state_shape, 0.5),
                  c0 = random_tensor<T>(data, state_shape, 0.5), R = random_tensor<T>(data, out_shape),
                  S = random_tensor<T>(data, state_shape), U = random_tensor<T>(data, state_shape);

  auto run = [&](bool use_fused) {
    store.zero_grads();
    Graph<T> g;
    Rng dropout_rng(17);
    Var xv = g.input(x, true), h0v = g.input(h0, true);
    std::optional<Var> c0v;
    if (lstm) c0v = g.input(c0, true);
    const RnnOutputs out = use_fused ? fused.forward(g, xv, h0v, c0v, &dropout_rng, training)
                                     : scratch.forward(g, xv, h0v, c0v, &dropout_rng, training);
    Var loss = add(g, sum(g, mul(g, out.output, g.input(R))), sum(g, mul(g, out.h_n, g.input(S))));
    if (lstm) loss = add(g, loss, sum(g, mul(g, out.c_n, g.input(U))));
    g.backward(loss);
    Result<T> r;
    r.output = g.to_tensor(out.output);
    r.h_n = g.to_tensor(out.h_n);
    r.dx = g.grad_tensor(xv);
    r.dh0 = g.grad_tensor(h0v);
    if (lstm) {
      r.c_n = g.to_tensor(out.c_n);
      r.dc0 = g.grad_tensor(*c0v);
    }
    r.dparams.assign(store.grads().begin(), store.grads().end());
    return r;
  };
  const Result<T> a = run(true), b = run(false);
  // double: both sum the same terms in different orders; float: the fused kernels and the ops use
  // different exp approximations as well.
  const double tol = sizeof(T) == 8 ? 1e-12 : 2e-5;
  expect_same<T>(a.output.span(), b.output.span(), tol, "output");
  expect_same<T>(a.h_n.span(), b.h_n.span(), tol, "h_n");
  expect_same<T>(a.dx.span(), b.dx.span(), tol, "d input");
  expect_same<T>(a.dh0.span(), b.dh0.span(), tol, "d h0");
  if (lstm) {
    expect_same<T>(a.c_n.span(), b.c_n.span(), tol, "c_n");
    expect_same<T>(a.dc0.span(), b.dc0.span(), tol, "d c0");
  }
  for (int i = 0; i < store.size(); ++i) {
    const auto& slot = store.slot(i);
    const auto n = static_cast<size_t>(slot.shape.numel());
    expect_same<T>(std::span<const T>(a.dparams.data() + slot.offset, n),
                   std::span<const T>(b.dparams.data() + slot.offset, n), tol, "d " + slot.name);
  }
}

template <Scalar T>
void compare_all() {
  const std::pair<CellType, const char*> cells[] = {{CellType::kRnnTanh, "rnn_tanh"},
                                                    {CellType::kRnnRelu, "rnn_relu"},
                                                    {CellType::kGru, "gru"},
                                                    {CellType::kLstm, "lstm"}};
  for (const auto& [cell, name] : cells) {
    const std::string n = std::string(name) + (sizeof(T) == 8 ? " double" : " float");
    compare<T>({.cell = cell, .input_size = 4, .hidden_size = 6}, false, n + " 1 layer");
    compare<T>({.cell = cell, .input_size = 4, .hidden_size = 6, .num_layers = 2}, false, n + " 2 layers");
    compare<T>({.cell = cell, .input_size = 4, .hidden_size = 6, .bidirectional = true}, false,
               n + " bidirectional");
    compare<T>({.cell = cell,
                .input_size = 4,
                .hidden_size = 6,
                .num_layers = 3,
                .bidirectional = true,
                .dropout = 0.25},
               true, n + " 3 layers bidirectional dropout (training)");
    compare<T>({.cell = cell,
                .input_size = 4,
                .hidden_size = 6,
                .num_layers = 2,
                .bidirectional = true,
                .layout = Layout::kBatchMajor},
               false, n + " 2 layers bidirectional batch-major");
  }
}

TEST(RnnFusedVsScratch, Double) { compare_all<double>(); }
TEST(RnnFusedVsScratch, Float) { compare_all<float>(); }

// The input-side products (projection, dx, dW_ih) run on recur's kernels for narrow inputs and on
// OpenBLAS for wide ones (nn/sequence.h, use_own_input_products; the width depends on the SIMD
// target): both paths, a second layer reading 2H, against the scratch cells.
TEST(RnnFusedVsScratch, FloatNarrowAndWideInputs) {
  for (const int64_t input : {40, 300})
    for (CellType cell : {CellType::kRnnTanh, CellType::kGru, CellType::kLstm})
      compare<float>(
          {.cell = cell, .input_size = input, .hidden_size = 20, .num_layers = 2, .bidirectional = true},
          false, std::string(cell_name(cell)) + " float input " + std::to_string(input));
}

}  // namespace
}  // namespace recur
