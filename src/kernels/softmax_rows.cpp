// Softmax cross-entropy rows (see softmax_rows.h): the float kernel, written once for every SIMD
// target with Google Highway and dispatched at run time (recur/core/simd.h); the scalar path (double,
// and float's portable twin); and the plain reference twin. Glossary: V classes, L lanes of a float
// vector on the target (16 AVX-512, 8 AVX2, 4 SSE4 and NEON, 1 scalar), NV = ceil(V / L) vectors a row.
//
// The float kernel works on groups of L rows: row maxima and row sums of exps are reduced L rows at
// a time (one transpose tree instead of a horizontal reduction per row), and the L log-sum-exps
// cost no log each (see LossTerms). Rows wider than 16 vectors or 128 classes go one at a time.
//
// A row's last vector, when V is not a multiple of L, is loaded from V - L: it overlaps the vector
// before it, and its lanes already covered are masked out of sums (an overlapping vector is safe
// and fast on every target, where masked loads and stores are not). Only rows shorter than one
// vector need partial loads and stores (LoadHead, StoreHead).

// Highway compiles this file once per target: it re-includes itself through foreach_target.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/softmax_rows.cpp"
#include "kernels/softmax_rows.h"

#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernels/elementwise.h"
#include "kernels/fast_math.h"
#include "recur/core/simd.h"

HWY_BEFORE_NAMESPACE();
namespace recur::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using DI = hn::RebindToSigned<D>;
using Vf = hn::Vec<D>;
constexpr int64_t L = static_cast<int64_t>(hn::MaxLanes(D()));

// exp(x) for x <= 0 (logits minus their row maximum) or NaN: exp_approx's reduction and
// polynomial (vector_math-inl.h) without its overflow and NaN fix-ups, which cannot apply here;
// below -104 the result is 0. The constants go first in Min and Max so that a NaN x passes through.
HWY_INLINE Vf ExpNonpositive(D d, Vf x) {
  const Vf xc = hn::Min(hn::Set(d, 0.0f), hn::Max(hn::Set(d, -104.0f), x));
  const Vf log2e = hn::Set(d, 1.44269504088896341f);
#if HWY_TARGET <= HWY_AVX3
  const Vf fn = hn::Round(hn::Mul(xc, log2e));
#else
  // n = round(x / ln 2) by adding 1.5 * 2^23, which also leaves n in the low bits of t (for 2^n
  // below without a float-to-int conversion, which Highway checks for overflow).
  const Vf magic = hn::Set(d, 12582912.0f);
  const Vf t = hn::MulAdd(xc, log2e, magic);
  const Vf fn = hn::Sub(t, magic);
#endif
  Vf r = hn::NegMulAdd(fn, hn::Set(d, 0.693359375f), xc);
  r = hn::NegMulAdd(fn, hn::Set(d, -2.12194440e-4f), r);
  Vf p = hn::Set(d, 1.9875691500e-4f);
  p = hn::MulAdd(p, r, hn::Set(d, 1.3981999507e-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 8.3334519073e-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 4.1665795894e-2f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.6666665459e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 5.0000001201e-1f));
  const Vf e = hn::Add(hn::MulAdd(p, hn::Mul(r, r), r), hn::Set(d, 1.0f));
#if HWY_TARGET <= HWY_AVX3
  // e 2^n in one instruction, rounded once. An intrinsic: Highway 1.0.3 has no ldexp-like op.
  return Vf{_mm512_scalef_ps(e.raw, fn.raw)};
#else
  // e 2^n as (e 2^(n + 64)) 2^-64: the first product is exact (a normal float for n in [-150, 0]),
  // the second rounds once, so that results below 2^-126 come out as scalef's. t's bits are
  // 0x4B400000 + n.
  const DI di;
  const auto scale = hn::ShiftLeft<23>(hn::Add(hn::BitCast(di, t), hn::Set(di, 127 + 64 - 0x4B400000)));
  return hn::Mul(hn::Mul(e, hn::BitCast(d, scale)), hn::Set(d, 0x1p-64f));
#endif
}

