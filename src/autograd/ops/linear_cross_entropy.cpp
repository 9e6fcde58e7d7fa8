// linear_cross_entropy: a language model's output head, logits = x W^T + b followed by softmax
// cross-entropy, as one op with the value and gradients of linear() then softmax_cross_entropy()
// (formulas in cross_entropy.cpp and matmul.cpp). The row kernels are in kernels/softmax_rows.h.
//
// Why fused: for the thin heads of character models (V ~ 28-65 classes, I ~ 32-512 inputs,
// N = T*B ~ 30k rows) the unfused pair spends its time on passes over [N, V] (logits, their
// gradient, its zero-fill, two softmax passes) and on OpenBLAS packing W in each of its four calls,
// not on arithmetic. Here the logits are no graph value. The forward computes a block of rows of
// logits and, while the block is in L1/L2, turns each row into its loss term and overwrites it with
//   dlogits_i = (softmax(logits_i) - onehot(t_i)) * w_i / count      (w_i the mask value, or 1)
// in an [N, V] auxiliary node (reused from step to step with the graph's buffers). With s the
// loss's upstream gradient, the gradients are then
//   dx = s dlogits W,   dW += s dlogits^T x,   db += s sum_rows(dlogits).
// In no-grad mode (or when nothing needs a gradient) only the loss is computed, through a small
// scratch block.
//
// Two paths, by head size:
//   small (V * I <= 64Ki elements, W within 256 KiB as float): row blocks on recur's own threads
//     (up to the graph's ComputeContext::threads of them). OpenBLAS is not called inside them,
//     since its pool serializes concurrent callers: the products run in packed_gemm against W^T
//     (forward) or W (backward), packed once per call, and in add_at_b. dlogits^T x and the column sums are
//     taken in the forward, block by block while the block is in cache, one sum per thread kept in a second
//     auxiliary node; the backward scales their total by s and computes dx.
//   large (word level, V ~ 14k): OpenBLAS over all rows at once (it threads itself), the softmax
//     rows on recur's threads, and the three products in the backward through OpenBLAS.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "autograd/ops/cross_entropy_checks.h"
#include "autograd/ops/linear_checks.h"
#include "core/parallel.h"
#include "kernels/add_at_b.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/packed_gemm.h"
#include "kernels/softmax_rows.h"
#include "recur/autograd/ops.h"

