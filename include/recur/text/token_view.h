// A read-only view of token ids stored 1, 2 or 4 bytes wide (unsigned, little-endian, as in a
// prepared token file) or as the in-memory int32 ids of a text. The partitions and the evaluation
// read through it, so a memory-mapped corpus of any width trains exactly as the int32 ids would.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace recur {

class TokenView {
 public:
  // Byte widths of the stored forms; kInt32 is the in-memory form (native int32).
  enum class Form : uint8_t { kUint8, kUint16Le, kUint32Le, kInt32 };

  TokenView() = default;
  // The in-memory ids of a text (implicit: every span or vector of int32 ids is a view).
  TokenView(std::span<const int32_t> ids)  // NOLINT(google-explicit-constructor)
      : data_(reinterpret_cast<const unsigned char*>(ids.data())),
        size_(static_cast<int64_t>(ids.size())),
        form_(Form::kInt32) {}
  TokenView(const std::vector<int32_t>& ids)  // NOLINT(google-explicit-constructor)
      : TokenView(std::span<const int32_t>(ids)) {}
  // `size` ids of `width` bytes (1, 2 or 4) from `data`, unsigned little-endian; throws ValueError
  // for another width.
  TokenView(const void* data, int64_t size, int width);

  [[nodiscard]] int64_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] Form form() const { return form_; }
  [[nodiscard]] int32_t operator[](int64_t i) const {
    switch (form_) {
      case Form::kUint8:
        return data_[i];
      case Form::kUint16Le:
        return static_cast<int32_t>(load_le(data_ + 2 * i, 2));
      case Form::kUint32Le:
        return static_cast<int32_t>(load_le(data_ + 4 * i, 4));
      case Form::kInt32:
        break;
    }
    int32_t v;
    std::memcpy(&v, data_ + 4 * i, sizeof v);
    return v;
  }
  // ids [start, start + count) into out[0, count); the caller keeps the range inside the view.
  void copy_to(int64_t start, int64_t count, int32_t* out) const;
  // The ids [start, start + count).
  [[nodiscard]] TokenView subview(int64_t start, int64_t count) const;

 private:
  static uint32_t load_le(const unsigned char* p, int width) {
    uint32_t v = 0;
    for (int b = width - 1; b >= 0; --b) v = (v << 8) | p[b];
    return v;
  }
  [[nodiscard]] int bytes_per_id() const {
    return form_ == Form::kUint8 ? 1 : form_ == Form::kUint16Le ? 2 : 4;
  }

  const unsigned char* data_ = nullptr;  // [size_ * bytes_per_id()]
  int64_t size_ = 0;
  Form form_ = Form::kInt32;
};

}  // namespace recur
