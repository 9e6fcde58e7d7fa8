// Softmax cross-entropy rows (see softmax_rows.h): the AVX-512 float kernel, the scalar path and
// the plain reference twin. Glossary: V classes, NV = ceil(V / 16) vectors of 16 floats a row.
//
// The float AVX-512 kernel works on groups of 16 rows: row maxima and row sums of exps are reduced
// 16 rows at a time (one transpose tree instead of a horizontal reduction per row), and the 16
// log-sum-exps cost no log each (see LogProduct). Rows wider than 128 classes go one at a time.
#include "kernels/softmax_rows.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <type_traits>

#if defined(__AVX512F__)
// GCC 12's intrinsics pass _mm512_undefined_ps() through max, min, scalef and the reductions,
// which -Wmaybe-uninitialized reports at every use (GCC bug 105593, fixed in 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include "kernels/elementwise.h"
#include "kernels/fast_math.h"

namespace recur::kernels {

namespace {

// --- One row at a time ----------------------------------------------------------------------------
// z [V] holds one row of logits without the bias. Returns lse(z + b) - (z + b)_target; with `grad`,
// overwrites z with coef * (softmax(z + b) - onehot(target)).

template <Scalar T>
double row_loss_scalar(int64_t V, T* __restrict__ z, const T* __restrict__ bias, int32_t target, T coef,
                       bool grad) {
  if (bias)
    for (int64_t c = 0; c < V; ++c) z[c] += bias[c];
  T m = z[0];  // the row maximum, shifted out so that every exp is at most 1
  for (int64_t c = 1; c < V; ++c) m = z[c] > m ? z[c] : m;
  const T zt = z[target];
  double total = 0;
  for (int64_t c = 0; c < V; ++c) {
    T e;
    if constexpr (std::is_same_v<T, float>) {
      e = exp_approx(z[c] - m);
    } else {
      e = std::exp(z[c] - m);
    }
    total += static_cast<double>(e);
    if (grad) z[c] = e;
  }
  if (grad) {
    const T f = static_cast<T>(static_cast<double>(coef) / total);
    for (int64_t c = 0; c < V; ++c) z[c] *= f;
    z[target] -= coef;
  }
  return static_cast<double>(m) + std::log(total) - static_cast<double>(zt);
}

// The block, one row at a time through row_loss(V, row, bias, target, coef, grad); the column sums
// of dlogits afterwards, in one pass.
template <Scalar T, typename RowLoss>
double rows_one_at_a_time(int64_t rows, int64_t V, T* z, const T* bias, const int32_t* targets, const T* mask,
                          T coef, bool grad, T* dbias, RowLoss row_loss) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    T* row = z + r * V;
    if (mask && mask[r] == T(0)) {  // a skipped row's logits may hold anything, even NaN
      if (grad) std::fill_n(row, V, T(0));
      continue;
    }
    total += row_loss(V, row, bias, targets[r], coef, grad);
  }
  if (grad && dbias) sum_rows_into<T>(rows, V, T(1), z, dbias);
  return total;
}

