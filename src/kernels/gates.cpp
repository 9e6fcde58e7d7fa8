// Fused gate kernels of the recurrent cells and their plain reference twins (see gates.h). The
// float kernels are written once for every SIMD target with Google Highway and dispatched at run
// time (recur/core/simd.h); double keeps plain loops with std:: functions.
// Glossary: B rows, H hidden size, j column within a gate block, row pointers per batch row.

// Highway compiles this file once per target: it re-includes itself through foreach_target.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gates.cpp"
#include "kernels/gates.h"

#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/vector_math-inl.h"
#include "recur/core/simd.h"

HWY_BEFORE_NAMESPACE();
namespace recur::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
constexpr size_t kLanes = hn::MaxLanes(DF());

// Column blocks are read and written through one of two accessors, so that each kernel's body
// is written once for whole vectors and for the row's last, partial one.
struct Whole {
  HWY_INLINE VF load(const float* p) const { return hn::LoadU(DF(), p); }
  HWY_INLINE void store(VF v, float* p) const { hn::StoreU(v, DF(), p); }
  HWY_INLINE void add_to(VF v, float* p) const { store(hn::Add(load(p), v), p); }
};

// The last n < kLanes columns of a row, without touching memory past p + n: that is the next
// row, possibly another thread's (row blocks), the other direction's half of a bidirectional
// output, or the end of the buffer. Loads give 0 above n. AVX2 and AVX-512 mask the memory access
// itself; elsewhere Highway 1.0's MaskedLoad reads (aligned) whole vectors and NEON's BlendedStore
// rewrites the lanes it keeps, so the columns go through a buffer on the stack. The AVX2 store goes
// through the buffer too: a vmaskmovps store takes many micro-ops on AMD cores.
struct Tail {
  size_t n;
  HWY_INLINE VF load(const float* p) const {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX2
    return hn::MaskedLoad(hn::FirstN(DF(), n), DF(), p);
#else
    alignas(64) float buf[kLanes] = {};
    std::copy_n(p, n, buf);
    return hn::Load(DF(), buf);
#endif
  }
  HWY_INLINE void store(VF v, float* p) const {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
    hn::BlendedStore(v, hn::FirstN(DF(), n), DF(), p);
#else
    alignas(64) float buf[kLanes];
    hn::Store(v, DF(), buf);
    std::copy_n(buf, n, p);
#endif
  }
  HWY_INLINE void add_to(VF v, float* p) const { store(hn::Add(load(p), v), p); }
};

// body(j, io) for the column blocks j = 0, kLanes, 2 kLanes, ... of a row of H columns; io is
// Whole, or Tail for a last block of fewer than kLanes columns.
template <class Body>
HWY_INLINE void for_columns(int64_t H, const Body& body) {
  constexpr auto lanes = static_cast<int64_t>(kLanes);
  int64_t j = 0;
  for (; j + lanes <= H; j += lanes) body(j, Whole{});
  if (j < H) body(j, Tail{static_cast<size_t>(H - j)});
}

// --- Vanilla RNN ---------------------------------------------------------------------------------

template <RnnActivation Act>
HWY_INLINE void rnn_forward_rows(int64_t B, int64_t H, const float* pre, const float* bias, float* h,
                                 int64_t ld_h) {
  const DF d;
  for (int64_t b = 0; b < B; ++b) {
    const float* p = pre + b * H;
    float* hr = h + b * ld_h;
    for_columns(H, [&](int64_t j, auto io) HWY_ATTR {
      const VF a = hn::Add(io.load(p + j), io.load(bias + j));
      if constexpr (Act == RnnActivation::kTanh) {
        io.store(tanh_approx(d, a), hr + j);
      } else {
        io.store(hn::IfThenElseZero(hn::Gt(a, hn::Zero(d)), a), hr + j);  // NaN -> 0, as a > 0 ? a : 0
      }
    });
  }
}

void RnnStepForward(RnnActivation act, int64_t B, int64_t H, const float* pre, const float* bias, float* h,
                    int64_t ld_h) {
  if (act == RnnActivation::kTanh) {
    rnn_forward_rows<RnnActivation::kTanh>(B, H, pre, bias, h, ld_h);
  } else {
    rnn_forward_rows<RnnActivation::kRelu>(B, H, pre, bias, h, ld_h);
  }
}

