// linear_cross_entropy: a language model's output head, logits = x W^T + b followed by softmax
// cross-entropy, as one op with the value and gradients of linear() then softmax_cross_entropy()
// (formulas in cross_entropy.cpp and matmul.cpp).
//
// Why fused: for the thin heads of character models (V ~ 28-65 classes, I ~ 32-512 inputs,
// N = T*B ~ 30k rows) the unfused pair spends its time on passes over [N, V] (logits, their
// gradient, its zero-fill, two softmax passes) and on OpenBLAS packing W in each of its four calls,
// not on arithmetic. Here the logits are no graph value. The forward computes a block of rows of
// logits and, while the block is in L1/L2, turns each row into its loss term and overwrites it with
//   dlogits_i = (softmax(logits_i) - onehot(t_i)) * w_i / count      (w_i the mask value, or 1)
// in an [N, V] auxiliary node (reused from step to step with the graph's buffers). With s the
// loss's upstream gradient, the gradients are then
//   dx = s dlogits W,   dW += s dlogits^T x,   db += s sum_rows(dlogits).
// In no-grad mode (or when nothing needs a gradient) only the loss is computed, through a small
// scratch block.
//
// Two paths, by head size:
//   small (V * I <= 64Ki elements, W within 256 KiB as float): row blocks on recur's own threads
//     (recur::num_threads() of them). OpenBLAS is not called inside them, since its pool serializes
//     concurrent callers: the products run in packed_gemm against W^T (forward) or W (backward),
//     packed once per call, and in add_at_b. dlogits^T x and the column sums are taken in the
//     forward, block by block while the block is in cache, one sum per thread kept in a second
//     auxiliary node; the backward scales their total by s and computes dx.
//   large (word level, V ~ 14k): OpenBLAS over all rows at once (it threads itself), the softmax
//     rows on recur's threads, and the three products in the backward through OpenBLAS.
//
// The float softmax (AVX-512) works on groups of 16 rows: row maxima and row sums of exps are
// reduced 16 rows at a time (one transpose tree instead of a horizontal reduction per row), and
// the 16 log-sum-exps cost no log each (see LogProduct).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
// GCC 12's intrinsics pass _mm512_undefined_ps() through max, min, scalef and the reductions,
// which -Wmaybe-uninitialized reports at every use (GCC bug 105593, fixed in 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include "autograd/ops/cross_entropy_checks.h"
#include "core/parallel.h"
#include "kernels/add_at_b.h"
#include "kernels/elementwise.h"
#include "kernels/fast_math.h"
#include "kernels/gemm.h"
#include "kernels/packed_gemm.h"
#include "recur/core/error.h"
#include "recur/autograd/ops.h"
#include "recur/core/threads.h"

