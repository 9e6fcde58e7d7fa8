// Checks of the stack's config and of the arguments of Rnn::forward and ScratchRnn::forward.
#include "nn/rnn_checks.h"

#include <fmt/format.h>

#include <cmath>

#include "nn/cells.h"
#include "recur/core/error.h"

namespace recur::fused {

void check_rnn_config(const RnnConfig& c) {
  check(c.input_size > 0, fmt::format("Rnn: input_size must be > 0, got {}", c.input_size));
  check(c.hidden_size > 0, fmt::format("Rnn: hidden_size must be > 0, got {}", c.hidden_size));
  check(c.num_layers >= 1, fmt::format("Rnn: num_layers must be >= 1, got {}", c.num_layers));
  check(std::isfinite(c.dropout) && c.dropout >= 0 && c.dropout < 1,
        fmt::format("Rnn: dropout must be in [0, 1), got {}", c.dropout));
  (void)gate_count(c.cell);  // rejects an out-of-range enum value
}

SequenceSize check_rnn_inputs(const char* op, const RnnConfig& c, const Shape& xs, const Shape* h0,
                              const Shape* c0, bool use_dropout, bool has_dropout_rng) {
  const bool batch_major = c.layout == Layout::kBatchMajor;
  const char* x_layout = batch_major ? "[B, T, I] (batch-major)" : "[T, B, I] (time-major)";
  check<ShapeError>(xs.rank() == 3, fmt::format("{}: x must be {}, got shape {}", op, x_layout, xs.str()));
  check<ShapeError>(xs[2] == c.input_size,
                    fmt::format("{}: x has width {}, expected input_size {} (x shape {})", op, xs[2],
                                c.input_size, xs.str()));
  const int64_t steps = batch_major ? xs[1] : xs[0];
  const int64_t batch = batch_major ? xs[0] : xs[1];
  check<ShapeError>(steps >= 1 && batch >= 1,
                    fmt::format("{}: x {} needs at least one step and one batch row, got shape {}", op,
                                x_layout, xs.str()));
  const Shape state{c.num_layers * (c.bidirectional ? 2 : 1), batch, c.hidden_size};
  if (h0 != nullptr)
    check<ShapeError>(*h0 == state,
                      fmt::format("{}: h0 has shape {}, expected {} (layers * directions, batch, hidden)", op,
                                  h0->str(), state.str()));
  if (c0 != nullptr) {
    check(has_cell_state(c.cell),
          fmt::format("{}: c0 given, but a {} cell has no cell state", op, cell_name(c.cell)));
    check<ShapeError>(*c0 == state,
                      fmt::format("{}: c0 has shape {}, expected {} (layers * directions, batch, hidden)", op,
                                  c0->str(), state.str()));
  }
  check(!use_dropout || has_dropout_rng,
        fmt::format("{}: training with dropout {} needs a dropout_rng", op, c.dropout));
  return {steps, batch};
}

}  // namespace recur::fused
