// Token-by-token inference with a LanguageModel, batch 1, without the autograd graph: what
// generation runs. One step is, per layer, a GEMV with W_hh (and with W_ih above the first layer)
// and one element-wise gate pass, then the head's GEMV. Nothing allocates per token.
//
// The first layer's input projection of a one-hot token is column `token` of W_ih; the session
// packs W_ih^T [V, G*H] once, with the biases folded in, so that it is a row lookup. The other
// weight matrices are packed once for kernels::packed_gemv (src/kernels/gemv.h); the session
// thus holds a second copy of the weights.
// LanguageModel::forward (the graph path) is the reference this is tested against.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "recur/lm/language_model.h"

namespace recur {

namespace kernels {
struct PackedGemv;
}

struct InferenceOptions {
  // 1 or 2: with 2, a helper thread takes half the rows of every large GEMV (batch-1 inference is
  // bound by reading the weights, and each core brings its own cache bandwidth). It spins briefly
  // between tokens, then sleeps. 0 = 1.
  int threads = 1;
};

class GemvHelper;  // the helper thread (inference.cpp)

class InferenceSession {
 public:
  // Reads the model's weights as they are now; build a new session after the weights change.
  // The model must outlive the session.
  explicit InferenceSession(const LanguageModel& model, const InferenceOptions& options = {});
  ~InferenceSession();
  InferenceSession(const InferenceSession&) = delete;
  InferenceSession& operator=(const InferenceSession&) = delete;

  // Zeroes the recurrent state.
  void reset();

  // Feeds one token (in [0, V)) and returns the logits [V] of the next one. The span stays valid
  // until the next call.
  std::span<const float> step(int32_t token);

 private:
  struct Layer {
    std::unique_ptr<kernels::PackedGemv> w_ih;  // [G*H, in], packed (null for a one-hot first layer)
    std::unique_ptr<kernels::PackedGemv> w_hh;  // [G*H, H], packed
    std::vector<float> bias;      // [G*H] b_ih + b_hh (GRU: b_hh only in the r and z blocks)
    std::vector<float> b_hn;      // [H] GRU's b_hn, inside r * (W_hn h + b_hn)
    std::vector<float> h;         // [H] hidden state
    std::vector<float> c;         // [H] cell state, LSTM only
  };
  const LanguageModel* model_;
  CellType cell_;
  int64_t H_ = 0, G_ = 0, V_ = 0, E_ = 0;  // hidden, gate blocks, vocabulary, embedding (0 = one-hot)
  std::vector<Layer> layers_;
  std::vector<float> table_;      // [V, G*H] one-hot first layer: W_ih^T plus the folded bias
  const float* embedding_ = nullptr;  // [V, E] when embedding_size > 0
  std::unique_ptr<kernels::PackedGemv> head_w_;  // [V, H], packed
  const float* head_b_ = nullptr;     // [V]
  std::vector<float> gates_;      // [G*H] pre-activations (input side + recurrent side, GRU: input side)
  std::vector<float> hh_;         // [G*H] GRU: W_hh h
  std::vector<float> logits_;     // [V]
  std::unique_ptr<GemvHelper> helper_;  // null with one thread
  // y = beta y + A x, split over the helper by panels when there is one.
  void gemv(const kernels::PackedGemv& A, const float* x, float beta, float* y);
};

}  // namespace recur