template <RnnActivation Act, bool kDy>
HWY_INLINE void rnn_backward_rows(int64_t B, int64_t H, const float* h, int64_t ld_h, const float* dy,
                                  int64_t ld_dy, const float* dh, float* dpre, float* db) {
  const DF d;
  for (int64_t b = 0; b < B; ++b) {
    const float* hr = h + b * ld_h;
    const float* dhr = dh + b * H;
    const float* dyr = kDy ? dy + b * ld_dy : nullptr;
    float* dp = dpre + b * H;
    for_columns(H, [&](int64_t j, auto io) HWY_ATTR {
      VF g = io.load(dhr + j);
      if constexpr (kDy) g = hn::Add(g, io.load(dyr + j));
      const VF y = io.load(hr + j);
      VF v;
      if constexpr (Act == RnnActivation::kTanh) {
        v = hn::Mul(g, hn::NegMulAdd(y, y, hn::Set(d, 1.0f)));
      } else {
        v = hn::IfThenElseZero(hn::Gt(y, hn::Zero(d)), g);
      }
      io.store(v, dp + j);
      io.add_to(v, db + j);
    });
  }
}

void RnnStepBackward(RnnActivation act, int64_t B, int64_t H, const float* h, int64_t ld_h, const float* dy,
                     int64_t ld_dy, const float* dh, float* dpre, float* db) {
  constexpr auto kTanh = RnnActivation::kTanh, kRelu = RnnActivation::kRelu;
  if (act == kTanh) {
    if (dy != nullptr) {
      rnn_backward_rows<kTanh, true>(B, H, h, ld_h, dy, ld_dy, dh, dpre, db);
    } else {
      rnn_backward_rows<kTanh, false>(B, H, h, ld_h, dy, ld_dy, dh, dpre, db);
    }
  } else {
    if (dy != nullptr) {
      rnn_backward_rows<kRelu, true>(B, H, h, ld_h, dy, ld_dy, dh, dpre, db);
    } else {
      rnn_backward_rows<kRelu, false>(B, H, h, ld_h, dy, ld_dy, dh, dpre, db);
    }
  }
}

// --- GRU -----------------------------------------------------------------------------------------

void GruStepForward(int64_t B, int64_t H, float* gates, const float* hh, const float* bias, const float* b_hn,
                    const float* h_prev, int64_t ld_prev, float* h, int64_t ld_h, float* hn_out) {
  const DF d;
  const float* b_r = bias;
  const float* b_z = bias + H;
  const float* b_n = bias + 2 * H;
  for (int64_t b = 0; b < B; ++b) {
    float* r = gates + b * 3 * H;  // in: x part, out: activated
    float* z = r + H;
    float* n = r + 2 * H;
    const float* hh_r = hh + b * 3 * H;
    const float* hh_z = hh_r + H;
    const float* hh_n = hh_r + 2 * H;
    const float* hp = h_prev + b * ld_prev;
    float* hr = h + b * ld_h;
    float* hnr = hn_out + b * H;
    for_columns(H, [&](int64_t j, auto io) HWY_ATTR {
      const VF rj = sigmoid_approx(d, hn::Add(hn::Add(io.load(r + j), io.load(b_r + j)), io.load(hh_r + j)));
      const VF zj = sigmoid_approx(d, hn::Add(hn::Add(io.load(z + j), io.load(b_z + j)), io.load(hh_z + j)));
      const VF hnj = hn::Add(io.load(hh_n + j), io.load(b_hn + j));
      const VF nj = tanh_approx(d, hn::MulAdd(rj, hnj, hn::Add(io.load(n + j), io.load(b_n + j))));
      io.store(rj, r + j);
      io.store(zj, z + j);
      io.store(nj, n + j);
      io.store(hnj, hnr + j);
      io.store(hn::MulAdd(zj, hn::Sub(io.load(hp + j), nj), nj), hr + j);  // (1 - z) n + z h_prev
    });
  }
}

