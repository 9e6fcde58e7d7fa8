// Command-line and file names of the text options' enums (smoothing, token level, preprocessing
// mode): one constexpr table per enum serves both directions and the "expected ..." message.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "recur/core/error.h"

namespace recur::enum_names {

template <typename Enum, size_t N>
using NameTable = std::array<std::pair<Enum, std::string_view>, N>;

// The value named `name`; otherwise ValueError "unknown <what> '<name>': expected a, b or c".
template <typename Enum, size_t N>
[[nodiscard]] Enum parse_name(const NameTable<Enum, N>& table, std::string_view name, std::string_view what) {
  for (const auto& [value, value_name] : table)
    if (value_name == name) return value;
  std::string expected;
  for (size_t i = 0; i < N; ++i)
    expected += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(table[i].second);
  throw ValueError("unknown " + std::string(what) + " '" + std::string(name) + "': expected " + expected);
}

// The name of `value`; "?" for a value outside the table.
template <typename Enum, size_t N>
[[nodiscard]] std::string_view name_of(const NameTable<Enum, N>& table, Enum value) {
  for (const auto& [table_value, name] : table)
    if (table_value == value) return name;
  return "?";
}

}  // namespace recur::enum_names
