// Token-by-token inference with a LanguageModel, batch 1, without the autograd graph: what
// generation runs. One step is, per layer, a GEMV with W_hh (and with W_ih above the first layer)
// and the cell's fused step kernel on one row, then the head's GEMV. Nothing allocates per token.
//
// The first layer's input projection of a one-hot token is column `token` of W_ih; the session
// packs W_ih^T [V, G*H] once, so that it is a row lookup. The other weight matrices are packed once
// for a batch-1 GEMV; the session thus holds a second copy of the weights.
// LanguageModel::forward (the graph path) is the reference this is tested against.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "recur/lm/language_model.h"

namespace recur {

struct InferenceOptions {
  // 1 or 2: with 2, a helper thread takes half the rows of every large GEMV (batch-1 inference is
  // bound by reading the weights, and each core brings its own cache bandwidth). It spins briefly
  // between tokens, then sleeps. 0 = 1.
  int threads = 1;
};

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
  struct Impl;  // packed weights, states and buffers (inference.cpp)
  std::unique_ptr<Impl> impl_;
};

}  // namespace recur
