// rnn_layer: a PyTorch nn.RNN / nn.GRU / nn.LSTM stack against recur's fused Rnn: outputs, final
// states, the loss sum(output*R) + sum(h_n*S) (+ sum(c_n*U)) and its gradients with respect to the
// input, the initial states and every parameter. Shapes, depth and directions come from the file.
#include <gtest/gtest.h>

#include <algorithm>

#include "recur/autograd/ops.h"
#include "recur/nn/rnn.h"
#include "vector_checks.h"

namespace recur::test {

namespace {

CellType cell_of(const nlohmann::json& config, const std::string& file) {
  const std::string cell = config.at("cell").get<std::string>();
  if (cell == "rnn_tanh") return CellType::kRnnTanh;
  if (cell == "rnn_relu") return CellType::kRnnRelu;
  if (cell == "gru") return CellType::kGru;
  if (cell == "lstm") return CellType::kLstm;
  ADD_FAILURE() << file << ": unknown cell '" << cell << "'";
  return CellType::kGru;
}

template <Scalar T>
Tensor<double> store_tensor(const TensorView<T>& v) {
  return Tensor<double>(v.shape, std::vector<double>(v.data, v.data + v.numel()));
}

template <Scalar T>
void run_rnn_layer(const nlohmann::json& j, const std::string& file, double rtol) {
  const std::string tag = file + (sizeof(T) == 4 ? " (float32)" : " (float64)");
  const auto& cfg = j.at("config");
  ASSERT_FALSE(cfg.value("batch_first", false)) << tag << ": batch_first vectors are not supported";
  ASSERT_TRUE(cfg.value("bias", true)) << tag << ": bias=False vectors are not supported";
  const RnnConfig config{.cell = cell_of(cfg, file),
                         .input_size = cfg.at("input_size").get<int64_t>(),
                         .hidden_size = cfg.at("hidden_size").get<int64_t>(),
                         .num_layers = cfg.at("num_layers").get<int>(),
                         .bidirectional = cfg.at("bidirectional").get<bool>()};
  const bool lstm = config.cell == CellType::kLstm;

  // Parameters: the same names in the same order as PyTorch's named_parameters().
  ParameterStore<T> store;
  Rnn<T> rnn(store, config, "");
  const auto order = j.at("param_order").get<std::vector<std::string>>();
  ASSERT_EQ(static_cast<size_t>(store.size()), order.size()) << tag << ": parameter count";
  for (size_t i = 0; i < order.size(); ++i) {
    ASSERT_EQ(store.slot(static_cast<int>(i)).name, order[i]) << tag << ": parameter " << i;
    const Tensor<T> value = tensor_cast<T>(read_tensor(j.at("params").at(order[i])));
    ASSERT_EQ(value.shape(), store.slot(static_cast<int>(i)).shape) << tag << ": shape of " << order[i];
    std::copy(value.span().begin(), value.span().end(), store.value(static_cast<int>(i)).data);
  }

  Graph<T> g;
  Var x = g.input(tensor_cast<T>(read_tensor(j.at("input"))), true);
  Var h0 = g.input(tensor_cast<T>(read_tensor(j.at("h0"))), true);
  std::optional<Var> c0;
  if (lstm) c0 = g.input(tensor_cast<T>(read_tensor(j.at("c0"))), true);
  const RnnOutputs out = rnn.forward(g, x, h0, c0);

  expect_tensor_near(tensor_cast<double>(g.to_tensor(out.output)), read_tensor(j.at("output")), rtol,
                     tag + ": output");
  expect_tensor_near(tensor_cast<double>(g.to_tensor(out.h_n)), read_tensor(j.at("h_n")), rtol,
                     tag + ": h_n");
  if (lstm)
    expect_tensor_near(tensor_cast<double>(g.to_tensor(out.c_n)), read_tensor(j.at("c_n")), rtol,
                       tag + ": c_n");

  Var loss = add(g, sum(g, mul(g, out.output, g.input(tensor_cast<T>(read_tensor(j.at("R")))))),
                 sum(g, mul(g, out.h_n, g.input(tensor_cast<T>(read_tensor(j.at("S")))))));
  if (lstm) loss = add(g, loss, sum(g, mul(g, out.c_n, g.input(tensor_cast<T>(read_tensor(j.at("U")))))));
  const double expected_loss = j.at("loss").get<double>();
  EXPECT_NEAR(g.item(loss), expected_loss, rtol * std::max(1.0, std::abs(expected_loss))) << tag << ": loss";
  g.backward(loss);

  const auto& grads = j.at("grads");
  expect_tensor_near(tensor_cast<double>(g.grad_tensor(x)), read_tensor(grads.at("input")), rtol,
                     tag + ": d input");
  expect_tensor_near(tensor_cast<double>(g.grad_tensor(h0)), read_tensor(grads.at("h0")), rtol,
                     tag + ": d h0");
  if (lstm)
    expect_tensor_near(tensor_cast<double>(g.grad_tensor(*c0)), read_tensor(grads.at("c0")), rtol,
                       tag + ": d c0");
  for (size_t i = 0; i < order.size(); ++i)
    expect_tensor_near(store_tensor(store.grad(static_cast<int>(i))), read_tensor(grads.at(order[i])), rtol,
                       tag + ": d " + order[i]);
}

}  // namespace

void check_rnn_layer(const nlohmann::json& j, const std::string& file) {
  run_rnn_layer<double>(j, file, 1e-6);
  run_rnn_layer<float>(j, file, 1e-4);
}

}  // namespace recur::test
