// Strict JSON field reading with messages that name the file, the field and the value.
#include "json_fields.h"

#include <fmt/core.h>

#include "recur/core/error.h"

namespace recur {

namespace {
// A value as written, cut short for messages.
std::string shown(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 60) {
    text.resize(57);
    text.append("...");
  }
  return text;
}
}  // namespace

nlohmann::json parse_json_file_text(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw IoError(source + ": not valid JSON (syntax error at byte " + std::to_string(e.byte) + ")");
  } catch (const nlohmann::json::out_of_range&) {
    // A number literal beyond double's range (e.g. 2E7070): the parser reports it this way.
    throw IoError(source + ": not valid JSON (a number is too large to represent)");
  }
}

JsonFields::JsonFields(const nlohmann::json& object, std::string source)
    : object_(object), source_(std::move(source)) {
  if (!object_.is_object()) throw IoError(source_ + ": expected a JSON object, got " + shown(object_));
}

bool JsonFields::has(std::string_view key) const { return object_.contains(key); }

void JsonFields::fail(std::string_view key, const std::string& why) const {
  throw IoError(source_ + ": \"" + prefix_ + std::string(key) + "\" " + why);
}

const nlohmann::json& JsonFields::at(std::string_view key) const {
  const auto it = object_.find(key);
  if (it == object_.end()) throw IoError(source_ + ": missing field \"" + prefix_ + std::string(key) + "\"");
  return *it;
}

int64_t JsonFields::integer(std::string_view key, int64_t low, int64_t high) const {
  const nlohmann::json& value = at(key);
  const std::string range = fmt::format("[{}, {}]", low, high);
  if (!value.is_number_integer()) fail(key, "must be an integer in " + range + ", got " + shown(value));
  // An unsigned value above INT64_MAX is out of range as written, not as a wrapped negative.
  const bool too_large = value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(high);
  if (too_large || value.get<int64_t>() < low || value.get<int64_t>() > high)
    fail(key, "must be in " + range + ", got " + shown(value));
  return value.get<int64_t>();
}

uint64_t JsonFields::unsigned_integer(std::string_view key) const {
  const nlohmann::json& value = at(key);
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0))
    fail(key, "must be an integer in [0, 2^64), got " + shown(value));
  return value.get<uint64_t>();
}

double JsonFields::number(std::string_view key) const {
  const nlohmann::json& value = at(key);
  if (!value.is_number()) fail(key, "must be a number, got " + shown(value));
  return value.get<double>();
}

std::string JsonFields::string(std::string_view key) const {
  const nlohmann::json& value = at(key);
  if (!value.is_string()) fail(key, "must be a string, got " + shown(value));
  return value.get<std::string>();
}

JsonFields JsonFields::object(std::string_view key) const {
  const nlohmann::json& value = at(key);
  if (!value.is_object()) fail(key, "must be a JSON object, got " + shown(value));
  JsonFields nested(value, source_);
  nested.prefix_ = prefix_ + std::string(key) + ".";
  return nested;
}

}  // namespace recur