template <bool kDy>
HWY_INLINE void gru_backward_rows(int64_t B, int64_t H, const float* gates, const float* hn_in,
                                  const float* h_prev, int64_t ld_prev, const float* dy, int64_t ld_dy,
                                  float* dh, float* dgates_ih, float* dgates_hh, float* db, float* db_hn) {
  const DF d;
  const VF one = hn::Set(d, 1.0f);
  for (int64_t b = 0; b < B; ++b) {
    const float* r = gates + b * 3 * H;
    const float* z = r + H;
    const float* n = r + 2 * H;
    const float* hnr = hn_in + b * H;
    const float* hp = h_prev + b * ld_prev;
    const float* dyr = kDy ? dy + b * ld_dy : nullptr;
    float* dhr = dh + b * H;
    float* di = dgates_ih + b * 3 * H;
    float* dhh = dgates_hh + b * 3 * H;
    for_columns(H, [&](int64_t j, auto io) HWY_ATTR {
      VF g = io.load(dhr + j);
      if constexpr (kDy) g = hn::Add(g, io.load(dyr + j));
      const VF rj = io.load(r + j), zj = io.load(z + j), nj = io.load(n + j);
      const VF dn = hn::Mul(hn::Mul(g, hn::Sub(one, zj)), hn::NegMulAdd(nj, nj, one));  // through tanh
      const VF dz = hn::Mul(hn::Mul(hn::Mul(g, hn::Sub(io.load(hp + j), nj)), zj), hn::Sub(one, zj));
      const VF dr = hn::Mul(hn::Mul(hn::Mul(dn, io.load(hnr + j)), rj), hn::Sub(one, rj));
      const VF dn_hh = hn::Mul(dn, rj);
      io.store(dr, di + j);
      io.store(dz, di + H + j);
      io.store(dn, di + 2 * H + j);
      io.store(dr, dhh + j);
      io.store(dz, dhh + H + j);
      io.store(dn_hh, dhh + 2 * H + j);
      io.store(hn::Mul(g, zj), dhr + j);
      io.add_to(dr, db + j);
      io.add_to(dz, db + H + j);
      io.add_to(dn, db + 2 * H + j);
      io.add_to(dn_hh, db_hn + j);
    });
  }
}

void GruStepBackward(int64_t B, int64_t H, const float* gates, const float* hn_in, const float* h_prev,
                     int64_t ld_prev, const float* dy, int64_t ld_dy, float* dh, float* dgates_ih,
                     float* dgates_hh, float* db, float* db_hn) {
  if (dy != nullptr) {
    gru_backward_rows<true>(B, H, gates, hn_in, h_prev, ld_prev, dy, ld_dy, dh, dgates_ih, dgates_hh, db,
                            db_hn);
  } else {
    gru_backward_rows<false>(B, H, gates, hn_in, h_prev, ld_prev, dy, ld_dy, dh, dgates_ih, dgates_hh, db,
                             db_hn);
  }
}

// --- LSTM ----------------------------------------------------------------------------------------

void LstmStepForward(int64_t B, int64_t H, float* gates, const float* bias, const float* c_prev, float* c,
                     float* tanh_c, float* h, int64_t ld_h) {
  const DF d;
  for (int64_t b = 0; b < B; ++b) {
    float* gi = gates + b * 4 * H;
    float* gf = gi + H;
    float* gg = gi + 2 * H;
    float* go = gi + 3 * H;
    const float* cp = c_prev + b * H;
    float* cr = c + b * H;
    float* tc = tanh_c + b * H;
    float* hr = h + b * ld_h;
    for_columns(H, [&](int64_t j, auto io) HWY_ATTR {
      const VF i = sigmoid_approx(d, hn::Add(io.load(gi + j), io.load(bias + j)));
      const VF f = sigmoid_approx(d, hn::Add(io.load(gf + j), io.load(bias + H + j)));
      const VF g = tanh_approx(d, hn::Add(io.load(gg + j), io.load(bias + 2 * H + j)));
      const VF o = sigmoid_approx(d, hn::Add(io.load(go + j), io.load(bias + 3 * H + j)));
      const VF cj = hn::MulAdd(f, io.load(cp + j), hn::Mul(i, g));
      const VF tcj = tanh_approx(d, cj);
      io.store(i, gi + j);
      io.store(f, gf + j);
      io.store(g, gg + j);
      io.store(o, go + j);
      io.store(cj, cr + j);
      io.store(tcj, tc + j);
      io.store(hn::Mul(o, tcj), hr + j);
    });
  }
}