// The first n < L floats at p as a vector (lanes past n: 0), and the first n lanes of v stored to
// p; neither touches memory past p + n. Masked loads and stores where they are instructions
// (AVX2's masked store is slow on AMD; Highway 1.0.3's SSE4 MaskedLoad reads a whole aligned
// vector), a copy through an aligned buffer elsewhere. The same as elementwise.cpp's.
HWY_INLINE Vf LoadHead(D d, const float* HWY_RESTRICT p, int64_t n) {
#if HWY_TARGET <= HWY_AVX2
  return hn::MaskedLoad(hn::FirstN(d, static_cast<size_t>(n)), d, p);
#else
  alignas(64) float buffer[L] = {};
  std::copy_n(p, n, buffer);
  return hn::Load(d, buffer);
#endif
}

HWY_INLINE void StoreHead(Vf v, D d, float* HWY_RESTRICT p, int64_t n) {
#if HWY_TARGET <= HWY_AVX3
  hn::BlendedStore(v, hn::FirstN(d, static_cast<size_t>(n)), d, p);
#else
  alignas(64) float buffer[L];
  hn::Store(v, d, buffer);
  std::copy_n(buffer, n, p);
#endif
}

// Sums of floats in double lanes (exact conversions): `lo` and `hi` take the lower and upper halves
// of each vector (on the one-lane scalar target, `lo` takes it all).
#if HWY_TARGET == HWY_SCALAR
using DW = hn::Rebind<double, D>;
HWY_INLINE void AddWidened(Vf v, hn::Vec<DW>& lo, hn::Vec<DW>& /* hi */) {
  lo = hn::Add(lo, hn::PromoteTo(DW(), v));
}
#else
using DW = hn::Repartition<double, D>;
HWY_INLINE void AddWidened(Vf v, hn::Vec<DW>& lo, hn::Vec<DW>& hi) {
  const hn::Half<D> dh;
  lo = hn::Add(lo, hn::PromoteTo(DW(), hn::LowerHalf(dh, v)));
  hi = hn::Add(hi, hn::PromoteTo(DW(), hn::UpperHalf(dh, v)));
}
#endif

// --- One row at a time ----------------------------------------------------------------------------

// One row of V >= L classes (the wide rows of a large head), as row_loss_scalar: three passes over
// the row (bias and maximum, exp and sum, scale), which stays in L1 or L2 between them. Each pass
// loads the overlapping last vector before its stores change the overlapped lanes, and stores it
// after them with the same values. The exps are summed in float per 16 vectors, then in double:
// thousands of them in float would round enough to show in the gradient of a target whose
// probability is near 1 (coef (p - 1)); double for every vector would cost a fifth of the pass.
double RowLoss(int64_t V, float* HWY_RESTRICT z, const float* HWY_RESTRICT bias, int32_t target, float coef,
               bool grad) {
  const D d;
  const int64_t full = V / L * L;  // columns in whole vectors; the rest via the last vector, at V - L
  const bool tail = full < V;
  const auto fresh = hn::Not(hn::FirstN(d, static_cast<size_t>(full + L - V)));  // its lanes not yet covered
  Vf last = hn::LoadU(d, z + V - L);
  Vf vmax = hn::Set(d, -std::numeric_limits<float>::infinity());
  for (int64_t c = 0; c < full; c += L) {
    Vf v = hn::LoadU(d, z + c);
    if (bias) {
      v = hn::Add(v, hn::LoadU(d, bias + c));
      hn::StoreU(v, d, z + c);
    }
    vmax = hn::Max(vmax, v);
  }
  if (tail) {
    if (bias) {
      last = hn::Add(last, hn::LoadU(d, bias + V - L));
      hn::StoreU(last, d, z + V - L);
    }
    vmax = hn::Max(vmax, last);  // a lane counted twice does not change a maximum
  }
  const float m = hn::GetLane(hn::MaxOfLanes(d, vmax));
  const float zt = z[target];
  const Vf vm = hn::Set(d, m);
  last = hn::LoadU(d, z + V - L);
  const DW dw;
  auto lo = hn::Zero(dw), hi = hn::Zero(dw);
  for (int64_t c0 = 0; c0 < full; c0 += 16 * L) {
    Vf sum = hn::Zero(d);
    for (int64_t c = c0; c < std::min(full, c0 + 16 * L); c += L) {
      const Vf e = ExpNonpositive(d, hn::Sub(hn::LoadU(d, z + c), vm));
      sum = hn::Add(sum, e);
      if (grad) hn::StoreU(e, d, z + c);
    }
    AddWidened(sum, lo, hi);
  }
  if (tail) {
    const Vf e = ExpNonpositive(d, hn::Sub(last, vm));
    AddWidened(hn::IfThenElseZero(fresh, e), lo, hi);
    if (grad) hn::StoreU(e, d, z + V - L);
  }
  const double total = hn::GetLane(hn::SumOfLanes(dw, hn::Add(lo, hi)));
  if (grad) {
    const Vf f = hn::Set(d, static_cast<float>(static_cast<double>(coef) / total));
    last = hn::LoadU(d, z + V - L);
    for (int64_t c = 0; c < full; c += L) hn::StoreU(hn::Mul(hn::LoadU(d, z + c), f), d, z + c);
    if (tail) hn::StoreU(hn::Mul(last, f), d, z + V - L);
    z[target] -= coef;
  }
  return static_cast<double>(m) + std::log(total) - static_cast<double>(zt);
}

