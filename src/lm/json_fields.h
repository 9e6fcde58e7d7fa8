// Strict reading of the JSON files recur writes (config.json, run.json, train_state.json): every
// field present with its type, integers written as integers and within their range. Errors are
// IoErrors naming the file, the field and the value as written (never a wrapped number or a raw
// JSON library message).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "recur/core/error.h"

namespace recur {

// Parses `text` as JSON; throws IoError "<source>: not valid JSON (...)".
[[nodiscard]] nlohmann::json parse_json_file_text(const std::string& text, const std::string& source);

class JsonFields {
 public:
  // `object` must be a JSON object (else IoError naming `source`); it must outlive this view.
  JsonFields(const nlohmann::json& object, std::string source);

  [[nodiscard]] bool has(std::string_view key) const;
  // The field; IoError "<source>: missing field \"key\"" when absent.
  [[nodiscard]] const nlohmann::json& at(std::string_view key) const;
  // An integer in [low, high]: 32.5, "32" or 1e30 are errors, as is a value outside the range.
  [[nodiscard]] int64_t integer(std::string_view key, int64_t low, int64_t high) const;
  // Any integer from 0 to 2^64 - 1 (seeds, random generator words).
  [[nodiscard]] uint64_t unsigned_integer(std::string_view key) const;
  [[nodiscard]] double number(std::string_view key) const;  // an integer or a floating-point number
  [[nodiscard]] std::string string(std::string_view key) const;
  [[nodiscard]] JsonFields object(std::string_view key) const;  // a nested object, named "key.sub"

  // read(), which turns names into values through the library's parsers (cell, optimizer, ...),
  // with a ValueError it throws turned into an IoError naming this file.
  template <typename Read>
  decltype(auto) parse(Read&& read) const {
    try {
      return read();
    } catch (const ValueError& e) {
      throw IoError(source_ + ": " + e.what());
    }
  }

  [[noreturn]] void fail(std::string_view key, const std::string& why) const;
  [[nodiscard]] const std::string& source() const { return source_; }

 private:
  const nlohmann::json& object_;
  std::string source_;
  std::string prefix_;  // "options." for nested objects
};

}  // namespace recur