template <bool kDy>
HWY_INLINE void lstm_backward_rows(int64_t B, int64_t H, const float* gates, const float* c_prev,
                                   const float* tanh_c, const float* dy, int64_t ld_dy, const float* dh,
                                   float* dc, float* dgates, float* db) {
  const DF d;
  const VF one = hn::Set(d, 1.0f);
  for (int64_t b = 0; b < B; ++b) {
    const float* gi = gates + b * 4 * H;
    const float* gf = gi + H;
    const float* gg = gi + 2 * H;
    const float* go = gi + 3 * H;
    const float* cp = c_prev + b * H;
    const float* tc = tanh_c + b * H;
    const float* dyr = kDy ? dy + b * ld_dy : nullptr;
    const float* dhr = dh + b * H;
    float* dcr = dc + b * H;
    float* dg_row = dgates + b * 4 * H;
    for_columns(H, [&](int64_t j, auto io) HWY_ATTR {
      VF dht = io.load(dhr + j);
      if constexpr (kDy) dht = hn::Add(dht, io.load(dyr + j));
      const VF i = io.load(gi + j), f = io.load(gf + j), g = io.load(gg + j), o = io.load(go + j);
      const VF tcj = io.load(tc + j);
      const VF dct = hn::MulAdd(hn::Mul(dht, o), hn::NegMulAdd(tcj, tcj, one), io.load(dcr + j));
      const VF di = hn::Mul(hn::Mul(hn::Mul(dct, g), i), hn::Sub(one, i));
      const VF df = hn::Mul(hn::Mul(hn::Mul(dct, io.load(cp + j)), f), hn::Sub(one, f));
      const VF dg = hn::Mul(hn::Mul(dct, i), hn::NegMulAdd(g, g, one));
      const VF dout = hn::Mul(hn::Mul(hn::Mul(dht, tcj), o), hn::Sub(one, o));
      io.store(di, dg_row + j);
      io.store(df, dg_row + H + j);
      io.store(dg, dg_row + 2 * H + j);
      io.store(dout, dg_row + 3 * H + j);
      io.add_to(di, db + j);
      io.add_to(df, db + H + j);
      io.add_to(dg, db + 2 * H + j);
      io.add_to(dout, db + 3 * H + j);
      io.store(hn::Mul(dct, f), dcr + j);
    });
  }
}

void LstmStepBackward(int64_t B, int64_t H, const float* gates, const float* c_prev, const float* tanh_c,
                      const float* dy, int64_t ld_dy, const float* dh, float* dc, float* dgates, float* db) {
  if (dy != nullptr) {
    lstm_backward_rows<true>(B, H, gates, c_prev, tanh_c, dy, ld_dy, dh, dc, dgates, db);
  } else {
    lstm_backward_rows<false>(B, H, gates, c_prev, tanh_c, dy, ld_dy, dh, dc, dgates, db);
  }
}

}  // namespace recur::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace recur::kernels {

HWY_EXPORT(RnnStepForward);
HWY_EXPORT(RnnStepBackward);
HWY_EXPORT(GruStepForward);
HWY_EXPORT(GruStepBackward);
HWY_EXPORT(LstmStepForward);
HWY_EXPORT(LstmStepBackward);

namespace {
// sigmoid in double with std::exp (the double kernels and the reference twins).
double sigmoid_std(double x) { return 1.0 / (1.0 + std::exp(-x)); }
}  // namespace

// The public kernels: float dispatches to the SIMD target; double runs plain loops with std::
// functions (gates.h: double is for gradient checks and reference vectors, not speed).

// --- Vanilla RNN ---------------------------------------------------------------------------------

template <Scalar T>
void rnn_step_forward(RnnActivation act, int64_t B, int64_t H, const T* pre, const T* bias, T* h,
                      int64_t ld_h) {
  if constexpr (std::is_same_v<T, float>) {
    apply_simd_environment();
    HWY_DYNAMIC_DISPATCH(RnnStepForward)(act, B, H, pre, bias, h, ld_h);
  } else {
    for (int64_t b = 0; b < B; ++b) {
      const T* __restrict__ p = pre + b * H;
      T* __restrict__ hr = h + b * ld_h;
      if (act == RnnActivation::kTanh) {
        for (int64_t j = 0; j < H; ++j) hr[j] = std::tanh(p[j] + bias[j]);
      } else {
        for (int64_t j = 0; j < H; ++j) {
          const T a = p[j] + bias[j];
          hr[j] = a > T(0) ? a : T(0);
        }
      }
    }
  }
}

template <Scalar T>
void rnn_step_backward(RnnActivation act, int64_t B, int64_t H, const T* h, int64_t ld_h, const T* dy,
                       int64_t ld_dy, const T* dh, T* dpre, T* db) {
  if constexpr (std::is_same_v<T, float>) {
    apply_simd_environment();
    HWY_DYNAMIC_DISPATCH(RnnStepBackward)(act, B, H, h, ld_h, dy, ld_dy, dh, dpre, db);
  } else {
    for (int64_t b = 0; b < B; ++b) {
      const T* __restrict__ hr = h + b * ld_h;
      const T* __restrict__ dhr = dh + b * H;
      const T* __restrict__ dyr = dy != nullptr ? dy + b * ld_dy : nullptr;
      T* __restrict__ d = dpre + b * H;
      T* __restrict__ dbr = db;
      for (int64_t j = 0; j < H; ++j) {
        const T g = dhr[j] + (dyr != nullptr ? dyr[j] : T(0));
        const T v = act == RnnActivation::kTanh ? g * (T(1) - hr[j] * hr[j]) : (hr[j] > T(0) ? g : T(0));
        d[j] = v;
        dbr[j] += v;
      }
    }
  }
}

