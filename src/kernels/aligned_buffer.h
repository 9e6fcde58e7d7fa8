// A float buffer whose data starts on a 64-byte boundary, for packed weights that AVX-512 kernels
// stream: std::vector's large blocks come from mmap at 16 bytes past a page start, and then every
// 64-byte load straddles two cache lines (bench/README.md, "Measurements behind the code").
// Move-only: a copy would point into the other's storage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace recur::kernels {

class AlignedFloats {
 public:
  AlignedFloats() = default;
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
  AlignedFloats(AlignedFloats&&) noexcept = default;  // the vector's block, and so data_, stays put
  AlignedFloats& operator=(AlignedFloats&&) noexcept = default;

  // n floats (contents unspecified; capacity is reused).
  void resize(size_t n) {
    storage_.resize(n + kAlign / sizeof(float));
    const auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
    data_ = storage_.data() + (kAlign - address % kAlign) % kAlign / sizeof(float);
    size_ = n;
  }
  [[nodiscard]] float* data() { return data_; }
  [[nodiscard]] const float* data() const { return data_; }
  [[nodiscard]] size_t size() const { return size_; }

 private:
  static constexpr size_t kAlign = 64;
  std::vector<float> storage_;
  float* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace recur::kernels