namespace recur {

namespace {

using kernels::Trans;

constexpr int64_t kSmallHead = int64_t{1} << 16;  // V * I elements: W within 256 KiB as float, L2-resident
constexpr int64_t kMinPartRows = 64;
// Multiply-adds below which a second thread does not pay for its start (~20 us).
constexpr int64_t kMinParallelWork = int64_t{1} << 17;
// No-grad large head: logits scratch per block, in elements (16 MiB as float): OpenBLAS packs W
// again for every block, so blocks of a few hundred rows.
constexpr int64_t kLargeScratch = int64_t{1} << 22;

// Buffers of the calling thread, kept from call to call so that a training loop stops allocating.
// Each is filled and used within one forward or one backward call, so the backward closure of an
// earlier call never finds another call's contents.
template <Scalar T>
struct Workspace {
  kernels::PackedMatrix<T> packed;  // W^T [I, V] in the forward, W [V, I] in the backward
  std::vector<T> scratch;           // per part: a block of logits (forward) or of s dlogits W (backward)
  std::vector<double> losses;       // [parts]
};

template <Scalar T>
Workspace<T>& workspace() {
  static thread_local Workspace<T> w;
  return w;
}

// How many row blocks (threads) for N rows costing `work_per_row` multiply-adds each.
int part_count(int64_t N, int64_t work_per_row) {
  const int threads = num_threads();
  if (threads <= 1 || N * work_per_row < kMinParallelWork) return 1;
  return static_cast<int>(std::clamp<int64_t>(N / kMinPartRows, 1, threads));
}

// --- One row: logits -> loss term (and dlogits) ----------------------------------------------------
// z [V] holds x_i W^T without the bias. Returns lse(z + b) - (z + b)_target; with `grad`,
// overwrites z with coef * (softmax(z + b) - onehot(target)).

template <Scalar T>
double row_loss_plain(int64_t V, T* __restrict__ z, const T* __restrict__ bias, int32_t target, T coef,
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
      e = kernels::exp_approx(z[c] - m);
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

#if defined(__AVX512F__)
// kernels::exp_approx on 16 lanes for x <= 0 (logits minus their row maximum) or NaN: the same
// reduction and polynomial, 2^n applied by scalef (which underflows gracefully, so no clamp to 0
// is needed below -104). The constants go first in min/max so that a NaN x passes through.
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

inline __mmask16 lanes(int64_t V, int64_t c) {
  return V - c >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (V - c)) - 1u);
}

// One row of any V (the wide rows of a large head): three passes over the row (bias and maximum,
// exp and sum, scale), which stays in L1 between them.
double row_loss_loop(int64_t V, float* z, const float* bias, int32_t target, float coef, bool grad) {
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

// Rows [0, n) (n <= 16) of z (row stride V, NV = ceil(V / 16) vectors a row), as row_loss does
// for one row, in three phases over the group so that the per-row reductions run 16 at a time:
// row maxima; exps and row sums; scaling into dlogits. `bias` holds the NV vectors of
// `bias_values` (both null without bias). `targets` and `mask` (null: all rows count) start at
// the group's first row. Adds lse_i - z_{i t_i} of the counted rows into `terms` (as
// m_i - z_{i t_i}) and `logs` (as S_i), and with `grad` the dlogits rows into `dbias` (NV vectors).
template <int NV>
void group_loss(int64_t V, int n, float* z, const __m512* bias, const float* bias_values,
                const int32_t* targets, const float* mask, float coef, bool grad, __m512d& terms,
                LogProduct& logs, __m512* dbias) {
  __mmask16 k[NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) k[j] = lanes(V, 16 * j);
  __m512 acc[16];
  alignas(64) float m[16], zt[16], f[16];
  // The exps between phases 2 and 3: whole aligned vectors, since a masked store into the row does
  // not forward to the load that reads it back (measured: that stall cost more than the exps).
  alignas(64) float exps[16][NV * 16];
  __mmask16 counted = 0;
  for (int r = 0; r < 16; ++r) {
    if (r >= n) {
      acc[r] = _mm512_setzero_ps();
      m[r] = zt[r] = 0.0f;
      continue;
    }
    if (mask == nullptr || mask[r] != 0.0f) counted |= static_cast<__mmask16>(1u << r);
    float* row = z + r * V;
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
  for (int r = 0; r < n; ++r) {
    float* row = z + r * V;
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
  // Uncounted rows (masked out, or past n) contribute S = 1 and m - z_t = 0; their values may be NaN.
  const __m512 S = _mm512_mask_blend_ps(counted, _mm512_set1_ps(1.0f), reduce16<false>(acc));
  logs.multiply(S);
  const __m512 d = _mm512_maskz_sub_ps(counted, _mm512_load_ps(m), _mm512_load_ps(zt));
  terms = _mm512_add_pd(terms, _mm512_cvtps_pd(_mm512_castps512_ps256(d)));
  terms = _mm512_add_pd(terms, _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_shuffle_f32x4(d, d, 0xEE))));
  if (!grad) return;
  _mm512_store_ps(f, _mm512_div_ps(_mm512_set1_ps(coef), S));
  for (int r = 0; r < n; ++r) {
    float* row = z + r * V;
    if (((counted >> r) & 1u) == 0) {  // a skipped row's gradient is 0 (its exps may be NaN)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) _mm512_mask_storeu_ps(row + 16 * j, k[j], _mm512_setzero_ps());
      continue;
    }
    const __m512 fb = _mm512_set1_ps(f[r]);
    const __m512 cb = _mm512_set1_ps(coef);
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

template <int NV>
double block_loss_groups(int64_t first, int64_t rows, int64_t V, float* z, const float* bias,
                         std::span<const int32_t> targets, std::span<const float> mask, float coef, bool grad,
                         float* dbias) {
  __m512 b[NV], db[NV];
  for (int j = 0; j < NV; ++j) {
    b[j] = bias ? _mm512_maskz_loadu_ps(lanes(V, 16 * j), bias + 16 * j) : _mm512_setzero_ps();
    db[j] = _mm512_setzero_ps();
  }
  __m512d terms = _mm512_setzero_pd();
  LogProduct logs;
  for (int64_t r = 0; r < rows; r += 16) {
    const auto i = static_cast<size_t>(first + r);
    group_loss<NV>(V, static_cast<int>(std::min<int64_t>(16, rows - r)), z + r * V, bias ? b : nullptr, bias,
                   targets.data() + i, mask.empty() ? nullptr : mask.data() + i, coef, grad, terms, logs, db);
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
#endif

template <Scalar T>
double row_loss(int64_t V, T* z, const T* bias, int32_t target, T coef, bool grad) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) return row_loss_loop(V, z, bias, target, coef, grad);
#endif
  return row_loss_plain<T>(V, z, bias, target, coef, grad);
}

// Rows [0, rows) of a block whose logits (without bias) are in z [rows, V]; row r of the block is
// row `first + r` of the batch. Returns the block's summed loss terms; with `grad` overwrites z
// with dlogits, and adds their column sums into `dbias` unless it is null.
template <Scalar T>
double block_loss(int64_t first, int64_t rows, int64_t V, T* z, const T* bias,
                  std::span<const int32_t> targets, std::span<const T> mask, T coef, bool grad,
                  T* dbias = nullptr) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    switch ((V + 15) / 16) {  // up to 128 classes; wider rows are worth one at a time
      case 1:
        return block_loss_groups<1>(first, rows, V, z, bias, targets, mask, coef, grad, dbias);
      case 2:
        return block_loss_groups<2>(first, rows, V, z, bias, targets, mask, coef, grad, dbias);
      case 3:
        return block_loss_groups<3>(first, rows, V, z, bias, targets, mask, coef, grad, dbias);
      case 4:
        return block_loss_groups<4>(first, rows, V, z, bias, targets, mask, coef, grad, dbias);
      case 5:
        return block_loss_groups<5>(first, rows, V, z, bias, targets, mask, coef, grad, dbias);
      case 6:
        return block_loss_groups<6>(first, rows, V, z, bias, targets, mask, coef, grad, dbias);
      case 7:
        return block_loss_groups<7>(first, rows, V, z, bias, targets, mask, coef, grad, dbias);
      case 8:
        return block_loss_groups<8>(first, rows, V, z, bias, targets, mask, coef, grad, dbias);
      default:
        break;
    }
  }
#endif
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const auto i = static_cast<size_t>(first + r);
    T* row = z + r * V;
    if (!mask.empty() && mask[i] == T(0)) {  // a skipped row's logits may hold anything, even NaN
      if (grad) std::fill_n(row, V, T(0));
      continue;
    }
    total += row_loss<T>(V, row, bias, targets[i], coef, grad);
  }
  if (grad && dbias) kernels::sum_rows_into<T>(rows, V, T(1), z, dbias);
  return total;
}

// Rows of a block per step of a part: the block's logits (rows x V) stay in L1/L2 between the GEMM,
// the softmax and the weight-gradient product. A multiple of 16 (the softmax's row groups).
int64_t block_rows(int64_t V) { return std::clamp<int64_t>((int64_t{8192} / V) / 16 * 16, 16, 256); }

}  // namespace