double RowsOneAtATime(int64_t rows, int64_t V, float* z, const float* bias, const int32_t* targets,
                      const float* mask, float coef, bool grad, float* dbias) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = z + r * V;
    if (mask && mask[r] == 0.0f) {  // a skipped row's logits may hold anything, even NaN
      if (grad) std::fill_n(row, V, 0.0f);
      continue;
    }
    total += RowLoss(V, row, bias, targets[r], coef, grad);
  }
  if (grad && dbias) sum_rows_into<float>(rows, V, 1.0f, z, dbias);
  return total;
}

// --- Groups of L rows -----------------------------------------------------------------------------
// Not on the one-lane scalar target, where a group would be one row.
#if HWY_TARGET != HWY_SCALAR

// Lane r of the result is the sum (kMax: maximum) of the lanes of v[r], for v [L] (overwritten): a
// transpose-and-reduce tree, L - 1 two-shuffle steps for L rows instead of log2(L) dependent
// shuffles in every row. Rows pair up within 128-bit blocks (32-bit, then 64-bit interleaves),
// then across blocks.
template <bool kMax>
HWY_INLINE Vf ReduceRows(D d, Vf* v) {
  static_assert(L == 4 || L == 8 || L == 16, "a 128-bit block holds 4 floats");
  auto op = [](Vf a, Vf b) { return kMax ? hn::Max(a, b) : hn::Add(a, b); };
  const hn::Repartition<double, D> dd;  // pairs of floats
  for (int64_t i = 0; i < L / 2; ++i)   // each block: [2i, 2i+1, 2i, 2i+1]
    v[i] = op(hn::InterleaveLower(d, v[2 * i], v[2 * i + 1]), hn::InterleaveUpper(d, v[2 * i], v[2 * i + 1]));
  for (int64_t i = 0; i < L / 4; ++i) {  // each block: [4i, 4i+1, 4i+2, 4i+3]
    const auto a = hn::BitCast(dd, v[2 * i]), b = hn::BitCast(dd, v[2 * i + 1]);
    v[i] = op(hn::BitCast(d, hn::InterleaveLower(dd, a, b)), hn::BitCast(d, hn::InterleaveUpper(dd, a, b)));
  }
  if constexpr (L == 16) {  // blocks [rows 8i..8i+3, 8i+4..8i+7, the same again]
    for (int64_t i = 0; i < 2; ++i)
      v[i] = op(hn::OddEvenBlocks(hn::SwapAdjacentBlocks(v[2 * i + 1]), v[2 * i]),
                hn::OddEvenBlocks(v[2 * i + 1], hn::SwapAdjacentBlocks(v[2 * i])));
  }
  if constexpr (L >= 8) v[0] = op(hn::ConcatLowerLower(d, v[1], v[0]), hn::ConcatUpperUpper(d, v[1], v[0]));
  return v[0];
}

// The loss terms of a block's rows, per lane of the groups (row r of each group in lane r), in
// double lanes: the counted rows' m - z_t summed, and their row sums S multiplied, with a log per
// lane per 128 groups rather than per row (S is in [1, V] for V <= 128 classes, so 128 groups of
// at most 2^7 cannot overflow).
class LossTerms {
 public:
  // Written out, not defaulted: an implicit constructor would miss the target's instruction set.
  LossTerms()
      : terms_lo_(hn::Zero(DW())),
        terms_hi_(hn::Zero(DW())),
        product_lo_(hn::Set(DW(), 1.0)),
        product_hi_(hn::Set(DW(), 1.0)) {}
  void add(Vf delta, Vf S) {
    AddWidened(delta, terms_lo_, terms_hi_);
    const hn::Half<D> dh;
    product_lo_ = hn::Mul(product_lo_, hn::PromoteTo(DW(), hn::LowerHalf(dh, S)));
    product_hi_ = hn::Mul(product_hi_, hn::PromoteTo(DW(), hn::UpperHalf(dh, S)));
    if (++pending_ == 128) flush();
  }
  [[nodiscard]] double total() {
    flush();
    return log_total_ + hn::GetLane(hn::SumOfLanes(DW(), hn::Add(terms_lo_, terms_hi_)));
  }

