// Model parameters in one contiguous buffer, with named, shaped slots (non-owning views).
// Gradients mirror the values element for element, so clipping, the optimizers and checkpoints
// each see one flat array.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "recur/core/tensor.h"

namespace recur {

template <Scalar T>
class ParameterStore {
 public:
  struct Slot {
    std::string name;  // PyTorch-style name, e.g. "rnn.weight_ih_l0"
    Shape shape;
    int64_t offset;  // into values() and grads()
  };

  // Adds a zero-filled slot and returns its index. Views taken earlier may be invalidated (the
  // buffer grows), so take views by index when they are used, after the model is built.
  int add(const std::string& name, const Shape& shape);

  [[nodiscard]] int size() const { return static_cast<int>(slots_.size()); }
  [[nodiscard]] const Slot& slot(int index) const { return slots_.at(static_cast<size_t>(index)); }
  [[nodiscard]] const std::vector<Slot>& slots() const { return slots_; }
  // Index of the slot called `name`, if any.
  [[nodiscard]] std::optional<int> find(const std::string& name) const;
  // Index of `name`; throws ValueError listing the known names when absent.
  [[nodiscard]] int index_of(const std::string& name) const;

  [[nodiscard]] TensorView<T> value(int index);
  [[nodiscard]] TensorView<T> grad(int index);
  [[nodiscard]] TensorView<T> value(const std::string& name) { return value(index_of(name)); }
  [[nodiscard]] TensorView<T> grad(const std::string& name) { return grad(index_of(name)); }

  // All values / all gradients as one flat array ([num_values()]).
  [[nodiscard]] std::span<T> values() { return values_; }
  [[nodiscard]] std::span<T> grads() { return grads_; }
  [[nodiscard]] std::span<const T> values() const { return values_; }
  [[nodiscard]] std::span<const T> grads() const { return grads_; }
  [[nodiscard]] int64_t num_values() const { return static_cast<int64_t>(values_.size()); }

  // The trainer calls this once per step (backward adds into gradients).
  void zero_grads();

 private:
  std::vector<Slot> slots_;
  std::unordered_map<std::string, int> index_;  // name -> slot index: add and find in O(1)
  std::vector<T> values_;                       // [num_values]
  std::vector<T> grads_;                        // [num_values]
};

}  // namespace recur