// --- GRU -----------------------------------------------------------------------------------------

template <Scalar T>
void gru_step_forward(int64_t B, int64_t H, T* gates, const T* hh, const T* bias, const T* b_hn,
                      const T* h_prev, int64_t ld_prev, T* h, int64_t ld_h, T* hn) {
  if constexpr (std::is_same_v<T, float>) {
    apply_simd_environment();
    HWY_DYNAMIC_DISPATCH(GruStepForward)(B, H, gates, hh, bias, b_hn, h_prev, ld_prev, h, ld_h, hn);
  } else {
    const T* __restrict__ b_r = bias;
    const T* __restrict__ b_z = bias + H;
    const T* __restrict__ b_n = bias + 2 * H;
    for (int64_t b = 0; b < B; ++b) {
      T* __restrict__ r = gates + b * 3 * H;  // in: x part, out: activated
      T* __restrict__ z = r + H;
      T* __restrict__ n = r + 2 * H;
      const T* __restrict__ hh_r = hh + b * 3 * H;
      const T* __restrict__ hh_z = hh_r + H;
      const T* __restrict__ hh_n = hh_r + 2 * H;
      const T* __restrict__ hp = h_prev + b * ld_prev;
      T* __restrict__ hr = h + b * ld_h;
      T* __restrict__ hnr = hn + b * H;
      for (int64_t j = 0; j < H; ++j) {
        const T rj = sigmoid_std(r[j] + b_r[j] + hh_r[j]);
        const T zj = sigmoid_std(z[j] + b_z[j] + hh_z[j]);
        const T hnj = hh_n[j] + b_hn[j];
        const T nj = std::tanh(n[j] + b_n[j] + rj * hnj);
        r[j] = rj;
        z[j] = zj;
        n[j] = nj;
        hnr[j] = hnj;
        hr[j] = nj + zj * (hp[j] - nj);  // (1 - z) n + z h_prev
      }
    }
  }
}

template <Scalar T>
void gru_step_backward(int64_t B, int64_t H, const T* gates, const T* hn, const T* h_prev, int64_t ld_prev,
                       const T* dy, int64_t ld_dy, T* dh, T* dgates_ih, T* dgates_hh, T* db, T* db_hn) {
  if constexpr (std::is_same_v<T, float>) {
    apply_simd_environment();
    HWY_DYNAMIC_DISPATCH(GruStepBackward)
    (B, H, gates, hn, h_prev, ld_prev, dy, ld_dy, dh, dgates_ih, dgates_hh, db, db_hn);
  } else {
    for (int64_t b = 0; b < B; ++b) {
      const T* __restrict__ r = gates + b * 3 * H;
      const T* __restrict__ z = r + H;
      const T* __restrict__ n = r + 2 * H;
      const T* __restrict__ hnr = hn + b * H;
      const T* __restrict__ hp = h_prev + b * ld_prev;
      const T* __restrict__ dyr = dy != nullptr ? dy + b * ld_dy : nullptr;
      T* __restrict__ dhr = dh + b * H;
      T* __restrict__ di = dgates_ih + b * 3 * H;
      T* __restrict__ dhh = dgates_hh + b * 3 * H;
      T* __restrict__ dbr = db;
      T* __restrict__ dbn = db_hn;
      for (int64_t j = 0; j < H; ++j) {
        const T d = dhr[j] + (dyr != nullptr ? dyr[j] : T(0));
        const T dn = d * (T(1) - z[j]) * (T(1) - n[j] * n[j]);   // through tanh
        const T dz = d * (hp[j] - n[j]) * z[j] * (T(1) - z[j]);  // through sigmoid
        const T dr = dn * hnr[j] * r[j] * (T(1) - r[j]);
        di[j] = dr;
        di[H + j] = dz;
        di[2 * H + j] = dn;
        dhh[j] = dr;
        dhh[H + j] = dz;
        dhh[2 * H + j] = dn * r[j];
        dhr[j] = d * z[j];
        dbr[j] += dr;
        dbr[H + j] += dz;
        dbr[2 * H + j] += dn;
        dbn[j] += dn * r[j];
      }
    }
  }
}