 private:
  void flush() {
    alignas(64) double product[L];
    hn::Store(product_lo_, DW(), product);
    hn::Store(product_hi_, DW(), product + L / 2);
    for (double p : product) log_total_ += std::log(p);
    product_lo_ = product_hi_ = hn::Set(DW(), 1.0);
    pending_ = 0;
  }
  hn::Vec<DW> terms_lo_, terms_hi_, product_lo_, product_hi_;
  double log_total_ = 0;
  int pending_ = 0;
};

// The vectors of a row of NV vectors: vector j covers columns [at[j], at[j] + L), the last one
// from V - L (overlapping the one before), or with kHead (V < L) the row's V columns alone. `keep`
// masks the last vector's lanes that count (inside the row, not covered before).
template <int NV, bool kHead>
struct RowVectors {
  int64_t V;
  int64_t at[NV];
  hn::Vec<DI> columns[NV];  // the column of each lane
  hn::Mask<D> keep;

  explicit RowVectors(int64_t classes) : V(classes) {
    const D d;
    for (int j = 0; j < NV; ++j) {
      at[j] = j < NV - 1 || kHead ? L * j : V - L;
      columns[j] = hn::Iota(DI(), static_cast<int32_t>(at[j]));
    }
    keep = kHead ? hn::FirstN(d, static_cast<size_t>(V))
                 : hn::Not(hn::FirstN(d, static_cast<size_t>(L * NV - V)));
  }
  [[nodiscard]] HWY_INLINE Vf load(D d, const float* row, int j) const {
    if constexpr (kHead) return LoadHead(d, row, V);
    return hn::LoadU(d, row + at[j]);
  }
  HWY_INLINE void store(D d, Vf v, float* row, int j) const {
    if constexpr (kHead) {
      StoreHead(v, d, row, V);
    } else {
      hn::StoreU(v, d, row + at[j]);
    }
  }
};

// --- A group of n <= L rows, in three phases so that the per-row reductions run L at a time -------
// z is the group's first row (row stride V); `bias` the NV vectors of the bias values
// `bias_values` (both null without bias). The phases are separate functions for reading;
// HWY_INLINE keeps them one loop nest with RowsInGroups, the bias and dbias vectors in registers.

// Phase 1: row maxima of z + b into m [L] and target logits into zt [L] (rows past n: 0), with
// acc [L] (per row, the lane-wise maxima) as scratch.
template <int NV, bool kHead>
HWY_INLINE void GroupMaxima(D d, const RowVectors<NV, kHead>& rv, int64_t n, const float* z, const Vf* bias,
                            const float* bias_values, const int32_t* targets, Vf* acc, float* m, float* zt) {
  const Vf neg_inf = hn::Set(d, -std::numeric_limits<float>::infinity());
  for (int64_t r = 0; r < L; ++r) {
    if (r >= n) {
      acc[r] = hn::Zero(d);
      zt[r] = 0.0f;
      continue;
    }
    const float* row = z + r * rv.V;
    Vf mx = neg_inf;
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) {
      // The bias is added again in phase 2 rather than stored: storing into the row would make
      // the next loads of it wait.
      Vf v = rv.load(d, row, j);
      if (bias) v = hn::Add(v, bias[j]);
      if (j == NV - 1) v = hn::IfThenElse(rv.keep, v, neg_inf);
      mx = hn::Max(mx, v);
    }
    acc[r] = mx;
    const int32_t t = targets[r];
    zt[r] = bias ? row[t] + bias_values[t] : row[t];
  }
  hn::Store(ReduceRows<true>(d, acc), d, m);
}

