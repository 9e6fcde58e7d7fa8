// std::vector whose data starts on a 64-byte (cache-line) boundary. The scan's gate, state and
// gradient buffers are read in whole vectors by the kernels: std::vector's large blocks come from
// mmap at 16 bytes past a page start, and then every 64-byte AVX-512 access straddles two cache
// lines (the backward gate kernels measured 1.3-1.6x faster on aligned buffers).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace recur {

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};

  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}  // NOLINT: rebinding must be implicit

  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t) noexcept { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace recur
