// A user's program against the installed library: a GRU with a linear head learns to output its
// input one step late (a one-step memory), with Adam. Exits 0 when the mean squared error fell
// below a tenth of its starting value, so a broken install or link fails loudly.
#include <cstdio>

#include "recur/autograd/graph.h"
#include "recur/autograd/ops.h"
#include "recur/core/parameters.h"
#include "recur/core/rng.h"
#include "recur/nn/rnn.h"
#include "recur/optim/optimizer.h"

int main() {
  using namespace recur;
  constexpr int64_t kSteps = 12, kBatch = 16, kHidden = 16;

  ParameterStore<float> store;
  Rnn<float> gru(store, {.cell = CellType::kGru, .input_size = 1, .hidden_size = kHidden});
  const int head_w = store.add("head.weight", Shape{1, kHidden});
  const int head_b = store.add("head.bias", Shape{1});
  Rng rng(7);
  gru.reset_parameters(rng);
  for (float& w : store.value(head_w).span()) w = static_cast<float>(0.1 * rng.normal());

  Adam<float> adam({.lr = 0.02});
  float first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    Tensor<float> x(Shape{kSteps, kBatch, 1}), y(Shape{kSteps, kBatch, 1});  // time-major
    for (int64_t i = 0; i < kSteps * kBatch; ++i) {
      x.span()[static_cast<size_t>(i)] = static_cast<float>(rng.normal());
      // y_t = x_{t-1} (0 at t = 0)
      y.span()[static_cast<size_t>(i)] = i >= kBatch ? x.span()[static_cast<size_t>(i - kBatch)] : 0.0f;
    }
    Graph<float> g;
    const RnnOutputs out = gru.forward(g, g.input(x));
    const Var w = g.parameter(store.value(head_w), store.grad(head_w));
    const Var b = g.parameter(store.value(head_b), store.grad(head_b));
    const Var diff = sub(g, linear(g, out.output, w, b), g.input(y));
    const Var loss = mean(g, mul(g, diff, diff));
    store.zero_grads();
    g.backward(loss);
    adam.step(store);
    last = g.item(loss);
    if (step == 0) first = last;
  }
  std::printf("consumer: GRU one-step memory, mse %.4f -> %.4f\n", first, last);
  return last < 0.1f * first ? 0 : 1;
}