namespace recur {

namespace {

using kernels::Trans;

constexpr int64_t kSmallHead = int64_t{1} << 16;  // V * I elements: W within 256 KiB as float, L2-resident
constexpr int64_t kMinPartRows = 64;
// Multiply-adds below which a second thread does not pay for its start (~20 us).
constexpr int64_t kMinParallelWork = int64_t{1} << 17;
// No-grad large head: logits scratch per block, in elements (16 MiB as float): OpenBLAS packs W
// again for every block, so blocks of a few hundred rows.
constexpr int64_t kLargeScratch = int64_t{1} << 22;

// The op's scratch, kept by the graph from call to call (Graph::scratch) so that a training loop
// stops allocating. Each buffer is filled and used within one forward or one backward call, so the
// backward of an earlier call never finds another call's contents.
template <Scalar T>
struct Workspace {
  kernels::PackedMatrix<T> packed;  // W^T [I, V] in the forward, W [V, I] in the backward
  // Per part, a block of logits [rows, V] (forward, no-grad) or of dlogits W [rows, I] (backward, s != 1).
  std::vector<T> scratch;
  std::vector<double> losses;  // [parts]
};

// How many row blocks (at most `threads`) for N rows costing `work_per_row` multiply-adds each.
int part_count(int threads, int64_t N, int64_t work_per_row) {
  if (threads <= 1 || N * work_per_row < kMinParallelWork) return 1;
  return static_cast<int>(std::clamp<int64_t>(N / kMinPartRows, 1, threads));
}

// Rows of a block per step of a part: the block's logits (rows x V) stay in L1/L2 between the GEMM,
// the softmax and the weight-gradient product. A multiple of 16 (the softmax kernel's row groups).
int64_t block_rows(int64_t V) { return std::clamp<int64_t>((int64_t{8192} / V) / 16 * 16, 16, 256); }

// What the forward decides and the backward needs. With s the loss's upstream gradient:
//   dx = s dlogits W,   dW += s dlogits^T x,   db += s sum_rows(dlogits).
template <Scalar T>
struct HeadSaved {
  Var x;                    // [N, I] (x's leading dimensions flattened)
  Var weight;               // [V, I]
  std::optional<Var> bias;  // [V]
  Var loss{};               // [1]; its gradient is s
  Var dlogits{};            // [N, V] coef (softmax(x W^T + b) - onehot(t)), 0 in skipped rows; grad only
  Var sums{};               // [parts * width] small head with dW or db wanted: per part, its unscaled
                            // share of dlogits^T x [V, I] then of sum_rows(dlogits) [V]
  int64_t N = 0, I = 0, V = 0;
  int threads = 1;     // the graph's ComputeContext::threads when the op was recorded
  bool grad = false;   // a gradient is wanted: dlogits exists and the backward runs
  bool small = false;  // V * I <= kSmallHead: products in packed_gemm on recur's threads
  bool want_dw = false, want_db = false;
  int parts = 1;      // small head: row blocks (threads) of the forward, rows of sums
  int64_t width = 0;  // small head: stride of sums, V * I + V rounded up to 16 (less false sharing)
};

// Small head, forward. Per block of rows: logits into the block's rows of dlogits (no-grad: a
// scratch block), turned into dlogits in place while in L1/L2; and while the block and its x rows
// are in cache, dW and db take their share now (unscaled: the backward multiplies by s), one sum
// per part in `sums`, so that the backward reads neither x nor dlogits for them. Returns the
// summed loss terms.
template <Scalar T>
double forward_small(Graph<T>& g, const HeadSaved<T>& h, const int32_t* targets, const T* mask, T coef) {
  const int64_t I = h.I, V = h.V;
  const T* x = g.value(h.x);  // [N, I]
  const T* bias = h.bias ? g.value(*h.bias) : nullptr;
  T* dlogits = h.grad ? g.value(h.dlogits) : nullptr;  // [N, V]
  T* sums = h.sums.valid() ? g.value(h.sums) : nullptr;
  Workspace<T>& ws = g.template scratch<Workspace<T>>();
  if (I > 0) kernels::pack_matrix<T>(Trans::kYes, I, V, g.value(h.weight), I, ws.packed);  // W^T [I, V]
  const int64_t rows_per_block = block_rows(V);
  ws.losses.assign(static_cast<size_t>(h.parts), 0.0);
  if (!h.grad) ws.scratch.resize(static_cast<size_t>(h.parts * rows_per_block * V));
  for_row_blocks(h.N, h.parts, [&](int part, int64_t r0, int64_t r1) {
    T* scratch = ws.scratch.data() + part * rows_per_block * V;  // [rows_per_block, V], no-grad only
    T* part_sums = sums ? sums + part * h.width : nullptr;       // dW share [V, I], then db share [V]
    if (part_sums) std::fill_n(part_sums, h.width, T(0));
    double loss = 0;
    for (int64_t r = r0; r < r1; r += rows_per_block) {
      const int64_t rows = std::min(rows_per_block, r1 - r);
      T* z = h.grad ? dlogits + r * V : scratch;  // [rows, V] logits, then dlogits in their place
      if (I > 0) {
        kernels::packed_gemm<T>(rows, x + r * I, I, ws.packed, T(0), z, V);
      } else {
        std::fill_n(z, rows * V, T(0));
      }
      loss += kernels::softmax_cross_entropy_rows<T>(rows, V, z, bias, targets + r, mask ? mask + r : nullptr,
                                                     coef, h.grad, h.want_db ? part_sums + V * I : nullptr);
      if (h.want_dw) kernels::add_at_b<T>(V, I, rows, z, V, x + r * I, I, part_sums, I);
    }
    ws.losses[static_cast<size_t>(part)] = loss;
  });
  double total = 0;
  for (double l : ws.losses) total += l;
  return total;
}

// Large head, forward. Grad mode: one OpenBLAS call over all rows into dlogits; no-grad: blocks
// of rows through scratch. The softmax rows run on recur's threads. Returns the summed loss terms.
template <Scalar T>
double forward_large(Graph<T>& g, const HeadSaved<T>& h, const int32_t* targets, const T* mask, T coef) {
  const int64_t N = h.N, I = h.I, V = h.V;
  const T* x = g.value(h.x);       // [N, I]
  const T* w = g.value(h.weight);  // [V, I]
  const T* bias = h.bias ? g.value(*h.bias) : nullptr;
  Workspace<T>& ws = g.template scratch<Workspace<T>>();
  const int64_t block = h.grad ? N : std::max<int64_t>(kMinPartRows, kLargeScratch / V);
  if (!h.grad) ws.scratch.resize(static_cast<size_t>(std::min(block, N) * V));  // [block, V]
  double total = 0;
  for (int64_t r = 0; r < N; r += block) {
    const int64_t rows = std::min(block, N - r);
    T* z = h.grad ? g.value(h.dlogits) + r * V : ws.scratch.data();  // [rows, V]
    kernels::gemm<T>(h.threads, Trans::kNo, Trans::kYes, rows, V, I, T(1), x + r * I, I, w, I, T(0), z, V);
    const int softmax_parts = part_count(h.threads, rows, 16 * V);  // ~16 operations per logit
    ws.losses.assign(static_cast<size_t>(softmax_parts), 0.0);
    for_row_blocks(rows, softmax_parts, [&](int part, int64_t a, int64_t b) {
      const int64_t i = r + a;  // the part's first row in the batch
      ws.losses[static_cast<size_t>(part)] = kernels::softmax_cross_entropy_rows<T>(
          b - a, V, z + a * V, bias, targets + i, mask ? mask + i : nullptr, coef, h.grad, nullptr);
    });
    for (double l : ws.losses) total += l;
  }
  return total;
}

// dst [n] += scale * (sum over the parts of sums [parts, stride], columns [0, n)).
template <Scalar T>
void add_part_sums(int parts, int64_t stride, int64_t n, const T* sums, T scale, T* dst) {
  for (int64_t j = 0; j < n; ++j) {
    T t = sums[j];
    for (int p = 1; p < parts; ++p) t += sums[p * stride + j];
    dst[j] += scale * t;
  }
}

// Small head, dx [N, I] = s dlogits W (added into dx when it accumulates): packed_gemm against W
// on recur's threads.
template <Scalar T>
void add_dx_small(Graph<T>& g, const HeadSaved<T>& h, T s, const T* dlogits, const T* w,
                  const GradSlot<T>& dx) {
  const int64_t I = h.I, V = h.V;
  Workspace<T>& ws = g.template scratch<Workspace<T>>();
  kernels::pack_matrix<T>(Trans::kNo, V, I, w, I, ws.packed);  // W [V, I]
  const int parts = part_count(h.threads, h.N, V * I);
  const int64_t rows_per_block = block_rows(V);
  if (s != T(1)) ws.scratch.resize(static_cast<size_t>(parts * rows_per_block * I));
  for_row_blocks(h.N, parts, [&](int part, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r += rows_per_block) {
      const int64_t rows = std::min(rows_per_block, r1 - r);
      T* out_rows = dx.data + r * I;  // [rows, I]
      if (s == T(1)) {                // the usual case: the loss is the graph's output
        kernels::packed_gemm<T>(rows, dlogits + r * V, V, ws.packed, dx.accumulate ? T(1) : T(0), out_rows,
                                I);
        continue;
      }
      T* t = ws.scratch.data() + part * rows_per_block * I;  // [rows, I] dlogits W
      kernels::packed_gemm<T>(rows, dlogits + r * V, V, ws.packed, T(0), t, I);
      if (dx.accumulate) {
        for (int64_t e = 0; e < rows * I; ++e) out_rows[e] += s * t[e];
      } else {
        for (int64_t e = 0; e < rows * I; ++e) out_rows[e] = s * t[e];
      }
    }
  });
}

template <Scalar T>
void backward_head(Graph<T>& g, const HeadSaved<T>& h) {
  const int64_t N = h.N, I = h.I, V = h.V;
  const T s = g.grad(h.loss)[0];
  const T* dlogits = g.value(h.dlogits);  // [N, V]
  const T* w = g.value(h.weight);         // [V, I]
  const bool want_dx = g.requires_grad(h.x) && I > 0;
  const GradSlot<T> dx = want_dx ? g.grad_for_write(h.x) : GradSlot<T>{};  // [N, I]
  T* dw = h.want_dw ? g.grad(h.weight) : nullptr;                          // [V, I]
  T* db = h.want_db ? g.grad(*h.bias) : nullptr;                           // [V]
  if (!h.small) {
    const T beta = dx.accumulate ? T(1) : T(0);  // a fresh dx buffer is overwritten, not added to
    if (want_dx)
      kernels::gemm<T>(h.threads, Trans::kNo, Trans::kNo, N, I, V, s, dlogits, V, w, I, beta, dx.data, I);
    if (dw)
      kernels::gemm<T>(h.threads, Trans::kYes, Trans::kNo, V, I, N, s, dlogits, V, g.value(h.x), I, T(1), dw,
                       I);
    if (db) kernels::sum_rows_into<T>(N, V, s, dlogits, db);
    return;
  }
  // dW and db: the forward's per-part sums, scaled.
  const T* sums = h.sums.valid() ? g.value(h.sums) : nullptr;
  if (dw) add_part_sums<T>(h.parts, h.width, V * I, sums, s, dw);
  if (db) add_part_sums<T>(h.parts, h.width, V, sums + V * I, s, db);
  if (want_dx) add_dx_small<T>(g, h, s, dlogits, w, dx);
}

}  // namespace