#if defined(__AVX512F__)
// exp_approx on 16 lanes for x <= 0 (logits minus their row maximum) or NaN: the same reduction
// and polynomial, 2^n applied by scalef (which underflows gracefully, so no clamp to 0 is needed
// below -104). The constants go first in min/max so that a NaN x passes through.
inline __m512 exp16_nonpositive(__m512 x) {
  const __m512 xc = _mm512_min_ps(_mm512_set1_ps(0.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  const __m512 fn = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(fn, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(fn, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 e = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(e, fn);
}

// The lanes of the vector starting at column c that lie inside the row [0, V).
inline __mmask16 lanes(int64_t V, int64_t c) {
  return V - c >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (V - c)) - 1u);
}

// One row of any V (the wide rows of a large head): three passes over the row (bias and maximum,
// exp and sum, scale), which stays in L1 between them.
double row_loss_avx512(int64_t V, float* z, const float* bias, int32_t target, float coef, bool grad) {
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t c = 0; c < V; c += 16) {
    const __mmask16 k = lanes(V, c);
    __m512 v = _mm512_maskz_loadu_ps(k, z + c);
    if (bias) {
      v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias + c));
      _mm512_mask_storeu_ps(z + c, k, v);
    }
    vmax = _mm512_mask_max_ps(vmax, k, vmax, v);
  }
  const float m = _mm512_reduce_max_ps(vmax);
  const float zt = z[target];
  const __m512 vm = _mm512_set1_ps(m);
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t c = 0; c < V; c += 16) {
    const __mmask16 k = lanes(V, c);
    const __m512 e =
        _mm512_maskz_mov_ps(k, exp16_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, z + c), vm)));
    vsum = _mm512_add_ps(vsum, e);
    if (grad) _mm512_mask_storeu_ps(z + c, k, e);
  }
  const float total = _mm512_reduce_add_ps(vsum);
  if (grad) {
    const __m512 f = _mm512_set1_ps(coef / total);
    for (int64_t c = 0; c < V; c += 16) {
      const __mmask16 k = lanes(V, c);
      _mm512_mask_storeu_ps(z + c, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, z + c), f));
    }
    z[target] -= coef;
  }
  return static_cast<double>(m) + std::log(static_cast<double>(total)) - static_cast<double>(zt);
}

// Lane r of the result is the sum (kMax: maximum) of the 16 lanes of v[r]: a transpose-and-add
// tree, 31 shuffles for 16 rows instead of 4 dependent shuffles in every row.
template <bool kMax>
inline __m512 reduce16(const __m512* v) {
  auto op = [](__m512 a, __m512 b) { return kMax ? _mm512_max_ps(a, b) : _mm512_add_ps(a, b); };
  __m512 b[8], c[4], d[2];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)  // 256-bit halves: b[i] = [v[2i] (8 lanes), v[2i+1] (8 lanes)]
    b[i] = op(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
              _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i)  // 128-bit quarters: c[i] = [v[4i], v[4i+1], v[4i+2], v[4i+3]] (4 lanes each)
    c[i] = op(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0x88),
              _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0xDD));
#pragma GCC unroll 2
  for (int j = 0; j < 2; ++j)
    d[j] = op(_mm512_unpacklo_ps(c[2 * j], c[2 * j + 1]), _mm512_unpackhi_ps(c[2 * j], c[2 * j + 1]));
  // Lane 4L + k now holds row L, 8 + L, 4 + L, 12 + L for k = 0, 1, 2, 3: put row r in lane r.
  const __m512 e = op(_mm512_unpacklo_ps(d[0], d[1]), _mm512_unpackhi_ps(d[0], d[1]));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(order, e);
}

// Sums of log(S) over many rows without a log per row: the row sums S (in [1, V]) multiply into
// 8 double lanes whose exponents are moved out after each group, so nothing overflows; the logs
// are taken once per block.
struct LogProduct {
  __m512d mantissa = _mm512_set1_pd(1.0);
  __m512d exponent = _mm512_setzero_pd();

  void multiply(__m512 s) {
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(s));
    const __m512d hi = _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_shuffle_f32x4(s, s, 0xEE)));
    const __m512d m = _mm512_mul_pd(mantissa, _mm512_mul_pd(lo, hi));
    exponent = _mm512_add_pd(exponent, _mm512_getexp_pd(m));
    mantissa = _mm512_getmant_pd(m, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
  }
  [[nodiscard]] double log() const {
    alignas(64) double m[8], e[8];
    _mm512_store_pd(m, mantissa);
    _mm512_store_pd(e, exponent);
    double total = 0;
    for (int i = 0; i < 8; ++i) total += std::log(m[i]) + e[i] * std::numbers::ln2;
    return total;
  }
};

// --- A group of n <= 16 rows, in three phases so that the per-row reductions run 16 at a time ------
// z is the group's first row (row stride V); k [NV] the lanes of each vector inside the row;
// `bias` the NV vectors of the bias values `bias_values` (both null without bias). The phases are
// separate functions for reading; always_inline keeps them one loop nest with group_loss.

