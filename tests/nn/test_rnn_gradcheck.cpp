// Central-difference gradient checks of the fused recurrent stack (double precision, small random
// shapes): every cell type, one layer, two layers, bidirectional, dropout between layers, and the
// batch-major layout, with given initial states; gradients with respect to the input, h0, c0 and
// every parameter. Bound: |a - n| / max(|a| + |n|, 1e-3) <= 1e-6 (see gradcheck.h and kEps below).
//
// The loss is L = sum(output * R) + sum(h_n * S) (+ sum(c_n * U)) with fixed random R, S, U, so every
// output and final state carries gradient. The numeric side re-runs the forward in no-grad mode,
// which checks the inference path against the training path on the way.
#include <gtest/gtest.h>

#include <string>

#include "gradcheck.h"
#include "random_tensor.h"
#include "recur/autograd/ops.h"
#include "recur/nn/rnn.h"

namespace recur {
namespace {

using test::random_tensor;

struct GradCase {
  std::string name;
  RnnConfig config;
  bool training = false;
};

double dot(const Tensor<double>& a, const Tensor<double>& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += a[i] * b[i];
  return s;
}

// Step 1e-5 and floor 1e-3 instead of gradcheck.h's 1e-6 and 1e-7. The numeric derivative carries
// rounding noise of about |L| * 1e-16 / eps ~ 1e-10 absolute (|L| is a few here), and some weight
// gradients of the deeper stacks are ~1e-7, so a relative bound alone would test the noise (it
// flipped with the compiler's -O level). Gradients below 1e-3 are therefore held to an absolute
// 1e-9; all others to 1e-6 relative. Truncation error at this step is ~1e-10 relative.
constexpr double kEps = 1e-5, kFloor = 1e-3;

void run_gradcheck(const GradCase& c) {
  SCOPED_TRACE(c.name);
  constexpr int64_t kSteps = 4, kBatch = 2;
  const RnnConfig& cfg = c.config;
  const bool lstm = cfg.cell == CellType::kLstm;
  const bool batch_major = cfg.layout == Layout::kBatchMajor;
  const int D = cfg.bidirectional ? 2 : 1;
  ParameterStore<double> store;
  Rnn<double> rnn(store, cfg);
  Rng init(7);
  rnn.reset_parameters(init);

  Rng data(11);
  const Shape x_shape =
      batch_major ? Shape{kBatch, kSteps, cfg.input_size} : Shape{kSteps, kBatch, cfg.input_size};
  const Shape state_shape{cfg.num_layers * D, kBatch, cfg.hidden_size};
  const Shape out_shape =
      batch_major ? Shape{kBatch, kSteps, D * cfg.hidden_size} : Shape{kSteps, kBatch, D * cfg.hidden_size};
  Tensor<double> x = random_tensor(data, x_shape);
  Tensor<double> h0 = random_tensor(data, state_shape, 0.5);
  Tensor<double> c0 = random_tensor(data, state_shape, 0.5);
  const Tensor<double> R = random_tensor(data, out_shape), S = random_tensor(data, state_shape),
                       U = random_tensor(data, state_shape);
  constexpr uint64_t kDropoutSeed = 99;  // the same masks in every evaluation

  // The loss at the current values of x, h0, c0 and the parameters, without recording gradients.
  auto loss_now = [&]() {
    Graph<double> g;
    NoGradGuard<double> no_grad(g);
    Rng dropout_rng(kDropoutSeed);
    const RnnOutputs out =
        rnn.forward(g, g.input(x), g.input(h0), lstm ? std::optional<Var>(g.input(c0)) : std::nullopt,
                    &dropout_rng, c.training);
    double loss = dot(g.to_tensor(out.output), R) + dot(g.to_tensor(out.h_n), S);
    if (lstm) loss += dot(g.to_tensor(out.c_n), U);
    return loss;
  };

  // Analytic gradients.
  Graph<double> g;
  Rng dropout_rng(kDropoutSeed);
  Var xv = g.input(x, true), h0v = g.input(h0, true);
  std::optional<Var> c0v;
  if (lstm) c0v = g.input(c0, true);
  const RnnOutputs out = rnn.forward(g, xv, h0v, c0v, &dropout_rng, c.training);
  Var loss = add(g, sum(g, mul(g, out.output, g.input(R))), sum(g, mul(g, out.h_n, g.input(S))));
  if (lstm) loss = add(g, loss, sum(g, mul(g, out.c_n, g.input(U))));
  EXPECT_NEAR(g.item(loss), loss_now(), 1e-12) << "training and no-grad forwards differ";
  g.backward(loss);

  const Tensor<double> dx = g.grad_tensor(xv), dh0 = g.grad_tensor(h0v);
  test::expect_grad_close(x.span(), dx.span(), loss_now, c.name + " d input", kEps, 1e-6, kFloor);
  test::expect_grad_close(h0.span(), dh0.span(), loss_now, c.name + " d h0", kEps, 1e-6, kFloor);
  if (lstm) {
    const Tensor<double> dc0 = g.grad_tensor(*c0v);
    test::expect_grad_close(c0.span(), dc0.span(), loss_now, c.name + " d c0", kEps, 1e-6, kFloor);
  }
  const std::vector<double> dparams(store.grads().begin(), store.grads().end());
  for (int i = 0; i < store.size(); ++i) {
    const ParameterStore<double>::Slot& slot = store.slot(i);
    const auto n = static_cast<size_t>(slot.shape.numel());
    test::expect_grad_close(store.value(i).span(), std::span<const double>(dparams.data() + slot.offset, n),
                            loss_now, c.name + " d " + slot.name, kEps, 1e-6, kFloor);
  }
}

std::vector<GradCase> all_cases() {
  std::vector<GradCase> cases;
  const std::pair<CellType, const char*> cells[] = {{CellType::kRnnTanh, "rnn_tanh"},
                                                    {CellType::kRnnRelu, "rnn_relu"},
                                                    {CellType::kGru, "gru"},
                                                    {CellType::kLstm, "lstm"}};
  for (const auto& [cell, name] : cells) {
    const RnnConfig base{.cell = cell, .input_size = 3, .hidden_size = 4};
    RnnConfig two = base;
    two.num_layers = 2;
    RnnConfig bi = base;
    bi.bidirectional = true;
    RnnConfig deep_bi_dropout = base;
    deep_bi_dropout.num_layers = 2;
    deep_bi_dropout.bidirectional = true;
    deep_bi_dropout.dropout = 0.3;
    cases.push_back({std::string(name) + " 1 layer", base});
    cases.push_back({std::string(name) + " 2 layers", two});
    cases.push_back({std::string(name) + " bidirectional", bi});
    cases.push_back({std::string(name) + " 2 layers bidirectional dropout", deep_bi_dropout, true});
  }
  RnnConfig batch_major{.cell = CellType::kGru,
                        .input_size = 3,
                        .hidden_size = 4,
                        .num_layers = 2,
                        .bidirectional = true,
                        .layout = Layout::kBatchMajor};
  cases.push_back({"gru 2 layers bidirectional batch-major", batch_major});
  RnnConfig lstm_batch_major{
      .cell = CellType::kLstm, .input_size = 3, .hidden_size = 4, .layout = Layout::kBatchMajor};
  cases.push_back({"lstm batch-major", lstm_batch_major});
  return cases;
}

TEST(RnnGradcheck, AllCellsAndStacks) {
  for (const GradCase& c : all_cases()) run_gradcheck(c);
}

}  // namespace
}  // namespace recur