template <Scalar T>
Var linear_cross_entropy(Graph<T>& g, Var x, Var weight, std::optional<Var> bias,
                         std::span<const int32_t> targets, std::span<const std::type_identity_t<T>> mask) {
  // --- Checks: linear's on the operands, then softmax_cross_entropy's on the logits [N, V] ---
  const detail::LinearSizes sizes = detail::check_linear_operands("linear_cross_entropy", g, x, weight, bias);
  HeadSaved<T> h{.x = x,
                 .weight = weight,
                 .bias = bias,
                 .N = sizes.rows,
                 .I = sizes.inputs,
                 .V = sizes.outputs,
                 .threads = g.context().threads};
  const int64_t counted =
      detail::check_cross_entropy_targets<T>("linear_cross_entropy", h.N, h.V, targets, mask);

  // --- Forward: the nodes first (dlogits [N, V] and sums reuse the graph's memory from step to step) ---
  h.loss = bias ? g.make_node(Shape{1}, {x, weight, *bias}) : g.make_node(Shape{1}, {x, weight});
  h.grad = g.requires_grad(h.loss);
  h.want_dw = h.grad && g.requires_grad(weight) && h.I > 0;
  h.want_db = h.grad && bias && g.requires_grad(*bias);
  h.small = h.V * h.I <= kSmallHead;
  if (h.grad) h.dlogits = g.make_node(Shape{h.N, h.V}, {}, NodeInit::kUninitialized);
  if (h.small) {
    h.parts = part_count(h.threads, h.N, h.V * h.I);
    h.width = (h.V * h.I + h.V + 15) / 16 * 16;
    if (h.want_dw || h.want_db) h.sums = g.make_node(Shape{h.parts * h.width}, {}, NodeInit::kUninitialized);
  }
  const T coef = T(1) / static_cast<T>(counted);
  const T* mask_or_null = mask.empty() ? nullptr : mask.data();
  const double total = h.small ? forward_small<T>(g, h, targets.data(), mask_or_null, coef)
                               : forward_large<T>(g, h, targets.data(), mask_or_null, coef);
  g.value(h.loss)[0] = static_cast<T>(total / static_cast<double>(counted));
  if (!h.grad) return h.loss;

  // --- Backward ---
  g.set_backward(h.loss, [h](Graph<T>& gr) { backward_head<T>(gr, h); });
  return h.loss;
}

template Var linear_cross_entropy<float>(Graph<float>&, Var, Var, std::optional<Var>,
                                         std::span<const int32_t>, std::span<const float>);
template Var linear_cross_entropy<double>(Graph<double>&, Var, Var, std::optional<Var>,
                                          std::span<const int32_t>, std::span<const double>);

}  // namespace recur
