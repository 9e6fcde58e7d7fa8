// A 2-layer bidirectional GRU on random input: builds the stack, runs forward and backward through
// time, and prints the shapes of the output, the final state and the parameters (PyTorch's names).
#include <cstdio>

#include "recur/autograd/graph.h"
#include "recur/autograd/ops.h"
#include "recur/core/parameters.h"
#include "recur/core/rng.h"
#include "recur/nn/rnn.h"

int main() {
  using namespace recur;
  constexpr int64_t kSteps = 10, kBatch = 4, kInput = 8, kHidden = 16;

  ParameterStore<float> store;
  Rnn<float> gru(store, {.cell = CellType::kGru,
                         .input_size = kInput,
                         .hidden_size = kHidden,
                         .num_layers = 2,
                         .bidirectional = true,
                         .dropout = 0.1});
  Rng rng(42);
  gru.reset_parameters(rng);  // U(-1/sqrt(H), 1/sqrt(H)), as PyTorch

  Tensor<float> x(Shape{kSteps, kBatch, kInput});  // time-major [T, B, I]
  for (float& v : x.span()) v = static_cast<float>(rng.normal());

  Graph<float> g;
  const RnnOutputs out = gru.forward(g, g.input(x), std::nullopt, std::nullopt, &rng, /*training=*/true);
  g.backward(mean(g, out.output));  // BPTT: gradients land in store.grads()

  std::printf("input   x   %s  (T, B, I)\n", x.shape().str().c_str());
  std::printf("output      %s  (T, B, 2 directions * H)\n", g.shape(out.output).str().c_str());
  std::printf("final h_n   %s  (2 layers * 2 directions, B, H)\n", g.shape(out.h_n).str().c_str());
  std::printf("%d parameters, %lld values:\n", store.size(), static_cast<long long>(store.num_values()));
  for (const auto& slot : store.slots())
    std::printf("  %-28s %s\n", slot.name.c_str(), slot.shape.str().c_str());
  return 0;
}