// --- LSTM ----------------------------------------------------------------------------------------

template <Scalar T>
void lstm_step_forward(int64_t B, int64_t H, T* gates, const T* bias, const T* c_prev, T* c, T* tanh_c, T* h,
                       int64_t ld_h) {
  if constexpr (std::is_same_v<T, float>) {
    apply_simd_environment();
    HWY_DYNAMIC_DISPATCH(LstmStepForward)(B, H, gates, bias, c_prev, c, tanh_c, h, ld_h);
  } else {
    for (int64_t b = 0; b < B; ++b) {
      T* __restrict__ gi = gates + b * 4 * H;
      T* __restrict__ gf = gi + H;
      T* __restrict__ gg = gi + 2 * H;
      T* __restrict__ go = gi + 3 * H;
      const T* __restrict__ cp = c_prev + b * H;
      T* __restrict__ cr = c + b * H;
      T* __restrict__ tc = tanh_c + b * H;
      T* __restrict__ hr = h + b * ld_h;
      for (int64_t j = 0; j < H; ++j) {
        const T i = sigmoid_std(gi[j] + bias[j]);
        const T f = sigmoid_std(gf[j] + bias[H + j]);
        const T g = std::tanh(gg[j] + bias[2 * H + j]);
        const T o = sigmoid_std(go[j] + bias[3 * H + j]);
        const T cj = f * cp[j] + i * g;
        const T tcj = std::tanh(cj);
        gi[j] = i;
        gf[j] = f;
        gg[j] = g;
        go[j] = o;
        cr[j] = cj;
        tc[j] = tcj;
        hr[j] = o * tcj;
      }
    }
  }
}

template <Scalar T>
void lstm_step_backward(int64_t B, int64_t H, const T* gates, const T* c_prev, const T* tanh_c, const T* dy,
                        int64_t ld_dy, const T* dh, T* dc, T* dgates, T* db) {
  if constexpr (std::is_same_v<T, float>) {
    apply_simd_environment();
    HWY_DYNAMIC_DISPATCH(LstmStepBackward)(B, H, gates, c_prev, tanh_c, dy, ld_dy, dh, dc, dgates, db);
  } else {
    for (int64_t b = 0; b < B; ++b) {
      const T* __restrict__ gi = gates + b * 4 * H;
      const T* __restrict__ gf = gi + H;
      const T* __restrict__ gg = gi + 2 * H;
      const T* __restrict__ go = gi + 3 * H;
      const T* __restrict__ cp = c_prev + b * H;
      const T* __restrict__ tc = tanh_c + b * H;
      const T* __restrict__ dyr = dy != nullptr ? dy + b * ld_dy : nullptr;
      const T* __restrict__ dhr = dh + b * H;
      T* __restrict__ dcr = dc + b * H;
      T* __restrict__ d = dgates + b * 4 * H;
      T* __restrict__ dbr = db;
      for (int64_t j = 0; j < H; ++j) {
        const T dht = dhr[j] + (dyr != nullptr ? dyr[j] : T(0));
        const T dct = dcr[j] + dht * go[j] * (T(1) - tc[j] * tc[j]);
        const T di = dct * gg[j] * gi[j] * (T(1) - gi[j]);
        const T df = dct * cp[j] * gf[j] * (T(1) - gf[j]);
        const T dg = dct * gi[j] * (T(1) - gg[j] * gg[j]);
        const T dout = dht * tc[j] * go[j] * (T(1) - go[j]);
        d[j] = di;
        d[H + j] = df;
        d[2 * H + j] = dg;
        d[3 * H + j] = dout;
        dbr[j] += di;
        dbr[H + j] += df;
        dbr[2 * H + j] += dg;
        dbr[3 * H + j] += dout;
        dcr[j] = dct * gf[j];
      }
    }
  }
}

// --- Reference twins: one scalar at a time, in double, std:: functions ---------------------------

namespace {
double dy_at(const auto* dy, int64_t ld_dy, int64_t b, int64_t j) {
  return dy == nullptr ? 0.0 : static_cast<double>(dy[b * ld_dy + j]);
}
// y[c] += sum over the B rows of x[r * ld + c], c < cols, summed in double.
template <Scalar T>
void add_column_sums_reference(int64_t B, int64_t cols, int64_t ld, const T* x, T* y) {
  for (int64_t c = 0; c < cols; ++c) {
    double total = 0;
    for (int64_t r = 0; r < B; ++r) total += double(x[r * ld + c]);
    y[c] = static_cast<T>(double(y[c]) + total);
  }
}
}  // namespace

