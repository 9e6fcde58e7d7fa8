// Widening copies out of 1, 2 and 4-byte token ids.
#include "recur/text/token_view.h"

#include <algorithm>
#include <bit>
#include <string>

#include "recur/core/error.h"

namespace recur {

TokenView::TokenView(const void* data, int64_t size, int width)
    : data_(static_cast<const unsigned char*>(data)), size_(size) {
  check(size >= 0, "TokenView: size must be >= 0, got " + std::to_string(size));
  switch (width) {
    case 1:
      form_ = Form::kUint8;
      break;
    case 2:
      form_ = Form::kUint16Le;
      break;
    case 4:
      form_ = Form::kUint32Le;
      break;
    default:
      throw ValueError("TokenView: id width must be 1, 2 or 4 bytes, got " + std::to_string(width));
  }
}

void TokenView::copy_to(int64_t start, int64_t count, int32_t* out) const {
  const unsigned char* p = data_ + start * bytes_per_id();
  // One switch per run of ids, not per id: this is the partitions' inner copy.
  switch (form_) {
    case Form::kUint8:
      std::copy_n(p, count, out);
      return;
    case Form::kUint16Le:
      if constexpr (std::endian::native == std::endian::little) {
        for (int64_t i = 0; i < count; ++i) {
          uint16_t v;
          std::memcpy(&v, p + 2 * i, sizeof v);
          out[i] = v;
        }
      } else {
        for (int64_t i = 0; i < count; ++i) out[i] = static_cast<int32_t>(load_le(p + 2 * i, 2));
      }
      return;
    case Form::kUint32Le:
      if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(out, p, static_cast<size_t>(count) * 4);
      } else {
        for (int64_t i = 0; i < count; ++i) out[i] = static_cast<int32_t>(load_le(p + 4 * i, 4));
      }
      return;
    case Form::kInt32:
      std::memcpy(out, p, static_cast<size_t>(count) * 4);
      return;
  }
}

TokenView TokenView::subview(int64_t start, int64_t count) const {
  check(start >= 0 && count >= 0 && start + count <= size_,
        "TokenView::subview: [" + std::to_string(start) + ", " + std::to_string(start + count) +
            ") outside [0, " + std::to_string(size_) + ")");
  TokenView v = *this;
  v.data_ = data_ + start * bytes_per_id();
  v.size_ = count;
  return v;
}

}  // namespace recur
