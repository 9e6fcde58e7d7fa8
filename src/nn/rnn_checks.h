// Argument checks shared by the fused Rnn and the from-scratch ScratchRnn, so both reject the same
// inputs with the same messages.
#pragma once

#include <cstdint>

#include "recur/nn/rnn.h"

namespace recur::fused {

// Throws ValueError for a non-positive size, num_layers < 1, dropout outside [0, 1) or a cell
// value outside the enum.
void check_rnn_config(const RnnConfig& config);

struct SequenceSize {
  int64_t steps;
  int64_t batch;
};

// Checks x ([T, B, I] or [B, T, I] by config.layout), h0 and c0 ([L*D, B, H], either may be null)
// and the dropout generator; `op` names the caller in messages. Throws ShapeError or ValueError.
SequenceSize check_rnn_inputs(const char* op, const RnnConfig& config, const Shape& x, const Shape* h0,
                              const Shape* c0, bool use_dropout, bool has_dropout_rng);

}  // namespace recur::fused