// Phase 1: row maxima of z + b into m [16] and target logits into zt [16] (rows past n: 0), with
// acc [16] (per row, the lane-wise maxima) as scratch, left 0 past n. Returns the mask of the rows
// that count.
template <int NV>
[[gnu::always_inline]] inline __mmask16 group_maxima(int64_t V, int n, const float* z, const __mmask16* k,
                                                     const __m512* bias, const float* bias_values,
                                                     const int32_t* targets, const float* mask, __m512* acc,
                                                     float* m, float* zt) {
  __mmask16 counted = 0;
  for (int r = 0; r < 16; ++r) {
    if (r >= n) {
      acc[r] = _mm512_setzero_ps();
      zt[r] = 0.0f;
      continue;
    }
    if (mask == nullptr || mask[r] != 0.0f) counted |= static_cast<__mmask16>(1u << r);
    const float* row = z + r * V;
    __m512 mx = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      __m512 v = _mm512_maskz_loadu_ps(k[j], row + 16 * j);
      // The bias is added again in phase 2 rather than stored: a load right after a masked store
      // to the same row would stall.
      if (bias) v = _mm512_add_ps(v, bias[j]);
      mx = _mm512_mask_max_ps(mx, k[j], mx, v);
    }
    acc[r] = mx;
    const int32_t t = targets[r];
    zt[r] = bias ? row[t] + bias_values[t] : row[t];
  }
  _mm512_store_ps(m, reduce16<true>(acc));
  return counted;
}

// Phase 2: exps of z + b - m, kept in exps [16][NV * 16] with `grad`; returns the row sums S
// (lane r for row r). acc [16] is phase 1's, so 0 past n: those lanes of S are 0.
template <int NV>
[[gnu::always_inline]] inline __m512 group_sums(int64_t V, int n, const float* z, const __mmask16* k,
                                                const __m512* bias, const float* m, bool grad, __m512* acc,
                                                float (*exps)[NV * 16]) {
  for (int r = 0; r < n; ++r) {
    const float* row = z + r * V;
    const __m512 mb = _mm512_set1_ps(m[r]);
    __m512 s = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      __m512 v = _mm512_maskz_loadu_ps(k[j], row + 16 * j);
      if (bias) v = _mm512_add_ps(v, bias[j]);
      const __m512 e = _mm512_maskz_mov_ps(k[j], exp16_nonpositive(_mm512_sub_ps(v, mb)));
      s = _mm512_add_ps(s, e);
      if (grad) _mm512_store_ps(exps[r] + 16 * j, e);
    }
    acc[r] = s;
  }
  return reduce16<false>(acc);
}

// Phase 3: dlogits = exps f_r - coef onehot(t_r) into the rows of z (0 in the rows that do not
// count), and their column sums into dbias [NV].
template <int NV>
[[gnu::always_inline]] inline void group_dlogits(int64_t V, int n, float* z, const __mmask16* k,
                                                 const int32_t* targets, __mmask16 counted, const float* f,
                                                 float coef, const float (*exps)[NV * 16], __m512* dbias) {
  const __m512 cb = _mm512_set1_ps(coef);
  for (int r = 0; r < n; ++r) {
    float* row = z + r * V;
    if (((counted >> r) & 1u) == 0) {  // a skipped row's gradient is 0 (its exps may be NaN)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) _mm512_mask_storeu_ps(row + 16 * j, k[j], _mm512_setzero_ps());
      continue;
    }
    const __m512 fb = _mm512_set1_ps(f[r]);
    const int32_t t = targets[r];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      // - coef at the target's lane, in the vector (a scalar update after the store would stall).
      const int32_t lane = t - 16 * j;
      const auto onehot = static_cast<__mmask16>(lane >= 0 && lane < 16 ? 1u << lane : 0u);
      __m512 p = _mm512_mul_ps(_mm512_load_ps(exps[r] + 16 * j), fb);
      p = _mm512_mask_sub_ps(p, onehot, p, cb);
      _mm512_mask_storeu_ps(row + 16 * j, k[j], p);
      dbias[j] = _mm512_add_ps(dbias[j], p);  // lanes past V are 0
    }
  }
}

