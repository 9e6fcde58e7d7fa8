// Shape arithmetic and formatting.
#include "recur/core/shape.h"

#include "recur/core/error.h"

namespace recur {

Shape::Shape(std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) push_back(d);
}

void Shape::push_back(int64_t d) {
  check<ShapeError>(rank_ < kMaxRank, "Shape: more than " + std::to_string(kMaxRank) + " dimensions");
  check<ShapeError>(d >= 0, "Shape: negative dimension " + std::to_string(d));
  dims_[static_cast<size_t>(rank_++)] = d;
}

int64_t Shape::dim(int axis) const {
  int a = axis < 0 ? axis + rank_ : axis;
  check<ShapeError>(a >= 0 && a < rank_,
                    "Shape::dim: axis " + std::to_string(axis) + " out of range for " + str());
  return dims_[static_cast<size_t>(a)];
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i)
    if (__builtin_mul_overflow(n, dims_[static_cast<size_t>(i)], &n))
      throw ShapeError("Shape " + str() + ": the element count overflows 64-bit sizes");
  return n;
}

int64_t Shape::rows() const {
  int64_t n = 1;
  for (int i = 0; i + 1 < rank_; ++i) n *= dims_[static_cast<size_t>(i)];
  return n;
}

bool Shape::operator==(const Shape& other) const {
  if (rank_ != other.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[static_cast<size_t>(i)] != other.dims_[static_cast<size_t>(i)]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[static_cast<size_t>(i)]);
  }
  return s + "]";
}

}  // namespace recur
