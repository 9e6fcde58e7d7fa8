// The fused gate kernels against their plain reference twins over many shapes (B = 1, H = 1, H not
// a multiple of the SIMD width, strided hidden-state rows, with and without dy), in float and double,
// including the bias-gradient column sums the backward kernels accumulate, on every SIMD target.
// Every buffer ends where an inaccessible page begins, so a kernel that reads or writes past the
// last column of its last row (a vector tail done wrong) crashes the test; the padding columns of
// strided rows must come back untouched.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "kernels/gates.h"
#include "recur/core/rng.h"
#include "simd_targets.h"

#if __has_include(<sys/mman.h>)
#include <sys/mman.h>
#include <unistd.h>
#define RECUR_TEST_GUARD_PAGES 1
#endif

namespace recur::kernels {
namespace {

// n values of T (zero-filled) that end exactly where an inaccessible page begins, where the
// platform has mmap; a plain allocation elsewhere.
template <Scalar T>
class Buffer {
 public:
  explicit Buffer(size_t n) : size_(n) {
#ifdef RECUR_TEST_GUARD_PAGES
    const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t data_pages = (n * sizeof(T) + page - 1) / page;
    mapped_ = (data_pages + 1) * page;
    void* base = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) std::abort();
    base_ = static_cast<char*>(base);
    if (mprotect(base_ + data_pages * page, page, PROT_NONE) != 0) std::abort();
    data_ = reinterpret_cast<T*>(base_ + data_pages * page) - n;
#else
    data_ = new T[n]();
#endif
  }
  Buffer(const Buffer& other) : Buffer(other.size_) { std::copy(other.begin(), other.end(), data_); }
  Buffer(Buffer&& other) noexcept
      : size_(std::exchange(other.size_, 0)),
        data_(std::exchange(other.data_, nullptr)),
        base_(std::exchange(other.base_, nullptr)),
        mapped_(std::exchange(other.mapped_, 0)) {}
  Buffer& operator=(const Buffer&) = delete;
  Buffer& operator=(Buffer&&) = delete;
  ~Buffer() {
#ifdef RECUR_TEST_GUARD_PAGES
    if (base_ != nullptr) munmap(base_, mapped_);
#else
    delete[] data_;
#endif
  }
  [[nodiscard]] size_t size() const { return size_; }
  T* data() { return data_; }
  [[nodiscard]] const T* data() const { return data_; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  [[nodiscard]] const T* begin() const { return data_; }
  [[nodiscard]] const T* end() const { return data_ + size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  size_t size_ = 0;
  T* data_ = nullptr;
  char* base_ = nullptr;  // the mapping (guard pages)
  size_t mapped_ = 0;
};

struct Case {
  int64_t B, H, ld_extra;  // ld of strided rows = H + ld_extra
  bool with_dy;
  [[nodiscard]] std::string str() const {
    return "B=" + std::to_string(B) + " H=" + std::to_string(H) + " ld=H+" + std::to_string(ld_extra) +
           (with_dy ? " dy" : " no-dy");
  }
};

// H: below, at and between the lane counts (4, 8, 16), with every tail length from 1 to 15
// somewhere among them.
std::vector<Case> cases() {
  std::vector<Case> all;
  for (int64_t B : {1, 3, 9})
    for (int64_t H : {1, 3, 8, 17, 32, 33, 47})
      for (int64_t extra : {0, 5})
        for (bool dy : {false, true}) all.push_back({B, H, extra, dy});
  return all;
}

template <Scalar T>
Buffer<T> random_buffer(Rng& rng, int64_t n, double scale = 2.0) {
  Buffer<T> v(static_cast<size_t>(n));
  for (T& x : v) x = static_cast<T>(rng.uniform(-scale, scale));
  return v;
}

// Strided output rows start out as this, so that untouched padding columns compare equal.
template <Scalar T>
Buffer<T> filled_buffer(int64_t n, T value) {
  Buffer<T> v(static_cast<size_t>(n));
  std::fill(v.begin(), v.end(), value);
  return v;
}

// float uses exp/tanh approximations of about 1 ulp, double the std:: functions.
template <Scalar T>
constexpr double tolerance() {
  return sizeof(T) == 4 ? 2e-6 : 1e-13;
}

template <Scalar T>
void expect_close(const Buffer<T>& actual, const Buffer<T>& expected, const std::string& what) {
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
std::string type_tag() {
  return sizeof(T) == 4 ? "float " : "double ";
}

template <Scalar T>
void check_rnn(RnnActivation act) {
  Rng rng(1);
  for (const Case& c : cases()) {
    const int64_t B = c.B, H = c.H, ld = H + c.ld_extra;
    const std::string tag = type_tag<T>() + (act == RnnActivation::kTanh ? "tanh " : "relu ") + c.str();
    const auto pre = random_buffer<T>(rng, B * H), bias = random_buffer<T>(rng, H);
    auto h = filled_buffer<T>(B * ld, T(7)), h_ref = h;
    rnn_step_forward(act, B, H, pre.data(), bias.data(), h.data(), ld);
    rnn_step_forward_reference(act, B, H, pre.data(), bias.data(), h_ref.data(), ld);
    expect_close(h, h_ref, tag + " forward h");

    const auto dy = random_buffer<T>(rng, B * ld), dh = random_buffer<T>(rng, B * H);
    Buffer<T> dpre(static_cast<size_t>(B * H)), dpre_ref = dpre;
    auto db = random_buffer<T>(rng, H), db_ref = db;  // accumulated into
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
    const std::string tag = type_tag<T>() + "gru " + c.str();
    auto gates = random_buffer<T>(rng, B * 3 * H), gates_ref = gates;
    const auto hh = random_buffer<T>(rng, B * 3 * H), bias = random_buffer<T>(rng, 3 * H);
    const auto b_hn = random_buffer<T>(rng, H), h_prev = random_buffer<T>(rng, B * ld, 1.0);
    auto h = filled_buffer<T>(B * ld, T(7)), h_ref = h;
    Buffer<T> hn(static_cast<size_t>(B * H)), hn_ref = hn;
    gru_step_forward(B, H, gates.data(), hh.data(), bias.data(), b_hn.data(), h_prev.data(), ld, h.data(), ld,
                     hn.data());
    gru_step_forward_reference(B, H, gates_ref.data(), hh.data(), bias.data(), b_hn.data(), h_prev.data(), ld,
                               h_ref.data(), ld, hn_ref.data());
    expect_close(gates, gates_ref, tag + " forward gates");
    expect_close(h, h_ref, tag + " forward h");
    expect_close(hn, hn_ref, tag + " forward hn");

    const auto dy = random_buffer<T>(rng, B * ld);
    auto dh = random_buffer<T>(rng, B * H), dh_ref = dh;
    Buffer<T> di(static_cast<size_t>(B * 3 * H)), dhh = di, di_ref = di, dhh_ref = di;
    auto db = random_buffer<T>(rng, 3 * H), db_ref = db, db_hn = random_buffer<T>(rng, H), db_hn_ref = db_hn;
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
    const std::string tag = type_tag<T>() + "lstm " + c.str();
    auto gates = random_buffer<T>(rng, B * 4 * H), gates_ref = gates;
    const auto bias = random_buffer<T>(rng, 4 * H), c_prev = random_buffer<T>(rng, B * H);
    Buffer<T> cell(static_cast<size_t>(B * H)), tanh_c = cell, cell_ref = cell, tanh_c_ref = cell;
    auto h = filled_buffer<T>(B * ld, T(7)), h_ref = h;
    lstm_step_forward(B, H, gates.data(), bias.data(), c_prev.data(), cell.data(), tanh_c.data(), h.data(),
                      ld);
    lstm_step_forward_reference(B, H, gates_ref.data(), bias.data(), c_prev.data(), cell_ref.data(),
                                tanh_c_ref.data(), h_ref.data(), ld);
    expect_close(gates, gates_ref, tag + " forward gates");
    expect_close(cell, cell_ref, tag + " forward c");
    expect_close(tanh_c, tanh_c_ref, tag + " forward tanh_c");
    expect_close(h, h_ref, tag + " forward h");

    const auto dy = random_buffer<T>(rng, B * ld), dh = random_buffer<T>(rng, B * H);
    auto dc = random_buffer<T>(rng, B * H), dc_ref = dc;
    Buffer<T> dgates(static_cast<size_t>(B * 4 * H)), dgates_ref = dgates;
    auto db = random_buffer<T>(rng, 4 * H), db_ref = db;
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

// Each case on every SIMD target (float dispatches; double is plain code, the same everywhere).
class GatesTest : public SimdTargetTest {};
RECUR_INSTANTIATE_SIMD_TARGETS(GatesTest);

TEST_P(GatesTest, RnnTanhMatchesReference) {
  check_rnn<float>(RnnActivation::kTanh);
  check_rnn<double>(RnnActivation::kTanh);
}
TEST_P(GatesTest, RnnReluMatchesReference) {
  check_rnn<float>(RnnActivation::kRelu);
  check_rnn<double>(RnnActivation::kRelu);
}
TEST_P(GatesTest, GruMatchesReference) {
  check_gru<float>();
  check_gru<double>();
}
TEST_P(GatesTest, LstmMatchesReference) {
  check_lstm<float>();
  check_lstm<double>();
}

// A hand-computed GRU step: with all pre-activations zero, r = z = 1/2 and n = tanh(0) = 0, so
// h = (1 - z) * 0 + z * h_prev = h_prev / 2 (exactly, in float too).
template <Scalar T>
void check_gru_zero_inputs() {
  std::vector<T> gates(6, T(0)), hh(6, T(0)), bias(6, T(0)), b_hn(2, T(0)), hn(2);
  const std::vector<T> h_prev{T(0.8), T(-0.4)};
  std::vector<T> h(2);
  gru_step_forward<T>(1, 2, gates.data(), hh.data(), bias.data(), b_hn.data(), h_prev.data(), 2, h.data(), 2,
                      hn.data());
  EXPECT_EQ(h[0], T(0.4));
  EXPECT_EQ(h[1], T(-0.2));
  EXPECT_EQ(gates[0], T(0.5));
  EXPECT_EQ(gates[2], T(0.5));
}
TEST_P(GatesTest, GruZeroInputsHalveTheState) {
  check_gru_zero_inputs<float>();
  check_gru_zero_inputs<double>();
}

// A hand-computed LSTM step: with i = f = o = sigmoid(0) = 1/2 and g = tanh(0) = 0,
// c = c_prev / 2 and h = tanh(c) / 2.
TEST_P(GatesTest, LstmZeroInputsHalveTheCell) {
  {
    std::vector<double> gates(4, 0.0), bias(4, 0.0), c(1), tanh_c(1), h(1);
    const std::vector<double> c_prev{1.2};
    lstm_step_forward<double>(1, 1, gates.data(), bias.data(), c_prev.data(), c.data(), tanh_c.data(),
                              h.data(), 1);
    EXPECT_DOUBLE_EQ(c[0], 0.6);
    EXPECT_DOUBLE_EQ(h[0], 0.5 * std::tanh(0.6));
  }
  {
    std::vector<float> gates(4, 0.0f), bias(4, 0.0f), c(1), tanh_c(1), h(1);
    const std::vector<float> c_prev{1.2f};
    lstm_step_forward<float>(1, 1, gates.data(), bias.data(), c_prev.data(), c.data(), tanh_c.data(),
                             h.data(), 1);
    EXPECT_EQ(c[0], 0.6f);
    EXPECT_FLOAT_EQ(h[0], 0.5f * std::tanh(0.6f));  // within 4 ulps: the approximation is about 1
  }
}

}  // namespace
}  // namespace recur::kernels
