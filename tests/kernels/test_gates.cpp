// The fused gate kernels against their plain reference twins over many shapes (B = 1, H = 1, H not
// a multiple of the SIMD width, strided hidden-state rows, with and without dy), in float and double,
// including the bias-gradient column sums the backward kernels accumulate.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/gates.h"
#include "recur/core/rng.h"

namespace recur::kernels {
namespace {

struct Case {
  int64_t B, H, ld_extra;  // ld of strided rows = H + ld_extra
  bool with_dy;
  [[nodiscard]] std::string str() const {
    return "B=" + std::to_string(B) + " H=" + std::to_string(H) + " ld=H+" + std::to_string(ld_extra) +
           (with_dy ? " dy" : " no-dy");
  }
};

std::vector<Case> cases() {
  std::vector<Case> all;
  for (int64_t B : {1, 3, 9})
    for (int64_t H : {1, 3, 8, 17, 33})
      for (int64_t extra : {0, 5})
        for (bool dy : {false, true}) all.push_back({B, H, extra, dy});
  return all;
}

template <Scalar T>
std::vector<T> random_vector(Rng& rng, int64_t n, double scale = 2.0) {
  std::vector<T> v(static_cast<size_t>(n));
  for (T& x : v) x = static_cast<T>(rng.uniform(-scale, scale));
  return v;
}

// float uses exp/tanh approximations of about 1 ulp, double the std:: functions.
template <Scalar T>
constexpr double tolerance() {
  return sizeof(T) == 4 ? 2e-6 : 1e-13;
}

template <Scalar T>
void expect_close(const std::vector<T>& actual, const std::vector<T>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double e = expected[i];
    if (!(std::abs(double(actual[i]) - e) <= tolerance<T>() * std::max(1.0, std::abs(e)))) {
      ADD_FAILURE() << what << ": first difference at index " << i << ": " << actual[i] << " vs reference "
                    << e;
      return;
    }
  }
}

template <Scalar T>
void check_rnn(RnnActivation act) {
  Rng rng(1);
  for (const Case& c : cases()) {
    const int64_t B = c.B, H = c.H, ld = H + c.ld_extra;
    const std::string tag = std::string(sizeof(T) == 4 ? "float " : "double ") +
                            (act == RnnActivation::kTanh ? "tanh " : "relu ") + c.str();
    const auto pre = random_vector<T>(rng, B * H), bias = random_vector<T>(rng, H);
    std::vector<T> h(static_cast<size_t>(B * ld), T(0)), h_ref = h;
    rnn_step_forward(act, B, H, pre.data(), bias.data(), h.data(), ld);
    rnn_step_forward_reference(act, B, H, pre.data(), bias.data(), h_ref.data(), ld);
    expect_close(h, h_ref, tag + " forward h");

    const auto dy = random_vector<T>(rng, B * ld), dh = random_vector<T>(rng, B * H);
    std::vector<T> dpre(static_cast<size_t>(B * H)), dpre_ref = dpre;
    auto db = random_vector<T>(rng, H), db_ref = db;  // accumulated into
    const T* dy_ptr = c.with_dy ? dy.data() : nullptr;
    rnn_step_backward(act, B, H, h_ref.data(), ld, dy_ptr, ld, dh.data(), dpre.data(), db.data());
    rnn_step_backward_reference(act, B, H, h_ref.data(), ld, dy_ptr, ld, dh.data(), dpre_ref.data(),
                                db_ref.data());
    expect_close(dpre, dpre_ref, tag + " backward dpre");
    expect_close(db, db_ref, tag + " backward db");
  }
}

template <Scalar T>
void check_gru() {
  Rng rng(2);
  for (const Case& c : cases()) {
    const int64_t B = c.B, H = c.H, ld = H + c.ld_extra;
    const std::string tag = std::string(sizeof(T) == 4 ? "float " : "double ") + "gru " + c.str();
    auto gates = random_vector<T>(rng, B * 3 * H), gates_ref = gates;
    const auto hh = random_vector<T>(rng, B * 3 * H), bias = random_vector<T>(rng, 3 * H);
    const auto b_hn = random_vector<T>(rng, H), h_prev = random_vector<T>(rng, B * ld, 1.0);
    std::vector<T> h(static_cast<size_t>(B * ld), T(0)), h_ref = h;
    std::vector<T> hn(static_cast<size_t>(B * H)), hn_ref = hn;
    gru_step_forward(B, H, gates.data(), hh.data(), bias.data(), b_hn.data(), h_prev.data(), ld, h.data(), ld,
                     hn.data());
    gru_step_forward_reference(B, H, gates_ref.data(), hh.data(), bias.data(), b_hn.data(), h_prev.data(), ld,
                               h_ref.data(), ld, hn_ref.data());
    expect_close(gates, gates_ref, tag + " forward gates");
    expect_close(h, h_ref, tag + " forward h");
    expect_close(hn, hn_ref, tag + " forward hn");

    const auto dy = random_vector<T>(rng, B * ld);
    auto dh = random_vector<T>(rng, B * H), dh_ref = dh;
    std::vector<T> di(static_cast<size_t>(B * 3 * H)), dhh = di, di_ref = di, dhh_ref = di;
    auto db = random_vector<T>(rng, 3 * H), db_ref = db, db_hn = random_vector<T>(rng, H), db_hn_ref = db_hn;
    const T* dy_ptr = c.with_dy ? dy.data() : nullptr;
    gru_step_backward(B, H, gates_ref.data(), hn_ref.data(), h_prev.data(), ld, dy_ptr, ld, dh.data(),
                      di.data(), dhh.data(), db.data(), db_hn.data());
    gru_step_backward_reference(B, H, gates_ref.data(), hn_ref.data(), h_prev.data(), ld, dy_ptr, ld,
                                dh_ref.data(), di_ref.data(), dhh_ref.data(), db_ref.data(),
                                db_hn_ref.data());
    expect_close(db, db_ref, tag + " backward db");
    expect_close(db_hn, db_hn_ref, tag + " backward db_hn");
    expect_close(di, di_ref, tag + " backward dgates_ih");
    expect_close(dhh, dhh_ref, tag + " backward dgates_hh");
    expect_close(dh, dh_ref, tag + " backward dh");
  }
}

template <Scalar T>
void check_lstm() {
  Rng rng(3);
  for (const Case& c : cases()) {
    const int64_t B = c.B, H = c.H, ld = H + c.ld_extra;
    const std::string tag = std::string(sizeof(T) == 4 ? "float " : "double ") + "lstm " + c.str();
    auto gates = random_vector<T>(rng, B * 4 * H), gates_ref = gates;
    const auto bias = random_vector<T>(rng, 4 * H), c_prev = random_vector<T>(rng, B * H);
    std::vector<T> cell(static_cast<size_t>(B * H)), tanh_c = cell, cell_ref = cell, tanh_c_ref = cell;
    std::vector<T> h(static_cast<size_t>(B * ld), T(0)), h_ref = h;
    lstm_step_forward(B, H, gates.data(), bias.data(), c_prev.data(), cell.data(), tanh_c.data(), h.data(),
                      ld);
    lstm_step_forward_reference(B, H, gates_ref.data(), bias.data(), c_prev.data(), cell_ref.data(),
                                tanh_c_ref.data(), h_ref.data(), ld);
    expect_close(gates, gates_ref, tag + " forward gates");
    expect_close(cell, cell_ref, tag + " forward c");
    expect_close(tanh_c, tanh_c_ref, tag + " forward tanh_c");
    expect_close(h, h_ref, tag + " forward h");

    const auto dy = random_vector<T>(rng, B * ld), dh = random_vector<T>(rng, B * H);
    auto dc = random_vector<T>(rng, B * H), dc_ref = dc;
    std::vector<T> dgates(static_cast<size_t>(B * 4 * H)), dgates_ref = dgates;
    auto db = random_vector<T>(rng, 4 * H), db_ref = db;
    const T* dy_ptr = c.with_dy ? dy.data() : nullptr;
    lstm_step_backward(B, H, gates_ref.data(), c_prev.data(), tanh_c_ref.data(), dy_ptr, ld, dh.data(),
                       dc.data(), dgates.data(), db.data());
    lstm_step_backward_reference(B, H, gates_ref.data(), c_prev.data(), tanh_c_ref.data(), dy_ptr, ld,
                                 dh.data(), dc_ref.data(), dgates_ref.data(), db_ref.data());
    expect_close(db, db_ref, tag + " backward db");
    expect_close(dgates, dgates_ref, tag + " backward dgates");
    expect_close(dc, dc_ref, tag + " backward dc");
  }
}

TEST(Gates, RnnTanhMatchesReference) {
  check_rnn<float>(RnnActivation::kTanh);
  check_rnn<double>(RnnActivation::kTanh);
}
TEST(Gates, RnnReluMatchesReference) {
  check_rnn<float>(RnnActivation::kRelu);
  check_rnn<double>(RnnActivation::kRelu);
}
TEST(Gates, GruMatchesReference) {
  check_gru<float>();
  check_gru<double>();
}
TEST(Gates, LstmMatchesReference) {
  check_lstm<float>();
  check_lstm<double>();
}

// A hand-computed GRU step: with all pre-activations zero, r = z = 1/2 and n = tanh(0) = 0, so
// h = (1 - z) * 0 + z * h_prev = h_prev / 2.
TEST(Gates, GruZeroInputsHalveTheState) {
  std::vector<double> gates(6, 0.0), hh(6, 0.0), bias(6, 0.0), b_hn(2, 0.0), hn(2);
  const std::vector<double> h_prev{0.8, -0.4};
  std::vector<double> h(2);
  gru_step_forward<double>(1, 2, gates.data(), hh.data(), bias.data(), b_hn.data(), h_prev.data(), 2,
                           h.data(), 2, hn.data());
  EXPECT_DOUBLE_EQ(h[0], 0.4);
  EXPECT_DOUBLE_EQ(h[1], -0.2);
  EXPECT_DOUBLE_EQ(gates[0], 0.5);
  EXPECT_DOUBLE_EQ(gates[2], 0.5);
}

// A hand-computed LSTM step: with i = f = o = sigmoid(0) = 1/2 and g = tanh(0) = 0,
// c = c_prev / 2 and h = tanh(c) / 2.
TEST(Gates, LstmZeroInputsHalveTheCell) {
  std::vector<double> gates(4, 0.0), bias(4, 0.0), c(1), tanh_c(1), h(1);
  const std::vector<double> c_prev{1.2};
  lstm_step_forward<double>(1, 1, gates.data(), bias.data(), c_prev.data(), c.data(), tanh_c.data(), h.data(),
                            1);
  EXPECT_DOUBLE_EQ(c[0], 0.6);
  EXPECT_DOUBLE_EQ(h[0], 0.5 * std::tanh(0.6));
}

}  // namespace
}  // namespace recur::kernels
