// Explicit random number generator (xoshiro256**, seeded through splitmix64).
// Passed by reference wherever randomness is needed: there is no global generator, so the same
// seed gives the same bits. The distributions are our own, since std:: distributions differ
// between standard libraries.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <utility>

namespace recur {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { seed_with(seed); }
  void seed_with(uint64_t seed);

  uint64_t next_u64();
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  // Normal via Box-Muller; uses two uniforms per call, keeps no spare value (simple state).
  double normal(double mean = 0.0, double stddev = 1.0);
  // Uniform integer in [0, n), without modulo bias (Lemire's method).
  uint64_t below(uint64_t n);
  // Fisher-Yates shuffle.
  template <typename U>
  void shuffle(std::span<U> items) {
    for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(i)]);
  }

  // The whole state, for checkpoints that resume bit-identically.
  using State = std::array<uint64_t, 4>;
  [[nodiscard]] State state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

 private:
  State s_{};
};

}  // namespace recur