// Rows [0, n) of the group, as row_loss does for one row. Adds lse_i - z_{i t_i} of the counted
// rows into `terms` (as m_i - z_{i t_i}) and `logs` (as S_i), and with `grad` the dlogits rows
// into `dbias` (NV vectors). `targets` and `mask` (null: all rows count) start at the group's row 0.
template <int NV>
void group_loss(int64_t V, int n, float* z, const __m512* bias, const float* bias_values,
                const int32_t* targets, const float* mask, float coef, bool grad, __m512d& terms,
                LogProduct& logs, __m512* dbias) {
  __mmask16 k[NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) k[j] = lanes(V, 16 * j);
  __m512 acc[16];                          // per row: the vector the phases reduce across lanes
  alignas(64) float m[16], zt[16], f[16];  // per row: maximum, target logit, coef / S
  // [16][NV * 16] the exps between phases 2 and 3: whole aligned vectors, since a masked store
  // into the row does not forward to the load that reads it back (that stall cost more than the exps).
  alignas(64) float exps[16][NV * 16];
  const __mmask16 counted = group_maxima<NV>(V, n, z, k, bias, bias_values, targets, mask, acc, m, zt);
  // Uncounted rows (masked out, or past n) contribute S = 1 and m - z_t = 0; their values may be NaN.
  const __m512 S = _mm512_mask_blend_ps(counted, _mm512_set1_ps(1.0f),
                                        group_sums<NV>(V, n, z, k, bias, m, grad, acc, exps));
  logs.multiply(S);
  const __m512 d = _mm512_maskz_sub_ps(counted, _mm512_load_ps(m), _mm512_load_ps(zt));
  terms = _mm512_add_pd(terms, _mm512_cvtps_pd(_mm512_castps512_ps256(d)));
  terms = _mm512_add_pd(terms, _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_shuffle_f32x4(d, d, 0xEE))));
  if (!grad) return;
  _mm512_store_ps(f, _mm512_div_ps(_mm512_set1_ps(coef), S));
  group_dlogits<NV>(V, n, z, k, targets, counted, f, coef, exps, dbias);
}

// The block in groups of 16 rows, for rows of NV vectors (V in (16 (NV - 1), 16 NV]).
template <int NV>
double rows_in_groups(int64_t rows, int64_t V, float* z, const float* bias, const int32_t* targets,
                      const float* mask, float coef, bool grad, float* dbias) {
  __m512 b[NV], db[NV];  // the bias and the block's column sums of dlogits, NV vectors each
  for (int j = 0; j < NV; ++j) {
    b[j] = bias ? _mm512_maskz_loadu_ps(lanes(V, 16 * j), bias + 16 * j) : _mm512_setzero_ps();
    db[j] = _mm512_setzero_ps();
  }
  __m512d terms = _mm512_setzero_pd();
  LogProduct logs;
  for (int64_t r = 0; r < rows; r += 16) {
    group_loss<NV>(V, static_cast<int>(std::min<int64_t>(16, rows - r)), z + r * V, bias ? b : nullptr, bias,
                   targets + r, mask ? mask + r : nullptr, coef, grad, terms, logs, db);
  }
  if (dbias) {
    for (int j = 0; j < NV; ++j) {
      const __mmask16 k = lanes(V, 16 * j);
      _mm512_mask_storeu_ps(dbias + 16 * j, k,
                            _mm512_add_ps(_mm512_maskz_loadu_ps(k, dbias + 16 * j), db[j]));
    }
  }
  alignas(64) double t[8];
  _mm512_store_pd(t, terms);
  double total = logs.log();
  for (double v : t) total += v;
  return total;
}

using RowsFn = double (*)(int64_t, int64_t, float*, const float*, const int32_t*, const float*, float, bool,
                          float*);
// rows_in_groups<NV> by NV, up to 128 classes; wider rows are worth one at a time.
constexpr RowsFn kRowsInGroups[] = {nullptr,
                                    &rows_in_groups<1>,
                                    &rows_in_groups<2>,
                                    &rows_in_groups<3>,
                                    &rows_in_groups<4>,
                                    &rows_in_groups<5>,
                                    &rows_in_groups<6>,
                                    &rows_in_groups<7>,
                                    &rows_in_groups<8>};
