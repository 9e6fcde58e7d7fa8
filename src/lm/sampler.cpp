// Greedy and truncated-softmax sampling.
#include "recur/lm/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "recur/core/error.h"

namespace recur {

void validate(const SamplerOptions& o) {
  check(std::isfinite(o.temperature) && o.temperature > 0,
        "sampler: --temperature must be positive, got " + std::to_string(o.temperature));
  check(o.top_k >= 0, "sampler: --top-k must be >= 0, got " + std::to_string(o.top_k));
  check(o.top_p > 0 && o.top_p <= 1, "sampler: --top-p must be in (0, 1], got " + std::to_string(o.top_p));
}

int32_t sample_token(std::span<const float> logits, const SamplerOptions& o, Rng& rng, SamplerWorkspace& ws) {
  check(!logits.empty(), "sampler: empty logits");
  const auto V = static_cast<int32_t>(logits.size());
  if (o.greedy) return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());

  ws.order.resize(static_cast<size_t>(V));
  std::iota(ws.order.begin(), ws.order.end(), 0);
  // Most likely first; index breaks ties so the result is deterministic.
  auto more_likely = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  int32_t keep = V;
  if (o.top_k > 0 && o.top_k < V) {
    keep = o.top_k;
    std::partial_sort(ws.order.begin(), ws.order.begin() + keep, ws.order.end(), more_likely);
  } else if (o.top_p < 1) {
    std::sort(ws.order.begin(), ws.order.end(), more_likely);
  }
  ws.probs.resize(static_cast<size_t>(keep));
  const double max_logit = logits[static_cast<size_t>(
      o.top_k > 0 || o.top_p < 1 ? ws.order[0] : std::max_element(logits.begin(), logits.end()) - logits.begin())];
  double total = 0;
  for (int32_t i = 0; i < keep; ++i) {
    const double p = std::exp((logits[static_cast<size_t>(ws.order[static_cast<size_t>(i)])] - max_logit) / o.temperature);
    ws.probs[static_cast<size_t>(i)] = p;
    total += p;
  }
  if (o.top_p < 1) {
    double mass = 0;
    int32_t nucleus = 0;
    while (nucleus < keep && mass < o.top_p * total) mass += ws.probs[static_cast<size_t>(nucleus++)];
    keep = std::max(nucleus, 1);
    total = mass > 0 ? mass : ws.probs[0];
  }
  double u = rng.uniform() * total;
  for (int32_t i = 0; i < keep; ++i) {
    u -= ws.probs[static_cast<size_t>(i)];
    if (u < 0) return ws.order[static_cast<size_t>(i)];
  }
  return ws.order[static_cast<size_t>(keep - 1)];
}

}  // namespace recur
