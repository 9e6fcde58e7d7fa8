// charlm_step: one whole d2l-style training step against PyTorch: one-hot input -> GRU stack ->
// linear head -> mean cross-entropy -> backward -> clip_grad_norm -> SGD. Checks the logits, the
// final state, the loss, the gradients before and after clipping, the norm and the new parameters.
#include <gtest/gtest.h>

#include <algorithm>

#include "recur/autograd/ops.h"
#include "recur/nn/rnn.h"
#include "recur/optim/grad_clip.h"
#include "recur/optim/optimizer.h"
#include "vector_checks.h"

namespace recur::test {

namespace {

template <Scalar T>
Tensor<double> slot_tensor(ParameterStore<T>& store, int index, bool grad) {
  const TensorView<T> v = grad ? store.grad(index) : store.value(index);
  return Tensor<double>(v.shape, std::vector<double>(v.data, v.data + v.numel()));
}

template <Scalar T>
void run_step(const nlohmann::json& j, const std::string& file, double rtol) {
  const std::string tag = file + (sizeof(T) == 4 ? " (float32)" : " (float64)");
  const auto& cfg = j.at("config");
  ASSERT_EQ(cfg.at("cell").get<std::string>(), "gru") << tag;
  ASSERT_EQ(cfg.value("h0", std::string("zeros")), "zeros") << tag;
  const int64_t V = cfg.at("vocab").get<int64_t>();
  const int64_t H = cfg.at("hidden_size").get<int64_t>();
  const int64_t B = cfg.at("batch").get<int64_t>();
  const int64_t steps = cfg.at("steps").get<int64_t>();

  ParameterStore<T> store;
  Rnn<T> rnn(store,
             {.cell = CellType::kGru,
              .input_size = V,
              .hidden_size = H,
              .num_layers = cfg.at("num_layers").get<int>()},
             "rnn.");
  const int head_w = store.add("linear.weight", Shape{V, H});
  const int head_b = store.add("linear.bias", Shape{V});
  const auto order = j.at("param_order").get<std::vector<std::string>>();
  ASSERT_EQ(static_cast<size_t>(store.size()), order.size()) << tag << ": parameter count";
  for (size_t i = 0; i < order.size(); ++i) {
    ASSERT_EQ(store.slot(static_cast<int>(i)).name, order[i]) << tag << ": parameter " << i;
    const Tensor<T> value = tensor_cast<T>(read_tensor(j.at("params_before").at(order[i])));
    ASSERT_EQ(value.shape(), store.slot(static_cast<int>(i)).shape) << tag << ": shape of " << order[i];
    std::copy(value.span().begin(), value.span().end(), store.value(static_cast<int>(i)).data);
  }

  // X = tokens[:, :-1], Y = tokens[:, 1:], both read time-major (row t*B + b).
  const auto tokens = j.at("tokens").get<std::vector<std::vector<int32_t>>>();
  ASSERT_EQ(static_cast<int64_t>(tokens.size()), B) << tag;
  std::vector<int32_t> inputs, targets;
  for (int64_t t = 0; t < steps; ++t) {
    for (int64_t b = 0; b < B; ++b) {
      inputs.push_back(tokens[static_cast<size_t>(b)][static_cast<size_t>(t)]);
      targets.push_back(tokens[static_cast<size_t>(b)][static_cast<size_t>(t + 1)]);
    }
  }

  Graph<T> g;
  Var x = reshape(g, one_hot(g, std::span<const int32_t>(inputs), V), Shape{steps, B, V});
  const RnnOutputs out = rnn.forward(g, x);
  Var logits = linear(g, reshape(g, out.output, Shape{steps * B, H}),
                      g.parameter(store.value(head_w), store.grad(head_w)),
                      g.parameter(store.value(head_b), store.grad(head_b)));
  Var loss = softmax_cross_entropy(g, logits, std::span<const int32_t>(targets));
  g.backward(loss);

  expect_tensor_near(tensor_cast<double>(g.to_tensor(logits)), read_tensor(j.at("logits")), rtol,
                     tag + ": logits");
  expect_tensor_near(tensor_cast<double>(g.to_tensor(out.h_n)), read_tensor(j.at("h_n")), rtol,
                     tag + ": h_n");
  const double expected_loss = j.at("loss").get<double>();
  EXPECT_NEAR(g.item(loss), expected_loss, rtol * std::max(1.0, std::abs(expected_loss))) << tag << ": loss";
  for (size_t i = 0; i < order.size(); ++i)
    expect_tensor_near(slot_tensor(store, static_cast<int>(i), true), read_tensor(j.at("grads").at(order[i])),
                       rtol, tag + ": grad " + order[i]);

  const double total_norm = clip_grad_norm(store.grads(), cfg.at("max_norm").get<double>());
  const double expected_norm = j.at("total_norm").get<double>();
  EXPECT_NEAR(total_norm, expected_norm, rtol * std::max(1.0, expected_norm)) << tag << ": total_norm";
  for (size_t i = 0; i < order.size(); ++i)
    expect_tensor_near(slot_tensor(store, static_cast<int>(i), true),
                       read_tensor(j.at("grads_clipped").at(order[i])), rtol,
                       tag + ": clipped grad " + order[i]);

  Sgd<T> sgd({.lr = cfg.at("lr").get<double>()});
  sgd.step(store);
  for (size_t i = 0; i < order.size(); ++i)
    expect_tensor_near(slot_tensor(store, static_cast<int>(i), false),
                       read_tensor(j.at("params_after").at(order[i])), rtol,
                       tag + ": param after step " + order[i]);
}

}  // namespace

void check_charlm_step(const nlohmann::json& j, const std::string& file) {
  run_step<double>(j, file, 1e-6);
  run_step<float>(j, file, 1e-4);
}

}  // namespace recur::test
