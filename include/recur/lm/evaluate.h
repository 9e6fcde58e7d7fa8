// Scoring and sampling with a trained language model.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "recur/core/context.h"
#include "recur/lm/inference.h"
#include "recur/lm/language_model.h"
#include "recur/lm/sampler.h"
#include "recur/text/token_view.h"

namespace recur {

struct EvalResult {
  double nll_sum = 0;     // sum of -log p(token | history), natural log
  int64_t predicted = 0;  // tokens scored
  [[nodiscard]] double mean_nll() const { return predicted ? nll_sum / static_cast<double>(predicted) : 0; }
  [[nodiscard]] double perplexity() const { return std::exp(mean_nll()); }
  [[nodiscard]] double bits_per_token() const { return mean_nll() / std::log(2.0); }
};

// Scores ids as `rows` independent streams: the sequence is cut into `rows` equal contiguous
// segments (the remainder is dropped), each read from a zero state and carried token to token with
// no reset, `chunk` steps per forward pass. Every token of a segment but its first is predicted
// from its full history within the segment. rows = 1 scores the whole text exactly (what
// `recur eval` does); the trainer's validation uses rows = batch for speed. The forward passes run
// with `context` (threads).
[[nodiscard]] EvalResult evaluate_stream(LanguageModel& model, TokenView ids, int64_t rows, int64_t chunk,
                                         const ComputeContext& context);

// Warms the state up on `prefix` (at least one token), then draws `length` tokens one at a time
// with the graph-free InferenceSession.
[[nodiscard]] std::vector<int32_t> generate_tokens(LanguageModel& model, std::span<const int32_t> prefix,
                                                   int64_t length, const SamplerOptions& sampler, Rng& rng,
                                                   const InferenceOptions& inference = {});

}  // namespace recur
