// The operand checks linear and linear_cross_entropy share (y = x W^T + b), with one wording.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "recur/autograd/graph.h"
#include "recur/core/error.h"

namespace recur::detail {

// The sizes of y = x W^T + b once the operands pass the checks.
struct LinearSizes {
  int64_t rows;     // M: x's leading dimensions flattened
  int64_t inputs;   // I: x's last dimension, W's columns
  int64_t outputs;  // O: W's rows (V for a head)
};

// Checks x [..., I] (rank >= 2), weight [O, I] and bias [O] (if given) for `op`; throws ShapeError
// with a message that names `op` and all three shapes.
template <Scalar T>
LinearSizes check_linear_operands(const char* op, const Graph<T>& g, Var x, Var weight,
                                  std::optional<Var> bias) {
  const Shape& sx = g.shape(x);
  const Shape& sw = g.shape(weight);
  const std::string described = std::string(op) + ": x " + sx.str() + ", weight " + sw.str() +
                                (bias ? ", bias " + g.shape(*bias).str() : std::string());
  check<ShapeError>(sx.rank() >= 2 && sw.rank() == 2,
                    described + ": x must have at least 2 dimensions and weight exactly 2");
  const LinearSizes sizes{.rows = sx.rows(), .inputs = sx.cols(), .outputs = sw[0]};
  check<ShapeError>(sw[1] == sizes.inputs, described + ": weight has " + std::to_string(sw[1]) +
                                               " input columns, x has " + std::to_string(sizes.inputs));
  if (bias)
    check<ShapeError>(g.shape(*bias) == Shape{sizes.outputs},
                      described + ": bias must be [" + std::to_string(sizes.outputs) + "]");
  return sizes;
}

}  // namespace recur::detail