constexpr int64_t kMaxGroupedVectors = 8;
#endif

}  // namespace

template <Scalar T>
double softmax_cross_entropy_rows(int64_t rows, int64_t V, T* z, const T* bias, const int32_t* targets,
                                  const T* mask, T coef, bool grad, T* dbias) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    const int64_t NV = (V + 15) / 16;
    if (NV <= kMaxGroupedVectors)
      return kRowsInGroups[NV](rows, V, z, bias, targets, mask, coef, grad, dbias);
    return rows_one_at_a_time<float>(rows, V, z, bias, targets, mask, coef, grad, dbias,
                                     [](auto... row_args) { return row_loss_avx512(row_args...); });
  }
#endif
  return softmax_cross_entropy_rows_scalar<T>(rows, V, z, bias, targets, mask, coef, grad, dbias);
}

template <Scalar T>
double softmax_cross_entropy_rows_scalar(int64_t rows, int64_t V, T* z, const T* bias, const int32_t* targets,
                                         const T* mask, T coef, bool grad, T* dbias) {
  return rows_one_at_a_time<T>(rows, V, z, bias, targets, mask, coef, grad, dbias,
                               [](auto... row_args) { return row_loss_scalar<T>(row_args...); });
}

// Plain loops in double with std::exp: z_ij + b_j is formed again in each pass.
template <Scalar T>
double softmax_cross_entropy_rows_reference(int64_t rows, int64_t V, T* z, const T* bias,
                                            const int32_t* targets, const T* mask, T coef, bool grad,
                                            T* dbias) {
  auto logit = [&](int64_t r, int64_t c) {
    return static_cast<double>(z[r * V + c]) + (bias ? static_cast<double>(bias[c]) : 0.0);
  };
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (mask && mask[r] == T(0)) {
      if (grad)
        for (int64_t c = 0; c < V; ++c) z[r * V + c] = T(0);
      continue;
    }
    double m = logit(r, 0);
    for (int64_t c = 1; c < V; ++c) m = std::max(m, logit(r, c));
    double sum = 0;
    for (int64_t c = 0; c < V; ++c) sum += std::exp(logit(r, c) - m);
    total += m + std::log(sum) - logit(r, targets[r]);
    if (!grad) continue;
    for (int64_t c = 0; c < V; ++c) {  // z_rc is read (in logit) before it is overwritten
      const double p = std::exp(logit(r, c) - m) / sum;
      z[r * V + c] = static_cast<T>(static_cast<double>(coef) * (p - (c == targets[r] ? 1.0 : 0.0)));
    }
  }
  if (grad && dbias)
    for (int64_t c = 0; c < V; ++c) {
      double s = 0;
      for (int64_t r = 0; r < rows; ++r) s += static_cast<double>(z[r * V + c]);
      dbias[c] += static_cast<T>(s);
    }
  return total;
}

template double softmax_cross_entropy_rows<float>(int64_t, int64_t, float*, const float*, const int32_t*,
                                                  const float*, float, bool, float*);
template double softmax_cross_entropy_rows<double>(int64_t, int64_t, double*, const double*, const int32_t*,
                                                   const double*, double, bool, double*);
template double softmax_cross_entropy_rows_scalar<float>(int64_t, int64_t, float*, const float*,
                                                         const int32_t*, const float*, float, bool, float*);
template double softmax_cross_entropy_rows_scalar<double>(int64_t, int64_t, double*, const double*,
                                                          const int32_t*, const double*, double, bool,
                                                          double*);
template double softmax_cross_entropy_rows_reference<float>(int64_t, int64_t, float*, const float*,
                                                            const int32_t*, const float*, float, bool,
                                                            float*);
template double softmax_cross_entropy_rows_reference<double>(int64_t, int64_t, double*, const double*,
                                                             const int32_t*, const double*, double, bool,
                                                             double*);

}  // namespace recur::kernels
