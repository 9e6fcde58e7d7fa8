// Streaming perplexity (no-grad graph) and autoregressive generation (graph-free inference path).
#include "recur/lm/evaluate.h"

#include <algorithm>

#include "recur/autograd/ops.h"
#include "recur/core/error.h"
#include "recur/lm/inference.h"

namespace recur {

EvalResult evaluate_stream(LanguageModel& model, TokenView ids, int64_t rows, int64_t chunk,
                           const ComputeContext& context) {
  check(rows >= 1 && chunk >= 1, "evaluate_stream: rows and chunk must be >= 1");
  const int64_t segment = static_cast<int64_t>(ids.size()) / rows;
  check(segment >= 2, "evaluate_stream: " + std::to_string(ids.size()) + " tokens are too few for " +
                          std::to_string(rows) + " stream(s) (each needs at least 2)");
  const int64_t V = model.config().vocab_size;
  Graph<float> g(context);
  NoGradGuard<float> no_grad(g);
  RecurrentState state = model.zero_state(rows);
  EvalResult result;
  std::vector<int32_t> input, target;  // time-major [steps * rows]
  // Position p of each segment predicts token p + 1; positions 0 .. segment - 2 are inputs.
  for (int64_t start = 0; start < segment - 1; start += chunk) {
    const int64_t steps = std::min(chunk, segment - 1 - start);
    input.resize(static_cast<size_t>(steps * rows));
    target.resize(input.size());
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t p = r * segment + start + t;
        input[static_cast<size_t>(t * rows + r)] = ids[p];
        target[static_cast<size_t>(t * rows + r)] = ids[p + 1];
      }
    g.clear();
    Var logits = model.forward(g, input, steps, rows, state, nullptr, false);
    const float* z = g.value(logits);
    for (int64_t i = 0; i < steps * rows; ++i) {
      const float* row = z + i * V;
      const float m = *std::max_element(row, row + V);
      double s = 0;
      for (int64_t v = 0; v < V; ++v) s += std::exp(static_cast<double>(row[v] - m));
      result.nll_sum += std::log(s) + m - row[target[static_cast<size_t>(i)]];
    }
    result.predicted += steps * rows;
  }
  return result;
}

std::vector<int32_t> generate_tokens(LanguageModel& model, std::span<const int32_t> prefix, int64_t length,
                                     const SamplerOptions& sampler, Rng& rng,
                                     const InferenceOptions& inference) {
  check(!prefix.empty(), "generate: the prefix must hold at least one token");
  check(length >= 0, "generate: length must be >= 0, got " + std::to_string(length));
  validate(sampler);
  const int64_t V = model.config().vocab_size;
  for (int32_t id : prefix)
    check(id >= 0 && id < V, "generate: prefix token id " + std::to_string(id) + " outside the vocabulary");
  // The graph-free batch-1 path (recur/lm/inference.h); LanguageModel::forward is its reference.
  InferenceSession session(model, inference);
  SamplerWorkspace workspace;
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(std::min<int64_t>(length, int64_t{1} << 20)));  // grows past that
  std::span<const float> last;
  for (int32_t id : prefix) last = session.step(id);
  for (int64_t i = 0; i < length; ++i) {
    const int32_t next = sample_token(last, sampler, rng, workspace);
    out.push_back(next);
    if (i + 1 == length) break;
    last = session.step(next);
  }
  return out;
}

}  // namespace recur
