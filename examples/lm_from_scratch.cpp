// d2l 9.5, "Recurrent Neural Network Implementation from Scratch": a character-level RNN language
// model on The Time Machine written directly with autograd ops, trained briefly with sequential
// minibatches, truncated BPTT, gradient clipping and SGD; prints perplexity and a sample.
//
//   ./example_lm_from_scratch [epochs=5]      (finds "timemachine" through RECUR_DATA)
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "recur/autograd/ops.h"
#include "recur/core/parameters.h"
#include "recur/data/dataset.h"
#include "recur/lm/corpus.h"
#include "recur/nn/init.h"
#include "recur/optim/grad_clip.h"
#include "recur/text/partition.h"

using namespace recur;

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 5;
  const int32_t B = 32, T = 35;
  const int64_t H = 512;
  LmCorpus corpus = load_lm_corpus(resolve_dataset("timemachine"),
                                   {.level = TokenLevel::character, .mode = PreprocessMode::d2l});
  const int64_t V = corpus.vocab.size();

  // get_params: W_xh [V, H], W_hh [H, H], b_h [H], W_hq [H, V], b_q [V]; weights ~ N(0, 0.01^2).
  ParameterStore<float> params;
  const int W_xh = params.add("W_xh", {V, H}), W_hh = params.add("W_hh", {H, H}),
            b_h = params.add("b_h", {H});
  const int W_hq = params.add("W_hq", {H, V}), b_q = params.add("b_q", {V});
  Rng rng(0);
  for (int w : {W_xh, W_hh, W_hq}) init_normal(params.value(w).span(), 0.0, 0.01, rng);
  auto p = [&](Graph<float>& g, int i) { return g.parameter(params.value(i), params.grad(i)); };

  // rnn(): H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h), Y_t = H_t W_hq + b_q, one step at a time.
  auto run = [&](Graph<float>& g, std::span<const int32_t> ids_time_major, int64_t steps, int64_t batch,
                 Tensor<float>& state) {
    Var h = g.input(state);  // a constant: gradients stop here (truncated BPTT)
    std::vector<Var> outputs;
    for (int64_t t = 0; t < steps; ++t) {
      Var x = one_hot<float>(
          g, ids_time_major.subspan(static_cast<size_t>(t * batch), static_cast<size_t>(batch)), V);
      h = tanh(g, add(g, add(g, matmul(g, x, p(g, W_xh)), matmul(g, h, p(g, W_hh))), p(g, b_h)));
      outputs.push_back(add(g, matmul(g, h, p(g, W_hq)), p(g, b_q)));
    }
    std::copy(g.value(h), g.value(h) + state.numel(), state.data());
    return concat(g, outputs, 0);  // [steps * batch, V], row = t * batch + b
  };

  SequentialPartition partition(corpus.ids, {.batch_size = B, .num_steps = T});
  Graph<float> g;
  TokenBatch batch;
  std::vector<int32_t> x(static_cast<size_t>(B * T)), y(x.size());
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    const EpochPlan plan = partition.plan_epoch(rng.next_u64());
    Tensor<float> state(Shape{B, H});
    double loss_sum = 0;
    for (int64_t i = 0; i < plan.num_batches; ++i) {
      partition.fill_batch(plan, i, batch);
      for (int32_t b = 0; b < B; ++b)  // batch-major [B, T] -> time-major [T, B]
        for (int32_t t = 0; t < T; ++t) {
          x[static_cast<size_t>(t * B + b)] = batch.x[static_cast<size_t>(b * T + t)];
          y[static_cast<size_t>(t * B + b)] = batch.y[static_cast<size_t>(b * T + t)];
        }
      g.clear();
      params.zero_grads();
      Var loss = softmax_cross_entropy(g, run(g, x, T, B, state), std::span<const int32_t>(y));
      g.backward(loss);
      clip_grad_norm(params.grads(), 1.0);
      for (int64_t k = 0; k < params.num_values(); ++k)
        params.values()[static_cast<size_t>(k)] -= params.grads()[static_cast<size_t>(k)];  // SGD, lr 1
      loss_sum += g.item(loss);
    }
    std::printf("epoch %d  perplexity %.2f\n", epoch,
                std::exp(loss_sum / static_cast<double>(plan.num_batches)));
  }

  // predict_ch8: warm up on the prefix, then take the most likely character 50 times.
  std::string text = "time traveller ";
  EncodedTokens prefix =
      encode_text(text, {.level = TokenLevel::character, .mode = PreprocessMode::d2l}, corpus.vocab);
  Tensor<float> state(Shape{1, H});
  NoGradGuard<float> no_grad(g);
  g.clear();
  Var logits = run(g, prefix.ids, static_cast<int64_t>(prefix.ids.size()), 1, state);
  const float* last = g.value(logits) + (static_cast<int64_t>(prefix.ids.size()) - 1) * V;
  for (int i = 0; i < 50; ++i) {
    const auto next = static_cast<int32_t>(std::max_element(last, last + V) - last);
    text += corpus.vocab.token(next);
    g.clear();
    logits = run(g, std::span<const int32_t>(&next, 1), 1, 1, state);
    last = g.value(logits);
  }
  std::printf("%s\n", text.c_str());
  return 0;
}