template <Scalar T>
Var linear_cross_entropy(Graph<T>& g, Var x, Var weight, std::optional<Var> bias,
                         std::span<const int32_t> targets, std::span<const std::type_identity_t<T>> mask) {
  // --- Checks: linear's on the operands, then softmax_cross_entropy's on the logits [N, V] ---
  const Shape& sx = g.shape(x);
  const Shape& sw = g.shape(weight);
  const std::string described = "linear_cross_entropy: x " + sx.str() + ", weight " + sw.str() +
                                (bias ? ", bias " + g.shape(*bias).str() : std::string());
  check<ShapeError>(sx.rank() >= 2 && sw.rank() == 2,
                    described + ": x must have at least 2 dimensions and weight exactly 2");
  const int64_t I = sx.cols();
  const int64_t N = sx.rows();
  const int64_t V = sw[0];
  check<ShapeError>(sw[1] == I, described + ": weight has " + std::to_string(sw[1]) +
                                    " input columns, x has " + std::to_string(I));
  if (bias)
    check<ShapeError>(g.shape(*bias) == Shape{V}, described + ": bias must be [" + std::to_string(V) + "]");
  const int64_t counted = detail::check_cross_entropy_targets<T>("linear_cross_entropy", N, V, targets, mask);

  // --- Forward ---
  Var out = bias ? g.make_node(Shape{1}, {x, weight, *bias}) : g.make_node(Shape{1}, {x, weight});
  const bool grad = g.requires_grad(out);
  const bool want_dw = grad && g.requires_grad(weight) && I > 0;
  const bool want_db = grad && bias && g.requires_grad(*bias);
  const bool small = V * I <= kSmallHead;
  // dlogits [N, V] in an auxiliary node (its memory is reused by the next step's graph), when a
  // gradient is wanted.
  Var buf = grad ? g.make_node(Shape{N, V}, {}, NodeInit::kUninitialized) : Var{};
  T* dl = grad ? g.value(buf) : nullptr;
  const T* xv = g.value(x);
  const T* wv = g.value(weight);
  const T* bv = bias ? g.value(*bias) : nullptr;
  const T coef = T(1) / static_cast<T>(counted);
  const std::span<const T> mask_t(mask.data(), mask.size());
  Workspace<T>& ws = workspace<T>();
  double total = 0;
  int parts = 1;
  // One part's dW and db sums, padded to a multiple of 64 bytes apart (less false sharing).
  const int64_t width = (V * I + V + 15) / 16 * 16;
  Var sums;

  if (small) {
    // Per block of rows: logits into the block's rows of `buf` (no-grad: a scratch block), turned
    // into dlogits in place while in L1/L2; and while the block and its x rows are in cache, dW
    // and db take their share now (unscaled: the backward multiplies by s), one sum per part in
    // the node `sums`, so that the backward reads neither x nor dlogits for them.
    if (I > 0) kernels::pack_matrix<T>(Trans::kYes, I, V, wv, I, ws.packed);  // W^T [I, V]
    parts = part_count(N, V * I);
    const int64_t rows_per_block = block_rows(V);
    ws.losses.assign(static_cast<size_t>(parts), 0.0);
    if (!grad) ws.scratch.resize(static_cast<size_t>(parts * rows_per_block * V));
    if (want_dw || want_db) sums = g.make_node(Shape{parts * width}, {}, NodeInit::kUninitialized);
    T* sums_data = sums.valid() ? g.value(sums) : nullptr;
    for_row_blocks(N, parts, [&](int part, int64_t r0, int64_t r1) {
      T* scratch = ws.scratch.data() + part * rows_per_block * V;
      T* pw = sums_data ? sums_data + part * width : nullptr;
      if (pw) std::fill_n(pw, width, T(0));
      double loss = 0;
      for (int64_t r = r0; r < r1; r += rows_per_block) {
        const int64_t rows = std::min(rows_per_block, r1 - r);
        T* z = grad ? dl + r * V : scratch;  // dlogits in place of the logits
        if (I > 0) {
          kernels::packed_gemm<T>(rows, xv + r * I, I, ws.packed, T(0), z, V);
        } else {
          std::fill_n(z, rows * V, T(0));
        }
        loss += block_loss<T>(r, rows, V, z, bv, targets, mask_t, coef, grad, want_db ? pw + V * I : nullptr);
        if (want_dw) kernels::add_at_b<T>(V, I, rows, z, V, xv + r * I, I, pw, I);
      }
      ws.losses[static_cast<size_t>(part)] = loss;
    });
    for (double l : ws.losses) total += l;
  } else {
    // Grad mode: one OpenBLAS call over all rows into dlogits; no-grad: blocks through scratch.
    const int64_t block = grad ? N : std::max<int64_t>(kMinPartRows, kLargeScratch / V);
    if (!grad) ws.scratch.resize(static_cast<size_t>(std::min(block, N) * V));
    for (int64_t r = 0; r < N; r += block) {
      const int64_t rows = std::min(block, N - r);
      T* z = grad ? dl + r * V : ws.scratch.data();
      kernels::gemm<T>(Trans::kNo, Trans::kYes, rows, V, I, T(1), xv + r * I, I, wv, I, T(0), z, V);
      const int softmax_parts = part_count(rows, 16 * V);  // ~16 operations per logit
      ws.losses.assign(static_cast<size_t>(softmax_parts), 0.0);
      for_row_blocks(rows, softmax_parts, [&](int part, int64_t a, int64_t b) {
        ws.losses[static_cast<size_t>(part)] =
            block_loss<T>(r + a, b - a, V, z + a * V, bv, targets, mask_t, coef, grad);
      });
      for (double l : ws.losses) total += l;
    }
  }
  g.value(out)[0] = static_cast<T>(total / static_cast<double>(counted));
  if (!grad) return out;

  // --- Backward: dx = s dlogits W, dW += s dlogits^T x, db += s sum_rows(dlogits) ---
  g.set_backward(out, [=](Graph<T>& gr) {
    const T s = gr.grad(out)[0];
    const T* d = gr.value(buf);  // dlogits [N, V]
    const T* w = gr.value(weight);
    const bool want_dx = gr.requires_grad(x) && I > 0;
    const GradSlot<T> dx = want_dx ? gr.grad_for_write(x) : GradSlot<T>{};
    T* dw = want_dw ? gr.grad(weight) : nullptr;
    T* db = want_db ? gr.grad(*bias) : nullptr;

    if (!small) {
      const T* xs = gr.value(x);
      const T beta = dx.accumulate ? T(1) : T(0);  // a fresh dx buffer is overwritten, not added to
      if (want_dx) kernels::gemm<T>(Trans::kNo, Trans::kNo, N, I, V, s, d, V, w, I, beta, dx.data, I);
      if (want_dw) kernels::gemm<T>(Trans::kYes, Trans::kNo, V, I, N, s, d, V, xs, I, T(1), dw, I);
      if (want_db) kernels::sum_rows_into<T>(N, V, s, d, db);
      return;
    }
    // dW and db: the forward's per-part sums, scaled.
    if (want_dw || want_db) {
      const T* sum = gr.value(sums);
      for (int64_t j = 0; j < V * I + V; ++j) {
        if ((j < V * I && !want_dw) || (j >= V * I && !want_db)) continue;
        T t = sum[j];
        for (int p = 1; p < parts; ++p) t += sum[p * width + j];
        (j < V * I ? dw[j] : db[j - V * I]) += s * t;
      }
    }
    if (!want_dx) return;
    Workspace<T>& wsb = workspace<T>();
    kernels::pack_matrix<T>(Trans::kNo, V, I, w, I, wsb.packed);  // W [V, I]
    const int dx_parts = part_count(N, V * I);
    const int64_t rows_per_block = block_rows(V);
    if (s != T(1)) wsb.scratch.resize(static_cast<size_t>(dx_parts * rows_per_block * I));
    for_row_blocks(N, dx_parts, [&](int part, int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; r += rows_per_block) {
        const int64_t rows = std::min(rows_per_block, r1 - r);
        T* out_rows = dx.data + r * I;
        if (s == T(1)) {  // the usual case: the loss is the graph's output
          kernels::packed_gemm<T>(rows, d + r * V, V, wsb.packed, dx.accumulate ? T(1) : T(0), out_rows, I);
          continue;
        }
        T* t = wsb.scratch.data() + part * rows_per_block * I;
        kernels::packed_gemm<T>(rows, d + r * V, V, wsb.packed, T(0), t, I);
        if (dx.accumulate) {
          for (int64_t e = 0; e < rows * I; ++e) out_rows[e] += s * t[e];
        } else {
          for (int64_t e = 0; e < rows * I; ++e) out_rows[e] = s * t[e];
        }
      }
    });
  });
  return out;
}

template Var linear_cross_entropy<float>(Graph<float>&, Var, Var, std::optional<Var>,
                                         std::span<const int32_t>, std::span<const float>);
template Var linear_cross_entropy<double>(Graph<double>&, Var, Var, std::optional<Var>,
                                          std::span<const int32_t>, std::span<const double>);

}  // namespace recur
