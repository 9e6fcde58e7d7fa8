// Dense row-major tensors: Tensor<T> owns its data, TensorView<T> borrows it.
// Kernels are templated on the scalar type and instantiated for float (models) and double
// (gradient checks and PyTorch reference vectors, which are float64).
#pragma once

#include <concepts>
#include <span>
#include <vector>

#include "recur/core/shape.h"

namespace recur {

template <typename T>
concept Scalar = std::same_as<T, float> || std::same_as<T, double>;

// Non-owning view of contiguous row-major data.
template <Scalar T>
struct TensorView {
  T* data = nullptr;
  Shape shape;

  [[nodiscard]] int64_t numel() const { return shape.numel(); }
  [[nodiscard]] std::span<T> span() const { return {data, static_cast<size_t>(numel())}; }
  T& operator[](int64_t i) const { return data[i]; }
  // Element (i, j) of the 2-D view [rows, cols].
  T& at(int64_t i, int64_t j) const { return data[i * shape.cols() + j]; }
};

template <Scalar T>
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, T fill = T(0))
      : shape_(shape), data_(static_cast<size_t>(shape.numel()), fill) {}
  Tensor(Shape shape, std::vector<T> data);  // throws ShapeError when sizes disagree

  [[nodiscard]] const Shape& shape() const { return shape_; }
  [[nodiscard]] int64_t numel() const { return static_cast<int64_t>(data_.size()); }
  [[nodiscard]] T* data() { return data_.data(); }
  [[nodiscard]] const T* data() const { return data_.data(); }
  [[nodiscard]] std::span<T> span() { return data_; }
  [[nodiscard]] std::span<const T> span() const { return data_; }
  T& operator[](int64_t i) { return data_[static_cast<size_t>(i)]; }
  const T& operator[](int64_t i) const { return data_[static_cast<size_t>(i)]; }
  T& at(int64_t i, int64_t j) { return data_[static_cast<size_t>(i * shape_.cols() + j)]; }
  const T& at(int64_t i, int64_t j) const { return data_[static_cast<size_t>(i * shape_.cols() + j)]; }
  [[nodiscard]] TensorView<T> view() { return {data_.data(), shape_}; }

  // Same data, new shape with the same number of elements.
  void reshape(Shape shape);
  void fill(T value);

 private:
  Shape shape_;
  std::vector<T> data_;
};

// Converts between float and double (reference vectors are float64, models float32).
template <Scalar To, Scalar From>
Tensor<To> tensor_cast(const Tensor<From>& t) {
  std::vector<To> out(t.span().begin(), t.span().end());
  return Tensor<To>(t.shape(), std::move(out));
}

}  // namespace recur
