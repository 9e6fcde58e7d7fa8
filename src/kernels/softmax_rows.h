// Softmax cross-entropy over a block of logit rows, in place: the row kernels of the fused output
// head (autograd linear_cross_entropy). Each row's loss term is lse(z_i + b) - (z_i + b)_{t_i}, and
// for training the row is overwritten by dlogits_i = coef (softmax(z_i + b) - onehot(t_i)).
//
// Three versions with one signature: the optimized kernel (for float, compiled per SIMD target and
// dispatched at run time, see recur/core/simd.h; for double, the scalar path), the scalar path
// alone (plain loops, float through exp_approx), and the plain-loop reference twin (std::exp,
// double arithmetic) that tests compare both against. Glossary: V classes (row length), rows of
// the block.
#pragma once

#include <cstdint>

#include "recur/core/tensor.h"

namespace recur::kernels {

// Arguments, for all three:
//   z [rows, V]           logits without the bias; with `grad`, overwritten by dlogits (a row the
//                         mask skips becomes 0); without, left in an unspecified state (scratch)
//   bias [V] or null      added to every row
//   targets [rows]        class ids in [0, V)
//   mask [rows] or null   1 counts a row, 0 skips it (its z may hold anything, even NaN); null: all count
//   coef                  the scale of dlogits (1 / counted rows, in the op)
//   dbias [V] or null     with `grad`, the column sums of dlogits are added into it
// Returns the sum of the counted rows' loss terms. V >= 1; nothing allocates.
template <Scalar T>
[[nodiscard]] double softmax_cross_entropy_rows(int64_t rows, int64_t V, T* z, const T* bias,
                                                const int32_t* targets, const T* mask, T coef, bool grad,
                                                T* dbias);

template <Scalar T>
[[nodiscard]] double softmax_cross_entropy_rows_scalar(int64_t rows, int64_t V, T* z, const T* bias,
                                                       const int32_t* targets, const T* mask, T coef,
                                                       bool grad, T* dbias);

template <Scalar T>
[[nodiscard]] double softmax_cross_entropy_rows_reference(int64_t rows, int64_t V, T* z, const T* bias,
                                                          const int32_t* targets, const T* mask, T coef,
                                                          bool grad, T* dbias);

}  // namespace recur::kernels