template <Scalar T>
void rnn_step_forward_reference(RnnActivation act, int64_t B, int64_t H, const T* pre, const T* bias, T* h,
                                int64_t ld_h) {
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < H; ++j) {
      const double a = static_cast<double>(pre[b * H + j]) + static_cast<double>(bias[j]);
      h[b * ld_h + j] = static_cast<T>(act == RnnActivation::kTanh ? std::tanh(a) : std::max(a, 0.0));
    }
  }
}

template <Scalar T>
void rnn_step_backward_reference(RnnActivation act, int64_t B, int64_t H, const T* h, int64_t ld_h,
                                 const T* dy, int64_t ld_dy, const T* dh, T* dpre, T* db) {
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < H; ++j) {
      const double grad = static_cast<double>(dh[b * H + j]) + dy_at(dy, ld_dy, b, j);
      const double y = h[b * ld_h + j];
      const double slope = act == RnnActivation::kTanh ? 1.0 - y * y : (y > 0 ? 1.0 : 0.0);
      dpre[b * H + j] = static_cast<T>(grad * slope);
    }
  }
  add_column_sums_reference(B, H, H, dpre, db);
}

template <Scalar T>
void gru_step_forward_reference(int64_t B, int64_t H, T* gates, const T* hh, const T* bias, const T* b_hn,
                                const T* h_prev, int64_t ld_prev, T* h, int64_t ld_h, T* hn) {
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < H; ++j) {
      T* row = gates + b * 3 * H;
      const T* hrow = hh + b * 3 * H;
      const double r = sigmoid_std(double(row[j]) + double(bias[j]) + double(hrow[j]));
      const double z = sigmoid_std(double(row[H + j]) + double(bias[H + j]) + double(hrow[H + j]));
      const double recurrent = double(hrow[2 * H + j]) + double(b_hn[j]);
      const double n = std::tanh(double(row[2 * H + j]) + double(bias[2 * H + j]) + r * recurrent);
      const double previous = h_prev[b * ld_prev + j];
      row[j] = static_cast<T>(r);
      row[H + j] = static_cast<T>(z);
      row[2 * H + j] = static_cast<T>(n);
      hn[b * H + j] = static_cast<T>(recurrent);
      h[b * ld_h + j] = static_cast<T>((1.0 - z) * n + z * previous);
    }
  }
}

template <Scalar T>
void gru_step_backward_reference(int64_t B, int64_t H, const T* gates, const T* hn, const T* h_prev,
                                 int64_t ld_prev, const T* dy, int64_t ld_dy, T* dh, T* dgates_ih,
                                 T* dgates_hh, T* db, T* db_hn) {
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < H; ++j) {
      const T* row = gates + b * 3 * H;
      const double r = row[j], z = row[H + j], n = row[2 * H + j];
      const double grad = double(dh[b * H + j]) + dy_at(dy, ld_dy, b, j);
      // h' = (1 - z) n + z h_prev
      const double d_n = grad * (1.0 - z);
      const double d_z = grad * (double(h_prev[b * ld_prev + j]) - n);
      const double d_h_prev = grad * z;
      // n = tanh(a_n), a_n = x_n + r * hn
      const double d_an = d_n * (1.0 - n * n);
      const double d_r = d_an * double(hn[b * H + j]);
      const double d_ar = d_r * r * (1.0 - r);
      const double d_az = d_z * z * (1.0 - z);
      T* di = dgates_ih + b * 3 * H;
      T* dhh = dgates_hh + b * 3 * H;
      di[j] = static_cast<T>(d_ar);
      di[H + j] = static_cast<T>(d_az);
      di[2 * H + j] = static_cast<T>(d_an);
      dhh[j] = static_cast<T>(d_ar);
      dhh[H + j] = static_cast<T>(d_az);
      dhh[2 * H + j] = static_cast<T>(d_an * r);
      dh[b * H + j] = static_cast<T>(d_h_prev);
    }
  }
  add_column_sums_reference(B, 3 * H, 3 * H, dgates_ih, db);
  add_column_sums_reference(B, H, 3 * H, dgates_hh + 2 * H, db_hn);
}

