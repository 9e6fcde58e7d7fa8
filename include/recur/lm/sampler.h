// Choosing the next token from logits: greedy, or sampling with temperature, top-k and top-p
// (nucleus) truncation, as `recur generate` and char-rnn's sample.lua offer.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recur/core/rng.h"

namespace recur {

struct SamplerOptions {
  bool greedy = false;       // argmax; the other fields are ignored
  double temperature = 1.0;  // > 0; logits are divided by it
  int top_k = 0;             // keep the k most likely tokens (0 = all)
  double top_p = 1.0;        // keep the smallest set whose probability reaches p, in (0, 1]
};

// Throws ValueError naming the bad option.
void validate(const SamplerOptions& options);

// Reusable scratch space so that sampling allocates nothing per token.
struct SamplerWorkspace {
  std::vector<double> probs;   // [V]
  std::vector<int32_t> order;  // [V]
};

// The distribution sampling draws from (greedy aside): fills workspace.order[0, n) with the kept
// tokens (most likely first when top-k or top-p truncates) and workspace.probs[0, n) with their
// probabilities, which sum to 1, and returns n >= 1. Safe for every temperature > 0 (1e-30 gives
// the maximal logits all the mass, 1e300 a uniform draw) and every top-k and top-p: the largest
// kept logit weighs exp(0) = 1, so nothing overflows and nothing is NaN. Throws NumericError when a
// logit is NaN.
int32_t token_distribution(std::span<const float> logits, const SamplerOptions& options,
                           SamplerWorkspace& workspace);

// Returns an index in [0, logits.size()). Ties in greedy mode go to the lowest index. Throws
// NumericError when a logit is NaN.
[[nodiscard]] int32_t sample_token(std::span<const float> logits, const SamplerOptions& options, Rng& rng,
                                   SamplerWorkspace& workspace);

}  // namespace recur
