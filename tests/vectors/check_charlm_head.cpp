// charlm_head: linear head + mean cross-entropy against PyTorch (loss, logits and all gradients).
#include <gtest/gtest.h>

#include "recur/autograd/ops.h"
#include "recur/core/parameters.h"
#include "vector_checks.h"

namespace recur::test {

namespace {
template <Scalar T>
void run_head(const nlohmann::json& j, const std::string& file, double rtol) {
  const auto H = tensor_cast<T>(read_tensor(j.at("H")));
  const auto weight = tensor_cast<T>(read_tensor(j.at("params").at("weight")));
  const auto bias = tensor_cast<T>(read_tensor(j.at("params").at("bias")));
  const auto targets = j.at("target").get<std::vector<int32_t>>();
  const std::string tag = file + (sizeof(T) == 4 ? " (float32)" : " (float64)");

  ParameterStore<T> store;
  const int w = store.add("head.weight", weight.shape());
  const int b = store.add("head.bias", bias.shape());
  std::copy(weight.span().begin(), weight.span().end(), store.value(w).data);
  std::copy(bias.span().begin(), bias.span().end(), store.value(b).data);

  Graph<T> g;
  Var h = g.input(H, true);
  Var logits =
      linear(g, h, g.parameter(store.value(w), store.grad(w)), g.parameter(store.value(b), store.grad(b)));
  Var loss = softmax_cross_entropy(g, logits, targets);
  g.backward(loss);

  EXPECT_NEAR(g.item(loss), j.at("loss").get<double>(),
              rtol * std::max(1.0, std::abs(j.at("loss").get<double>())))
      << tag << ": loss";
  expect_tensor_near(tensor_cast<double>(g.to_tensor(logits)), read_tensor(j.at("logits")), rtol,
                     tag + ": logits");
  const auto& grads = j.at("grads");
  expect_tensor_near(tensor_cast<double>(g.grad_tensor(h)), read_tensor(grads.at("H")), rtol, tag + ": dH");
  expect_tensor_near(tensor_cast<double>(g.grad_tensor(logits)), read_tensor(grads.at("logits")), rtol,
                     tag + ": dlogits");
  Tensor<T> dw(weight.shape(), std::vector<T>(store.grad(w).span().begin(), store.grad(w).span().end()));
  Tensor<T> db(bias.shape(), std::vector<T>(store.grad(b).span().begin(), store.grad(b).span().end()));
  expect_tensor_near(tensor_cast<double>(dw), read_tensor(grads.at("weight")), rtol, tag + ": dweight");
  expect_tensor_near(tensor_cast<double>(db), read_tensor(grads.at("bias")), rtol, tag + ": dbias");
}
}  // namespace

void check_charlm_head(const nlohmann::json& j, const std::string& file) {
  run_head<double>(j, file, 1e-10);
  run_head<float>(j, file, 1e-5);
}

}  // namespace recur::test