// Phase 2: exps of z + b - m, kept in exps [L][NV * L] with `grad` (whole vectors, the last one's
// dropped lanes included); returns the row sums S (lane r for row r; lanes past n: 0).
template <int NV, bool kHead>
HWY_INLINE Vf GroupSums(D d, const RowVectors<NV, kHead>& rv, int64_t n, const float* z, const Vf* bias,
                        const float* m, bool grad, Vf* acc, float (*exps)[NV * L]) {
  for (int64_t r = 0; r < n; ++r) {
    const float* row = z + r * rv.V;
    const Vf mb = hn::Set(d, m[r]);
    Vf sum = hn::Zero(d);
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) {
      Vf v = rv.load(d, row, j);
      if (bias) v = hn::Add(v, bias[j]);
      const Vf e = ExpNonpositive(d, hn::Sub(v, mb));
      sum = hn::Add(sum, j == NV - 1 ? hn::IfThenElseZero(rv.keep, e) : e);
      if (grad) hn::Store(e, d, exps[r] + L * j);
    }
    acc[r] = sum;
  }
  for (int64_t r = n; r < L; ++r) acc[r] = hn::Zero(d);
  return ReduceRows<false>(d, acc);
}

// Phase 3: dlogits = exps f_r - coef onehot(t_r) into the rows of z (0 in the rows that do not
// count), and their column sums into dbias [NV] (the last vector's dropped lanes: 0).
template <int NV, bool kHead>
HWY_INLINE void GroupDlogits(D d, const RowVectors<NV, kHead>& rv, int64_t n, float* z,
                             const int32_t* targets, const float* mask, const float* f, float coef,
                             const float (*exps)[NV * L], Vf* dbias) {
  const DI di;
  const Vf cb = hn::Set(d, coef);
  for (int64_t r = 0; r < n; ++r) {
    float* row = z + r * rv.V;
    if (mask && mask[r] == 0.0f) {  // a skipped row's gradient is 0 (its exps may be NaN)
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) rv.store(d, hn::Zero(d), row, j);
      continue;
    }
    const Vf fb = hn::Set(d, f[r]);
    const auto t = hn::Set(di, targets[r]);
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) {
      // - coef at the target's lane, in the vector (a scalar update after the store would wait for it).
      const auto onehot = hn::RebindMask(d, hn::Eq(rv.columns[j], t));
      Vf p = hn::Mul(hn::Load(d, exps[r] + L * j), fb);
      p = hn::IfThenElse(onehot, hn::Sub(p, cb), p);
      rv.store(d, p, row, j);
      dbias[j] = hn::Add(dbias[j], j == NV - 1 ? hn::IfThenElseZero(rv.keep, p) : p);
    }
  }
}

// Rows [0, n) of the group, as RowLoss does for one row; their loss terms go into `terms`, their
// dlogits' column sums into dbias [NV]. `targets` and `mask` (null: all rows count) start at the
// group's row 0.
template <int NV, bool kHead>
HWY_INLINE void GroupLoss(const RowVectors<NV, kHead>& rv, int64_t n, float* z, const Vf* bias,
                          const float* bias_values, const int32_t* targets, const float* mask, float coef,
                          bool grad, LossTerms& terms, Vf* dbias) {
  const D d;
  Vf acc[L];  // per row: the vector the phases reduce across lanes
  alignas(64) float m[L], zt[L], f[L];
  // [L][NV * L] the exps between phases 2 and 3: whole aligned vectors, since a store into the
  // row would not forward to the load that reads it back (that stall costs more than the copy).
  alignas(64) float exps[L][NV * L];
  GroupMaxima<NV, kHead>(d, rv, n, z, bias, bias_values, targets, acc, m, zt);
  // Rows that do not count (masked out, or past n) contribute S = 1 and m - z_t = 0; their values
  // may be NaN. The mask is read as a vector, under a branch: GCC vectorizes a per-row select into
  // a masked load even of a null mask (all lanes off), which costs a fault assist per group on AMD
  // Zen 4.
  auto counts = hn::FirstN(d, static_cast<size_t>(n));
  if (mask) counts = hn::And(counts, hn::Ne(n == L ? hn::LoadU(d, mask) : LoadHead(d, mask, n), hn::Zero(d)));
  const Vf S =
      hn::IfThenElse(counts, GroupSums<NV, kHead>(d, rv, n, z, bias, m, grad, acc, exps), hn::Set(d, 1.0f));
  terms.add(hn::IfThenElseZero(counts, hn::Sub(hn::Load(d, m), hn::Load(d, zt))), S);
  if (!grad) return;
  hn::Store(hn::Div(hn::Set(d, coef), S), d, f);
  GroupDlogits<NV, kHead>(d, rv, n, z, targets, mask, f, coef, exps, dbias);
}

