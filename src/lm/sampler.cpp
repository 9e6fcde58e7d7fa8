// Greedy and truncated-softmax sampling, numerically safe for every temperature.
#include "recur/lm/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
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

namespace {
void check_logits(std::span<const float> logits) {
  check(!logits.empty(), "sampler: empty logits");
  const auto nan = std::find_if(logits.begin(), logits.end(), [](float z) { return std::isnan(z); });
  if (nan != logits.end())
    throw NumericError("sampler: logit " + std::to_string(nan - logits.begin()) + " of " +
                       std::to_string(logits.size()) + " is NaN");
}

// Unnormalized weights exp((z - m) / temperature) of the first `keep` tokens of ws.order, m their
// largest logit: the largest weighs exactly 1, so the sum is in [1, keep] and nothing overflows. A
// token tied with m weighs 1 even when m is infinite or the temperature tiny; as the temperature
// goes to 0 every other weight underflows to 0 (argmax), as it grows they all tend to 1 (uniform).
double fill_weights(std::span<const float> logits, int32_t keep, double temperature, SamplerWorkspace& ws) {
  double max_logit = -std::numeric_limits<double>::infinity();
  for (int32_t i = 0; i < keep; ++i)
    max_logit = std::max<double>(max_logit, logits[static_cast<size_t>(ws.order[static_cast<size_t>(i)])]);
  ws.probs.resize(static_cast<size_t>(keep));
  double total = 0;
  for (int32_t i = 0; i < keep; ++i) {
    const double z = logits[static_cast<size_t>(ws.order[static_cast<size_t>(i)])];
    const double w = z == max_logit ? 1.0 : std::exp((z - max_logit) / temperature);
    ws.probs[static_cast<size_t>(i)] = w;
    total += w;
  }
  return total;
}
}  // namespace

int32_t token_distribution(std::span<const float> logits, const SamplerOptions& o, SamplerWorkspace& ws) {
  check_logits(logits);
  const auto V = static_cast<int32_t>(logits.size());
  ws.order.resize(static_cast<size_t>(V));
  std::iota(ws.order.begin(), ws.order.end(), 0);
  // Most likely first; index breaks ties so the result is deterministic.
  auto more_likely = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  int32_t keep = V;
  if (o.top_k > 0 && o.top_k < V) {
    keep = o.top_k;
    std::partial_sort(ws.order.begin(), ws.order.begin() + keep, ws.order.end(), more_likely);
  } else if (o.top_p < 1) {
    std::sort(ws.order.begin(), ws.order.end(), more_likely);
  }
  double total = fill_weights(logits, keep, o.temperature, ws);
  if (o.top_p < 1) {  // the nucleus: the most likely tokens until their mass reaches top_p
    double mass = 0;
    int32_t nucleus = 0;
    while (nucleus < keep && mass < o.top_p * total) mass += ws.probs[static_cast<size_t>(nucleus++)];
    keep = std::max(nucleus, 1);
    total = std::max(mass, ws.probs[0]);
  }
  for (int32_t i = 0; i < keep; ++i) ws.probs[static_cast<size_t>(i)] /= total;
  return keep;
}

int32_t sample_token(std::span<const float> logits, const SamplerOptions& o, Rng& rng, SamplerWorkspace& ws) {
  if (o.greedy) {
    check_logits(logits);
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  const int32_t keep = token_distribution(logits, o, ws);
  double u = rng.uniform();
  int32_t last_possible = 0;
  for (int32_t i = 0; i < keep; ++i) {
    const double p = ws.probs[static_cast<size_t>(i)];
    if (p <= 0) continue;
    last_possible = i;
    u -= p;
    if (u < 0) return ws.order[static_cast<size_t>(i)];
  }
  return ws.order[static_cast<size_t>(last_possible)];  // rounding left u just above 0
}

}  // namespace recur
