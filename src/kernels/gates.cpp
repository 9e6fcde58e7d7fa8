// Fused gate kernels of the recurrent cells and their plain reference twins (see gates.h).
// Glossary: B rows, H hidden size, j column within a gate block, row pointers per batch row.
// `#pragma GCC ivdep` on the inner loops: the rows never overlap (gates.h), but with this many
// pointers g++ gives up on runtime alias checks and leaves the loops scalar.
#include "kernels/gates.h"

#include <cmath>

#include "kernels/fast_math.h"

namespace recur::kernels {

// --- Vanilla RNN ---------------------------------------------------------------------------------

template <Scalar T>
void rnn_step_forward(RnnActivation act, int64_t B, int64_t H, const T* pre, const T* bias, T* h,
                      int64_t ld_h) {
  for (int64_t b = 0; b < B; ++b) {
    const T* __restrict__ p = pre + b * H;
    T* __restrict__ hr = h + b * ld_h;
    if (act == RnnActivation::kTanh) {
#pragma GCC ivdep
      for (int64_t j = 0; j < H; ++j) hr[j] = fast_tanh(p[j] + bias[j]);
    } else {
#pragma GCC ivdep
      for (int64_t j = 0; j < H; ++j) {
        const T a = p[j] + bias[j];
        hr[j] = a > T(0) ? a : T(0);
      }
    }
  }
}

template <Scalar T>
void rnn_step_backward(RnnActivation act, int64_t B, int64_t H, const T* h, int64_t ld_h, const T* dy,
                       int64_t ld_dy, const T* dh, T* dpre, T* db) {
  for (int64_t b = 0; b < B; ++b) {
    const T* __restrict__ hr = h + b * ld_h;
    const T* __restrict__ dhr = dh + b * H;
    const T* __restrict__ dyr = dy != nullptr ? dy + b * ld_dy : nullptr;
    T* __restrict__ d = dpre + b * H;
    T* __restrict__ dbr = db;
#pragma GCC ivdep
    for (int64_t j = 0; j < H; ++j) {
      const T g = dhr[j] + (dyr != nullptr ? dyr[j] : T(0));
      const T v = act == RnnActivation::kTanh ? g * (T(1) - hr[j] * hr[j]) : (hr[j] > T(0) ? g : T(0));
      d[j] = v;
      dbr[j] += v;
    }
  }
}

// --- GRU -----------------------------------------------------------------------------------------

template <Scalar T>
void gru_step_forward(int64_t B, int64_t H, T* gates, const T* hh, const T* bias, const T* b_hn,
                      const T* h_prev, int64_t ld_prev, T* h, int64_t ld_h, T* hn) {
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
#pragma GCC ivdep
    for (int64_t j = 0; j < H; ++j) {
      const T rj = fast_sigmoid(r[j] + b_r[j] + hh_r[j]);
      const T zj = fast_sigmoid(z[j] + b_z[j] + hh_z[j]);
      const T hnj = hh_n[j] + b_hn[j];
      const T nj = fast_tanh(n[j] + b_n[j] + rj * hnj);
      r[j] = rj;
      z[j] = zj;
      n[j] = nj;
      hnr[j] = hnj;
      hr[j] = nj + zj * (hp[j] - nj);  // (1 - z) n + z h_prev
    }
  }
}

template <Scalar T>
void gru_step_backward(int64_t B, int64_t H, const T* gates, const T* hn, const T* h_prev, int64_t ld_prev,
                       const T* dy, int64_t ld_dy, T* dh, T* dgates_ih, T* dgates_hh, T* db, T* db_hn) {
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
#pragma GCC ivdep
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

// --- LSTM ----------------------------------------------------------------------------------------

template <Scalar T>
void lstm_step_forward(int64_t B, int64_t H, T* gates, const T* bias, const T* c_prev, T* c, T* tanh_c, T* h,
                       int64_t ld_h) {
  for (int64_t b = 0; b < B; ++b) {
    T* __restrict__ gi = gates + b * 4 * H;
    T* __restrict__ gf = gi + H;
    T* __restrict__ gg = gi + 2 * H;
    T* __restrict__ go = gi + 3 * H;
    const T* __restrict__ cp = c_prev + b * H;
    T* __restrict__ cr = c + b * H;
    T* __restrict__ tc = tanh_c + b * H;
    T* __restrict__ hr = h + b * ld_h;
#pragma GCC ivdep
    for (int64_t j = 0; j < H; ++j) {
      const T i = fast_sigmoid(gi[j] + bias[j]);
      const T f = fast_sigmoid(gf[j] + bias[H + j]);
      const T g = fast_tanh(gg[j] + bias[2 * H + j]);
      const T o = fast_sigmoid(go[j] + bias[3 * H + j]);
      const T cj = f * cp[j] + i * g;
      const T tcj = fast_tanh(cj);
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

template <Scalar T>
void lstm_step_backward(int64_t B, int64_t H, const T* gates, const T* c_prev, const T* tanh_c, const T* dy,
                        int64_t ld_dy, const T* dh, T* dc, T* dgates, T* db) {
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
#pragma GCC ivdep
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

// --- Reference twins: one scalar at a time, in double, std:: functions ---------------------------

namespace {
double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }
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
      const double r = sigmoid_ref(double(row[j]) + double(bias[j]) + double(hrow[j]));
      const double z = sigmoid_ref(double(row[H + j]) + double(bias[H + j]) + double(hrow[H + j]));
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
      const double i = sigmoid_ref(double(row[j]) + double(bias[j]));
      const double f = sigmoid_ref(double(row[H + j]) + double(bias[H + j]));
      const double g = std::tanh(double(row[2 * H + j]) + double(bias[2 * H + j]));
      const double o = sigmoid_ref(double(row[3 * H + j]) + double(bias[3 * H + j]));
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
