// exp, tanh and sigmoid on Highway vectors: the same Cephes polynomials as fast_math.h (about
// 1 ulp), for the kernels compiled per SIMD target. A per-target header (Highway's "-inl.h"
// convention): include it after <hwy/highway.h> inside a file that foreach_target.h re-includes,
// and call recur::kernels::HWY_NAMESPACE::exp_approx(d, v) etc.

// Per-target include guard: toggled, so that each target's pass through the file sees it anew.
#if defined(RECUR_KERNELS_VECTOR_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef RECUR_KERNELS_VECTOR_MATH_INL_H_
#undef RECUR_KERNELS_VECTOR_MATH_INL_H_
#else
#define RECUR_KERNELS_VECTOR_MATH_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace recur::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// exp(r) for |r| <= ln 2 / 2, where fn = round(x / ln 2) and r = x - fn ln 2 (ln 2 in two parts, so
// r is exact): a degree-5 polynomial (Cephes expf). Sets fn; the callers scale by 2^fn.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V exp_reduced(D d, V xc, V& fn) {
  fn = hn::Round(hn::Mul(xc, hn::Set(d, 1.44269504088896341f)));
  V r = hn::NegMulAdd(fn, hn::Set(d, 0.693359375f), xc);
  r = hn::NegMulAdd(fn, hn::Set(d, -2.12194440e-4f), r);
  V p = hn::Set(d, 1.9875691500e-4f);
  p = hn::MulAdd(p, r, hn::Set(d, 1.3981999507e-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 8.3334519073e-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 4.1665795894e-2f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.6666665459e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 5.0000001201e-1f));
  return hn::Add(hn::MulAdd(p, hn::Mul(r, r), r), hn::Set(d, 1.0f));
}

// exp(x) = 2^n exp(r) (exp_reduced); 2^n applied as 2^(n/2) 2^(n - n/2) so both factors stay normal
// floats. Overflow gives +inf, underflow 0, NaN stays NaN.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V exp_approx(D d, V x) {
  const hn::RebindToSigned<D> di;
  const V high = hn::Set(d, 88.72283935546875f);  // above: overflow to +inf
  const V low = hn::Set(d, -104.0f);              // below: 0
  V fn;
  const V e = exp_reduced(d, hn::Min(hn::Max(x, low), high), fn);
  const auto n = hn::ConvertTo(di, fn);
  const auto half = hn::ShiftRight<1>(n);
  const auto bias = hn::Set(di, 127);
  const V scale_a = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(half, bias)));
  const V scale_b = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(hn::Sub(n, half), bias)));
  V y = hn::Mul(hn::Mul(e, scale_a), scale_b);
  y = hn::IfThenElse(hn::Gt(x, high), hn::Inf(d), y);
  y = hn::IfThenZeroElse(hn::Lt(x, low), y);
  return hn::IfThenElse(hn::IsNaN(x), x, y);
}

// exp(x) inside tanh and sigmoid, which saturate long before exp leaves the float range: x is first
// clamped into [-87, 88], where n = round(x / ln 2) lies in [-126, 127] and 2^n is one normal
// float, so the split scale and the overflow, underflow and NaN fix-ups of exp_approx drop out
// (e^88 = 1.7e38 stands in for +inf, e^-87 = 1.6e-38 for 0): 12 fewer vector ops per call, out of
// about 30, and an LSTM step calls it five times per unit. NaN stays NaN: on x86 Max and Min return
// their second operand when it is NaN, so the clamp passes it on to the arithmetic; Highway's
// scalar and NEON Min and Max prefer the number, so there the NaN is put back at the end.
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
inline constexpr bool kClampKeepsNaN = true;
#else
inline constexpr bool kClampKeepsNaN = false;
#endif
template <class D, class V = hn::Vec<D>>
HWY_INLINE V exp_bounded(D d, V x) {
  const hn::RebindToSigned<D> di;
  V fn;
  const V e = exp_reduced(d, hn::Min(hn::Set(d, 88.0f), hn::Max(hn::Set(d, -87.0f), x)), fn);
  const V scale = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, fn), hn::Set(di, 127))));
  const V y = hn::Mul(e, scale);
  if constexpr (!kClampKeepsNaN) return hn::IfThenElse(hn::IsNaN(x), x, y);
  return y;
}

// tanh(x): 1 - 2 / (exp(2|x|) + 1) with the sign of x for |x| > 0.625, Cephes tanhf's odd
// polynomial x + x^3 P(x^2) below, where the exp form would cancel.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V tanh_approx(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V ax = hn::Abs(x);
  const V big = hn::Sub(one, hn::Div(hn::Set(d, 2.0f), hn::Add(exp_bounded(d, hn::Add(ax, ax)), one)));
  const V s = hn::Mul(x, x);
  V p = hn::Set(d, -5.70498872745e-3f);
  p = hn::MulAdd(p, s, hn::Set(d, 2.06390887954e-2f));
  p = hn::MulAdd(p, s, hn::Set(d, -5.37397155531e-2f));
  p = hn::MulAdd(p, s, hn::Set(d, 1.33314422036e-1f));
  p = hn::MulAdd(p, s, hn::Set(d, -3.33332819422e-1f));
  const V small = hn::MulAdd(hn::Mul(p, s), x, x);
  return hn::IfThenElse(hn::Gt(ax, hn::Set(d, 0.625f)), hn::CopySign(big, x), small);
}

// sigmoid(x) = 1 / (1 + exp(-x)).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V sigmoid_approx(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  return hn::Div(one, hn::Add(one, exp_bounded(d, hn::Neg(x))));
}

}  // namespace recur::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
