// Shape of a dense row-major tensor: up to kMaxRank dimensions, stored inline (no allocation).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace recur {

inline constexpr int kMaxRank = 6;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  template <typename It>
  Shape(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int64_t operator[](int axis) const { return dims_[static_cast<size_t>(axis)]; }
  int64_t& operator[](int axis) { return dims_[static_cast<size_t>(axis)]; }
  // Dimension counted from the end when negative (-1 = last), as numpy does.
  [[nodiscard]] int64_t dim(int axis) const;
  [[nodiscard]] int64_t numel() const;
  // Product of all dimensions but the last: the number of rows of the 2-D view.
  [[nodiscard]] int64_t rows() const;
  [[nodiscard]] int64_t cols() const { return rank_ == 0 ? 1 : dims_[static_cast<size_t>(rank_ - 1)]; }
  void push_back(int64_t d);
  [[nodiscard]] const int64_t* begin() const { return dims_.data(); }
  [[nodiscard]] const int64_t* end() const { return dims_.data() + rank_; }

  bool operator==(const Shape& other) const;
  [[nodiscard]] std::string str() const;  // "[2, 3]"

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

}  // namespace recur