template <Scalar T>
void lstm_step_forward_reference(int64_t B, int64_t H, T* gates, const T* bias, const T* c_prev, T* c,
                                 T* tanh_c, T* h, int64_t ld_h) {
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < H; ++j) {
      T* row = gates + b * 4 * H;
      const double i = sigmoid_std(double(row[j]) + double(bias[j]));
      const double f = sigmoid_std(double(row[H + j]) + double(bias[H + j]));
      const double g = std::tanh(double(row[2 * H + j]) + double(bias[2 * H + j]));
      const double o = sigmoid_std(double(row[3 * H + j]) + double(bias[3 * H + j]));
      const double cell = f * double(c_prev[b * H + j]) + i * g;
      row[j] = static_cast<T>(i);
      row[H + j] = static_cast<T>(f);
      row[2 * H + j] = static_cast<T>(g);
      row[3 * H + j] = static_cast<T>(o);
      c[b * H + j] = static_cast<T>(cell);
      tanh_c[b * H + j] = static_cast<T>(std::tanh(cell));
      h[b * ld_h + j] = static_cast<T>(o * std::tanh(cell));
    }
  }
}

template <Scalar T>
void lstm_step_backward_reference(int64_t B, int64_t H, const T* gates, const T* c_prev, const T* tanh_c,
                                  const T* dy, int64_t ld_dy, const T* dh, T* dc, T* dgates, T* db) {
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < H; ++j) {
      const T* row = gates + b * 4 * H;
      const double i = row[j], f = row[H + j], g = row[2 * H + j], o = row[3 * H + j];
      const double tc = tanh_c[b * H + j];
      const double grad_h = double(dh[b * H + j]) + dy_at(dy, ld_dy, b, j);
      // h = o tanh(c): dc gets grad_h o (1 - tanh^2 c) on top of what step t+1 carried.
      const double grad_c = double(dc[b * H + j]) + grad_h * o * (1.0 - tc * tc);
      T* d = dgates + b * 4 * H;
      d[j] = static_cast<T>(grad_c * g * i * (1.0 - i));
      d[H + j] = static_cast<T>(grad_c * double(c_prev[b * H + j]) * f * (1.0 - f));
      d[2 * H + j] = static_cast<T>(grad_c * i * (1.0 - g * g));
      d[3 * H + j] = static_cast<T>(grad_h * tc * o * (1.0 - o));
      dc[b * H + j] = static_cast<T>(grad_c * f);
    }
  }
  add_column_sums_reference(B, 4 * H, 4 * H, dgates, db);
}

#define RECUR_GATES_INSTANTIATE(T)                                                                           \
  template void rnn_step_forward<T>(RnnActivation, int64_t, int64_t, const T*, const T*, T*, int64_t);       \
  template void rnn_step_backward<T>(RnnActivation, int64_t, int64_t, const T*, int64_t, const T*, int64_t,  \
                                     const T*, T*, T*);                                                      \
  template void gru_step_forward<T>(int64_t, int64_t, T*, const T*, const T*, const T*, const T*, int64_t,   \
                                    T*, int64_t, T*);                                                        \
  template void gru_step_backward<T>(int64_t, int64_t, const T*, const T*, const T*, int64_t, const T*,      \
                                     int64_t, T*, T*, T*, T*, T*);                                           \
  template void lstm_step_forward<T>(int64_t, int64_t, T*, const T*, const T*, T*, T*, T*, int64_t);         \
  template void lstm_step_backward<T>(int64_t, int64_t, const T*, const T*, const T*, const T*, int64_t,     \
                                      const T*, T*, T*, T*);                                                 \
  template void rnn_step_forward_reference<T>(RnnActivation, int64_t, int64_t, const T*, const T*, T*,       \
                                              int64_t);                                                      \
  template void rnn_step_backward_reference<T>(RnnActivation, int64_t, int64_t, const T*, int64_t, const T*, \
                                               int64_t, const T*, T*, T*);                                   \
  template void gru_step_forward_reference<T>(int64_t, int64_t, T*, const T*, const T*, const T*, const T*,  \
                                              int64_t, T*, int64_t, T*);                                     \
  template void gru_step_backward_reference<T>(int64_t, int64_t, const T*, const T*, const T*, int64_t,      \
                                               const T*, int64_t, T*, T*, T*, T*, T*);                       \
  template void lstm_step_forward_reference<T>(int64_t, int64_t, T*, const T*, const T*, T*, T*, T*,         \
                                               int64_t);                                                     \
  template void lstm_step_backward_reference<T>(int64_t, int64_t, const T*, const T*, const T*, const T*,    \
                                                int64_t, const T*, T*, T*, T*);

RECUR_GATES_INSTANTIATE(float)
RECUR_GATES_INSTANTIATE(double)
#undef RECUR_GATES_INSTANTIATE

}  // namespace recur::kernels
#endif  // HWY_ONCE
