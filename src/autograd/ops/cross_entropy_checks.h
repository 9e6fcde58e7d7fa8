// The argument checks softmax_cross_entropy and linear_cross_entropy share, with one wording.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "recur/core/error.h"
#include "recur/core/shape.h"

namespace recur::detail {

// Checks targets (N ids in [0, V)) and mask (empty, or N values each 0 or 1) for `op` over logits
// [N, V], and returns how many rows count (N without a mask). Throws ShapeError for wrong lengths,
// ValueError for an id out of range, a mask value other than 0 or 1, or no row counted.
template <typename T>
int64_t check_cross_entropy_targets(const char* op, int64_t N, int64_t V, std::span<const int32_t> targets,
                                    std::span<const T> mask) {
  const std::string logits = std::string(op) + ": logits " + Shape{N, V}.str();
  check<ShapeError>(
      static_cast<int64_t>(targets.size()) == N,
      logits + " need " + std::to_string(N) + " targets, got " + std::to_string(targets.size()));
  check<ShapeError>(
      mask.empty() || static_cast<int64_t>(mask.size()) == N,
      logits + " need a mask of " + std::to_string(N) + " values, got " + std::to_string(mask.size()));
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] < 0 || targets[i] >= V) {
      throw ValueError(std::string(op) + ": target id " + std::to_string(targets[i]) + " at position " +
                       std::to_string(i) + " is outside [0, " + std::to_string(V) +
                       ") (V, logits' last dimension)");
    }
  }
  int64_t counted = N;
  if (!mask.empty()) {
    counted = 0;
    for (size_t i = 0; i < mask.size(); ++i) {
      check<ValueError>(mask[i] == T(0) || mask[i] == T(1), std::string(op) + ": mask[" + std::to_string(i) +
                                                                "] = " + std::to_string(mask[i]) +
                                                                " is not 0 or 1");
      counted += mask[i] != T(0) ? 1 : 0;
    }
  }
  check<ValueError>(counted > 0, mask.empty() ? logits + " have no rows"
                                              : std::string(op) + ": the mask selects no rows (all " +
                                                    std::to_string(N) + " values are 0)");
  return counted;
}

}  // namespace recur::detail
