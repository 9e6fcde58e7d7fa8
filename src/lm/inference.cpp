// Batch-1 inference step without the graph: GEMVs and one fused gate pass per layer, then the head.
// Cell equations and gate orders are those of src/nn/{rnn_cell,gru,lstm}.cpp (GRU r, z, n; LSTM
// i, f, g, o). Glossary: H hidden, G gate blocks, GH = G*H, V vocabulary, E embedding width.
#include "recur/lm/inference.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/fast_math.h"
#include "kernels/gemv.h"
#include "recur/core/error.h"

namespace recur {

namespace {

void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

}  // namespace

// A second thread for the GEMVs of one session: run() hands it rows [split, M) of a product and
// does rows [0, split) itself, then waits. Hand-offs go through two counters; each side spins a
// little (a token takes microseconds) and then sleeps on the counter (std::atomic::wait), so an
// idle or descheduled helper costs nothing.
class GemvHelper {
 public:
  GemvHelper() : thread_([this] { loop(); }) {}
  ~GemvHelper() {
    stop_ = true;
    posted_.fetch_add(1, std::memory_order_release);
    posted_.notify_one();
    thread_.join();
  }
  GemvHelper(const GemvHelper&) = delete;
  GemvHelper& operator=(const GemvHelper&) = delete;

  void run(const kernels::PackedGemv& A, const float* x, float beta, float* y) {
    const int64_t panels = A.num_panels(), split = panels / 2;
    job_ = {&A, split, panels, x, beta, y};
    const uint32_t ticket = posted_.fetch_add(1, std::memory_order_release) + 1;
    posted_.notify_one();
    kernels::packed_gemv(A, 0, split, x, beta, y);
    wait_for(finished_, ticket);
  }

 private:
  struct Job {
    const kernels::PackedGemv* A = nullptr;
    int64_t p0 = 0, p1 = 0;  // panels of A
    const float* x = nullptr;
    float beta = 0;
    float* y = nullptr;
  };

  static void wait_for(std::atomic<uint32_t>& counter, uint32_t target) {
    for (int spin = 0; spin < 20000; ++spin) {
      if (counter.load(std::memory_order_acquire) == target) return;
      cpu_relax();
    }
    for (uint32_t seen = counter.load(std::memory_order_acquire); seen != target;
         seen = counter.load(std::memory_order_acquire))
      counter.wait(seen, std::memory_order_acquire);
  }

  void loop() {
    for (uint32_t ticket = 1;; ++ticket) {
      wait_for(posted_, ticket);
      if (stop_) return;
      kernels::packed_gemv(*job_.A, job_.p0, job_.p1, job_.x, job_.beta, job_.y);
      finished_.store(ticket, std::memory_order_release);
      finished_.notify_one();
    }
  }

