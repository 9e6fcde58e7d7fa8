// Vectorizable exp, tanh and sigmoid for the element-wise loops of the kernels (libm's do not
// vectorize without fast-math). float gets polynomial approximations of about 1 ulp; double
// calls std:: because double is for gradient checks and reference vectors, where accuracy is the
// point. Same functions as the private ones in elementwise.cpp (which can include this header).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace recur::kernels {

// exp(x) for float (Cephes expf, S. L. Moshier): with n = round(x / ln 2) and r = x - n ln 2 (ln 2
// split in two parts so r is exact), exp(x) = 2^n exp(r), exp(r) from a degree-5 polynomial on
// |r| <= ln 2 / 2. 2^n is applied as 2^(n/2) 2^(n - n/2) so both factors stay normal floats.
inline float exp_approx(float x) {
  constexpr float kHigh = 88.72283935546875f;                    // above: overflow to +inf
  constexpr float kLow = -104.0f;                                // below: 0
  constexpr float kRound = 12582912.0f;                          // 1.5 * 2^23: (t + kRound) - kRound rounds t
  const float xc = x >= kLow ? (x <= kHigh ? x : kHigh) : kLow;  // NaN -> kLow, restored below
  const float fn = (xc * 1.44269504088896341f + kRound) - kRound;
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * (r * r) + r + 1.0f;
  const auto n = static_cast<int32_t>(fn);
  const int32_t half = n / 2;
  const float scale_a = std::bit_cast<float>((half + 127) << 23);
  const float scale_b = std::bit_cast<float>((n - half + 127) << 23);
  float y = e * scale_a * scale_b;
  y = x > kHigh ? std::numeric_limits<float>::infinity() : y;
  y = x < kLow ? 0.0f : y;
  return x != x ? x : y;
}

// tanh(x) for float: 1 - 2 / (exp(2|x|) + 1) with the sign of x for |x| > 0.625, and Cephes
// tanhf's odd polynomial x + x^3 P(x^2) below, where the exp form would cancel.
inline float tanh_approx(float x) {
  const float ax = std::abs(x);
  const float big = 1.0f - 2.0f / (exp_approx(2.0f * ax) + 1.0f);
  const float s = x * x;
  float p = -5.70498872745e-3f;
  p = p * s + 2.06390887954e-2f;
  p = p * s - 5.37397155531e-2f;
  p = p * s + 1.33314422036e-1f;
  p = p * s - 3.33332819422e-1f;
  const float small = p * s * x + x;
  return ax > 0.625f ? (x < 0.0f ? -big : big) : small;
}

template <typename T>
inline T fast_tanh(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return tanh_approx(x);
  } else {
    return std::tanh(x);
  }
}

template <typename T>
inline T fast_sigmoid(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return 1.0f / (1.0f + exp_approx(-x));
  } else {
    return 1.0 / (1.0 + std::exp(-x));
  }
}

}  // namespace recur::kernels
