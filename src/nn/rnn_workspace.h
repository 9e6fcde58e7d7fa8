// The buffers the fused stack (rnn.cpp) reuses across calls: a workspace per forward pass still
// alive in some Graph (the caches its backward reads), leased from a pool that the Rnn owns, and
// the backward scratch the pool shares, since backward passes run one at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/aligned_vector.h"
#include "nn/sequence_scan.h"
#include "recur/nn/rnn.h"

namespace recur::detail {

// Buffers of one forward pass, reused by later passes of the same or smaller (T, B).
template <Scalar T>
struct RnnWorkspace {
  std::vector<fused::ScanCache<T>> caches;  // [L*D] one per layer and direction
  // [L] each [T*B, D*H]: hidden states of layer l. Unused for the top layer of a time-major stack,
  // which writes straight into the op's output value.
  std::vector<AlignedVector<T>> outputs;
  std::vector<AlignedVector<T>> dropped;  // [L] each [T*B, D*H]: input of layer l >= 1 after dropout
  std::vector<AlignedVector<T>> masks;    // [L] each [T*B, D*H]: its mask, 0 or 1 / (1 - p)
  AlignedVector<T> x_time_major;          // [T*B, I] the input, transposed (batch-major only)
  std::vector<int32_t> ids;               // [T*B] one-hot input: the ids, time-major
  AlignedVector<T> w_ih_t;                // [D, I, G*H] one-hot input: layer 0's W_ih transposed
  AlignedVector<T> zeros;                 // [B, H] the initial state when none is given
};

template <Scalar T>
struct RnnPool {
  std::vector<std::unique_ptr<RnnWorkspace<T>>> all;
  std::vector<RnnWorkspace<T>*> free;  // capacity kept at all.size(), so returning one never allocates
  // Backward scratch, shared by all workspaces: backward passes run one at a time.
  AlignedVector<T> dgates_ih;   // [T*B, G*H]
  AlignedVector<T> dgates_hh;   // [T*B, G*H], cells with kRecurrentApart only
  AlignedVector<T> dy_a, dy_b;  // [T*B, D*H] gradient on a layer's output, alternating between layers
  AlignedVector<T> dx;          // [T*B, I] gradient on the input before transposing (batch-major)
  AlignedVector<T> dh, dc;      // [B, H] carried state gradients
  AlignedVector<T> dbias;       // [G*H + H] bias-gradient sums of one sweep
  kernels::PackedMatrix<T> w_hh_packed;  // W_hh [G*H, H] of the sweep being run, packed
  kernels::PackedMatrix<T> w_ih_packed;  // W_ih [G*H, I] of the sweep being run, packed (dx)
  AlignedVector<T> dbias_parts;          // [(threads - 1) * (G*H + H)] bias sums of extra row blocks
  AlignedVector<T> dw_ih_t_parts;        // [threads, I, G*H] one-hot input: dW_ih^T of each row block
  AlignedVector<T> dw_hh_parts;          // [threads, G*H, H] small layers: dW_hh of each row block
};

// A workspace reserved for one forward pass; it returns to the pool when the last holder (the
// backward closure in the Graph) lets go.
template <Scalar T>
using WorkspaceLease = std::shared_ptr<RnnWorkspace<T>>;

// A free workspace, or a new one.
template <Scalar T>
WorkspaceLease<T> acquire_workspace(const std::shared_ptr<RnnPool<T>>& pool);

// Everything about one forward pass of the stack that its backward needs.
template <Scalar T>
struct RnnRecord {
  RnnConfig config;
  int64_t steps = 0, batch = 0;
  bool use_dropout = false;
  bool one_hot = false;  // layer 0 reads workspace->ids instead of x
  int threads = 1;       // the recording graph's ComputeContext::threads, for forward and backward
  Var x, output, h_n, c_n;
  std::optional<Var> h0, c0;
  std::vector<Var> params;  // [L*D*4] parameter leaves, in add_rnn_parameters order
  WorkspaceLease<T> workspace;
  std::shared_ptr<RnnPool<T>> pool;

  [[nodiscard]] int num_directions() const { return config.bidirectional ? 2 : 1; }
  [[nodiscard]] bool batch_major() const { return config.layout == Layout::kBatchMajor; }
  [[nodiscard]] bool top_writes_output(int layer) const {
    return layer == config.num_layers - 1 && !batch_major();
  }
  [[nodiscard]] int64_t layer_input_size(int layer) const {
    return layer == 0 ? config.input_size : num_directions() * config.hidden_size;
  }
  // Parameter leaf `kind` of sequence k = layer * D + direction.
  [[nodiscard]] Var param(int k, RnnParam kind) const {
    return params[static_cast<size_t>(4 * k + static_cast<int>(kind))];
  }

  // [T*B, D*H] hidden states of a layer.
  T* layer_output(Graph<T>& g, int layer) const;
  // [T*B, in_l] what a layer reads: the (time-major) input, or the layer below after dropout; null
  // for one-hot input.
  const T* layer_input(Graph<T>& g, int layer) const;
  // The arguments of the fused scan of one layer and direction.
  fused::SequenceArgs<T> sequence(Graph<T>& g, int layer, int direction) const;
};

// Sizes the workspace of a forward pass (the caches are sized by the scan itself).
template <Scalar T>
void prepare_workspace(RnnWorkspace<T>& ws, const RnnRecord<T>& r);

// Sizes the pool's backward scratch for a pass with G gate blocks; `recurrent_apart` as the
// cell's kRecurrentApart.
template <Scalar T>
void prepare_backward_scratch(RnnPool<T>& pool, const RnnRecord<T>& r, int gates, bool recurrent_apart);

}  // namespace recur::detail