  Job job_;                          // written before posted_ is bumped, read after
  bool stop_ = false;                // likewise
  std::atomic<uint32_t> posted_{0};  // jobs handed out
  std::atomic<uint32_t> finished_{0};
  std::thread thread_;               // last: starts after the counters exist
};

// Below about 64K multiply-adds a hand-off costs more than half the product saves.
void InferenceSession::gemv(const kernels::PackedGemv& A, const float* x, float beta, float* y) {
  if (helper_ && A.M * A.N >= 65536 && A.num_panels() >= 2) {
    helper_->run(A, x, beta, y);
  } else {
    kernels::packed_gemv(A, 0, A.num_panels(), x, beta, y);
  }
}

namespace {
std::unique_ptr<kernels::PackedGemv> pack(int64_t M, int64_t N, const float* A) {
  auto packed = std::make_unique<kernels::PackedGemv>();
  kernels::pack_gemv(M, N, A, N, *packed);
  return packed;
}
}  // namespace

InferenceSession::~InferenceSession() = default;

InferenceSession::InferenceSession(const LanguageModel& model, const InferenceOptions& options) : model_(&model) {
  check(options.threads >= 0 && options.threads <= 2,
        "InferenceSession: threads must be 0, 1 or 2, got " + std::to_string(options.threads));
  const LanguageModelConfig& c = model.config();
  const ParameterStore<float>& p = model.parameters();
  const float* values = p.values().data();
  auto at = [&](const std::string& name) { return values + p.slot(p.index_of(name)).offset; };
  cell_ = c.cell;
  H_ = c.hidden_size;
  G_ = gate_count(c.cell);
  V_ = c.vocab_size;
  E_ = c.embedding_size;
  const int64_t GH = G_ * H_;
  layers_.resize(static_cast<size_t>(c.num_layers));
  for (int l = 0; l < c.num_layers; ++l) {
    Layer& layer = layers_[static_cast<size_t>(l)];
    const std::string k = std::to_string(l);
    const int64_t in = l > 0 ? H_ : (E_ > 0 ? E_ : V_);
    const float* w_ih = at("rnn.weight_ih_l" + k);
    if (l > 0 || E_ > 0) layer.w_ih = pack(GH, in, w_ih);
    layer.w_hh = pack(GH, H_, at("rnn.weight_hh_l" + k));
    const float* b_ih = at("rnn.bias_ih_l" + k);
    const float* b_hh = at("rnn.bias_hh_l" + k);
    layer.bias.assign(b_ih, b_ih + GH);
    const int64_t folded = cell_ == CellType::kGru ? 2 * H_ : GH;  // GRU keeps b_hn apart
    for (int64_t j = 0; j < folded; ++j) layer.bias[static_cast<size_t>(j)] += b_hh[j];
    if (cell_ == CellType::kGru) layer.b_hn.assign(b_hh + 2 * H_, b_hh + GH);
    layer.h.assign(static_cast<size_t>(H_), 0.0f);
    if (cell_ == CellType::kLstm) layer.c.assign(static_cast<size_t>(H_), 0.0f);
  }
  if (E_ > 0) {
    embedding_ = at("embedding.weight");
  } else {
    // table[v, :] = W_ih[:, v] + bias: the first layer's whole input side for token v.
    table_.resize(static_cast<size_t>(V_ * GH));
    const Layer& first = layers_.front();
    const float* w_ih = at("rnn.weight_ih_l0");
    for (int64_t v = 0; v < V_; ++v)
      for (int64_t j = 0; j < GH; ++j)
        table_[static_cast<size_t>(v * GH + j)] = w_ih[j * V_ + v] + first.bias[static_cast<size_t>(j)];
  }
  head_w_ = pack(V_, H_, at("head.weight"));
  head_b_ = at("head.bias");
  gates_.resize(static_cast<size_t>(GH));
  hh_.resize(static_cast<size_t>(GH));
  logits_.resize(static_cast<size_t>(V_));
  if (options.threads == 2) helper_ = std::make_unique<GemvHelper>();
}

void InferenceSession::reset() {
  for (Layer& layer : layers_) {
    std::fill(layer.h.begin(), layer.h.end(), 0.0f);
    std::fill(layer.c.begin(), layer.c.end(), 0.0f);
  }
}

std::span<const float> InferenceSession::step(int32_t token) {
  check(token >= 0 && token < V_,
        "InferenceSession::step: token id " + std::to_string(token) + " outside [0, " + std::to_string(V_) + ")");
  using kernels::fast_sigmoid;
  using kernels::fast_tanh;
  const int64_t H = H_, GH = G_ * H_;
  float* __restrict__ gates = gates_.data();
  float* __restrict__ hh = hh_.data();
  // Input of the current layer: the token's embedding row (unused for one-hot), then h below.
  const float* x = E_ > 0 ? embedding_ + static_cast<int64_t>(token) * E_ : nullptr;
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& layer = layers_[l];
    // Input side (+ folded biases) into gates.
    if (l == 0 && E_ == 0) {
      std::copy_n(table_.data() + static_cast<int64_t>(token) * GH, GH, gates);
    } else {
      std::copy(layer.bias.begin(), layer.bias.end(), gates);
      gemv(*layer.w_ih, x, 1.0f, gates);
    }
    float* __restrict__ h = layer.h.data();
    switch (cell_) {
      case CellType::kRnnTanh:
      case CellType::kRnnRelu: {
        gemv(*layer.w_hh, h, 1.0f, gates);
        if (cell_ == CellType::kRnnTanh) {
          for (int64_t j = 0; j < H; ++j) h[j] = fast_tanh(gates[j]);
        } else {
          for (int64_t j = 0; j < H; ++j) h[j] = gates[j] > 0.0f ? gates[j] : 0.0f;
        }
        break;
      }
      case CellType::kGru: {
        // r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r (gh_n + b_hn)),
        // h' = (1 - z) n + z h.
        gemv(*layer.w_hh, h, 0.0f, hh);
        const float* __restrict__ b_hn = layer.b_hn.data();
        for (int64_t j = 0; j < H; ++j) {
          const float r = fast_sigmoid(gates[j] + hh[j]);
          const float z = fast_sigmoid(gates[H + j] + hh[H + j]);
          const float n = fast_tanh(gates[2 * H + j] + r * (hh[2 * H + j] + b_hn[j]));
          h[j] = (1.0f - z) * n + z * h[j];
        }
        break;
      }
      case CellType::kLstm: {
        // c' = f c + i g, h' = o tanh(c').
        gemv(*layer.w_hh, h, 1.0f, gates);
        float* __restrict__ c = layer.c.data();
        for (int64_t j = 0; j < H; ++j) {
          const float i = fast_sigmoid(gates[j]);
          const float f = fast_sigmoid(gates[H + j]);
          const float g = fast_tanh(gates[2 * H + j]);
          const float o = fast_sigmoid(gates[3 * H + j]);
          c[j] = f * c[j] + i * g;
          h[j] = o * fast_tanh(c[j]);
        }
        break;
      }
    }
    x = h;
  }
  std::copy_n(head_b_, V_, logits_.data());
  gemv(*head_w_, x, 1.0f, logits_.data());
  return logits_;
}

}  // namespace recur
