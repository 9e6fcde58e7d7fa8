// A corpus's token ids as training holds them: int32 ids in memory (a text tokenized on the fly) or
// a shared, read-only memory map of a prepared token file. Either way the readers see a TokenView.
#pragma once

#include <cstdint>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

#include "recur/text/token_file.h"
#include "recur/text/token_view.h"

namespace recur {

class TokenIds {
 public:
  TokenIds() = default;
  TokenIds(std::vector<int32_t> ids)  // NOLINT(google-explicit-constructor): a vector is the common case
      : owned_(std::move(ids)), view_(owned_) {}
  // The ids [first, last), copied (as a vector's range constructor).
  template <std::input_iterator It>
  TokenIds(It first, It last) : TokenIds(std::vector<int32_t>(first, last)) {}
  explicit TokenIds(std::shared_ptr<const MappedTokenFile> file)
      : file_(std::move(file)), view_(file_->view()) {}
  // The ids [start, start + count) of a mapped file, sharing its map.
  TokenIds(std::shared_ptr<const MappedTokenFile> file, int64_t start, int64_t count)
      : file_(std::move(file)), view_(file_->view().subview(start, count)) {}
  TokenIds(TokenIds&& other) noexcept { *this = std::move(other); }
  TokenIds& operator=(TokenIds&& other) noexcept {
    // The view of owned ids must follow the vector's buffer, which a move keeps.
    const bool owns = other.file_ == nullptr;
    owned_ = std::move(other.owned_);
    file_ = std::move(other.file_);
    view_ = owns ? TokenView(owned_) : other.view_;
    other.view_ = TokenView(other.owned_);
    return *this;
  }
  TokenIds(const TokenIds& other) : owned_(other.owned_), file_(other.file_) {
    view_ = file_ ? other.view_ : TokenView(owned_);
  }
  TokenIds& operator=(const TokenIds& other) {
    if (this != &other) *this = TokenIds(other);
    return *this;
  }
  ~TokenIds() = default;

  [[nodiscard]] TokenView view() const { return view_; }
  [[nodiscard]] int64_t size() const { return view_.size(); }
  [[nodiscard]] bool empty() const { return view_.empty(); }
  [[nodiscard]] bool is_mapped() const { return file_ != nullptr; }
  // A copy as int32 ids (tests, small corpora).
  [[nodiscard]] std::vector<int32_t> to_vector() const {
    std::vector<int32_t> out(static_cast<size_t>(size()));
    view_.copy_to(0, size(), out.data());
    return out;
  }

 private:
  std::vector<int32_t> owned_;                   // [size] when in memory
  std::shared_ptr<const MappedTokenFile> file_;  // when mapped
  TokenView view_;
};

}  // namespace recur