// The block in groups of L rows, for rows of NV vectors (V in (L (NV - 1), L NV]).
template <int NV, bool kHead>
double RowsInGroups(int64_t rows, int64_t V, float* z, const float* bias, const int32_t* targets,
                    const float* mask, float coef, bool grad, float* dbias) {
  const D d;
  const RowVectors<NV, kHead> rv(V);
  Vf b[NV], db[NV];  // the bias and the block's column sums of dlogits, NV vectors each
  for (int j = 0; j < NV; ++j) {
    b[j] = bias ? rv.load(d, bias, j) : hn::Zero(d);
    db[j] = hn::Zero(d);
  }
  LossTerms terms;
  for (int64_t r = 0; r < rows; r += L) {
    GroupLoss<NV, kHead>(rv, std::min(L, rows - r), z + r * V, bias ? b : nullptr, bias, targets + r,
                         mask ? mask + r : nullptr, coef, grad, terms, db);
  }
  if (grad && dbias) {  // in order: the last vector's dropped lanes add 0 to what the one before stored
    for (int j = 0; j < NV; ++j) rv.store(d, hn::Add(rv.load(d, dbias, j), db[j]), dbias, j);
  }
  return terms.total();
}

using RowsFn = double (*)(int64_t, int64_t, float*, const float*, const int32_t*, const float*, float, bool,
                          float*);

// RowsInGroups<NV> for NV in [1, sizeof...(I)] (rows of at least one whole vector).
template <size_t... I>
constexpr std::array<RowsFn, sizeof...(I)> grouped_table(std::index_sequence<I...>) {
  return {&RowsInGroups<static_cast<int>(I) + 1, false>...};
}
#endif  // HWY_TARGET != HWY_SCALAR

double SoftmaxCrossEntropyRows(int64_t rows, int64_t V, float* z, const float* bias, const int32_t* targets,
                               const float* mask, float coef, bool grad, float* dbias) {
#if HWY_TARGET != HWY_SCALAR
  // Grouped rows up to 16 vectors and 128 classes (LossTerms' bound).
  constexpr int kMaxGroupedVectors = static_cast<int>(std::min<int64_t>(16, 128 / L));
  static constexpr auto kRowsInGroups = grouped_table(std::make_index_sequence<kMaxGroupedVectors>());
  if (V < L) return RowsInGroups<1, true>(rows, V, z, bias, targets, mask, coef, grad, dbias);
  const int64_t NV = (V + L - 1) / L;
  if (NV <= kMaxGroupedVectors)
    return kRowsInGroups[static_cast<size_t>(NV - 1)](rows, V, z, bias, targets, mask, coef, grad, dbias);
#endif
  return RowsOneAtATime(rows, V, z, bias, targets, mask, coef, grad, dbias);
}

}  // namespace recur::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace recur::kernels {

HWY_EXPORT(SoftmaxCrossEntropyRows);

namespace {

// --- The scalar path, one row at a time ------------------------------------------------------------
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

}  // namespace

template <Scalar T>
double softmax_cross_entropy_rows(int64_t rows, int64_t V, T* z, const T* bias, const int32_t* targets,
                                  const T* mask, T coef, bool grad, T* dbias) {
  if constexpr (std::is_same_v<T, float>) {
    apply_simd_environment();
    return HWY_DYNAMIC_DISPATCH(SoftmaxCrossEntropyRows)(rows, V, z, bias, targets, mask, coef, grad, dbias);
  } else {
    return softmax_cross_entropy_rows_scalar<T>(rows, V, z, bias, targets, mask, coef, grad, dbias);
  }
}

template <Scalar T>
double softmax_cross_entropy_rows_scalar(int64_t rows, int64_t V, T* z, const T* bias, const int32_t* targets,
                                         const T* mask, T coef, bool grad, T* dbias) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    T* row = z + r * V;
    if (mask && mask[r] == T(0)) {  // a skipped row's logits may hold anything, even NaN
      if (grad) std::fill_n(row, V, T(0));
      continue;
    }
    total += row_loss_scalar<T>(V, row, bias, targets[r], coef, grad);
  }
  if (grad && dbias) sum_rows_into<T>(rows, V, T(1), z, dbias);
  return total;
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
#endif  // HWY_ONCE
