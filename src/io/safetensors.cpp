// safetensors reading and writing with validation of everything read.
#include "recur/io/safetensors.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "recur/io/atomic_file.h"

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace recur {

std::string encode_safetensors(const std::vector<NamedTensor>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    check(!t.name.empty() && t.name != "__metadata__", "safetensors: invalid tensor name '" + t.name + "'");
    const uint64_t bytes = static_cast<uint64_t>(t.tensor.numel()) * sizeof(float);
    header[t.name] = {{"dtype", "F32"},
                      {"shape", std::vector<int64_t>(t.tensor.shape().begin(), t.tensor.shape().end())},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8,
              ' ');  // align the data section to 8 bytes, as the reference writer does
  std::string out(8, '\0');
  const uint64_t n = json.size();
  std::memcpy(out.data(), &n, 8);
  out += json;
  for (const auto& t : tensors)
    out.append(reinterpret_cast<const char*>(t.tensor.data()),
               static_cast<size_t>(t.tensor.numel()) * sizeof(float));
  return out;
}

void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomically(path, encode_safetensors(tensors, metadata));
}

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference reader's limit
constexpr uint64_t kMaxSafetensorsBytes = uint64_t{64} << 30;

// One tensor's header entry, checked against the data section.
struct Entry {
  std::string name;
  std::string dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;  // data_offsets, relative to the data section
};

class Decoder {
 public:
  Decoder(const std::string& bytes, const std::string& source) : bytes_(bytes), source_(source) {}

  IoError fail(const std::string& why) const {
    return IoError(source_ + ": not a valid safetensors file: " + why);
  }
  IoError fail(const std::string& name, const std::string& why) const {
    return fail("tensor '" + name + "' " + why);
  }

  // The 8-byte length and the JSON object after it; sets the data section.
  nlohmann::json read_header() {
    if (bytes_.size() < 8)
      throw fail("file is " + std::to_string(bytes_.size()) +
                 " bytes, shorter than the 8-byte header length");
    uint64_t header_size = 0;
    std::memcpy(&header_size, bytes_.data(), 8);
    if (header_size > bytes_.size() - 8)
      throw fail("header length " + std::to_string(header_size) + " runs past the end of the file (" +
                 std::to_string(bytes_.size()) + " bytes)");
    if (header_size > kMaxHeaderBytes)
      throw fail("header length " + std::to_string(header_size) + " is over the format's limit of " +
                 std::to_string(kMaxHeaderBytes) + " bytes");
    std::string duplicate;
    std::set<std::string> keys;
    // Top-level keys arrive at depth 1; nlohmann would keep only the last of two equal ones.
    auto on_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string() &&
          !keys.insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
      return true;
    };
    nlohmann::json header;
    const auto first = bytes_.begin() + 8;
    try {
      header = nlohmann::json::parse(first, first + static_cast<std::ptrdiff_t>(header_size), on_event);
    } catch (const nlohmann::json::parse_error& e) {
      throw fail("header is not valid JSON (syntax error at byte " + std::to_string(e.byte) + " of " +
                 std::to_string(header_size) + ")");
    } catch (const nlohmann::json::out_of_range&) {
      throw fail("header is not valid JSON (a number is too large to represent)");
    }
    if (!header.is_object()) throw fail("header is not a JSON object");
    if (!duplicate.empty()) throw fail("the name '" + duplicate + "' appears twice in the header");
    data_ = bytes_.data() + 8 + header_size;
    data_size_ = bytes_.size() - 8 - header_size;
    return header;
  }

  void check_metadata(const nlohmann::json& metadata) const {
    if (!metadata.is_object()) throw fail("__metadata__ is not a JSON object");
    for (const auto& [key, value] : metadata.items())
      if (!value.is_string()) throw fail("__metadata__ value of '" + key + "' is not a string");
  }

  Entry read_entry(const std::string& name, const nlohmann::json& info) const {
    if (!info.is_object()) throw fail(name, "has an entry that is not a JSON object");
    for (const char* key : {"dtype", "shape", "data_offsets"})
      if (!info.contains(key)) throw fail(name, std::string("has no '") + key + "'");
    Entry e;
    e.name = name;
    if (!info["dtype"].is_string()) throw fail(name, "has a dtype that is not a string");
    e.dtype = info["dtype"].get<std::string>();
    (void)element_size(e);
    const auto& shape = info["shape"];
    if (!shape.is_array() || shape.size() > static_cast<size_t>(kMaxRank))
      throw fail(name, "has a shape that is not an array of at most " + std::to_string(kMaxRank) + " sizes");
    for (const auto& d : shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
        throw fail(name, "has a shape " + shape.dump() + " that is not an array of non-negative integers");
      e.shape.push_back(d.get<int64_t>());
    }
    const auto& offsets = info["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      throw fail(name, "has data_offsets " + offsets.dump() + ", not two non-negative integers [begin, end]");
    e.begin = offsets[0].get<uint64_t>();
    e.end = offsets[1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size_)
      throw fail(name, "has data_offsets outside the " + std::to_string(data_size_) +
                           "-byte data section: [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                           "]");
    check_byte_count(e);
    return e;
  }

  // Sorted by offset, the entries tile the data section exactly: no gap, overlap or trailing byte.
  void check_layout(std::vector<Entry>& entries) const {
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
    });
    uint64_t expected = 0;
    for (const Entry& e : entries) {
      if (e.begin != expected)
        throw fail(e.name, "has data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                               "] but " +
                               (e.begin < expected ? "the tensor before it ends at byte "
                                                   : "the data before it ends at byte ") +
                               std::to_string(expected) + (e.begin < expected ? " (overlap)" : " (gap)"));
      expected = e.end;
    }
    if (expected != data_size_)
      throw fail("the tensors cover " + std::to_string(expected) + " bytes of the " +
                 std::to_string(data_size_) + "-byte data section (trailing bytes)");
  }

  NamedTensor convert(const Entry& e) const {
    const auto count = static_cast<size_t>(e.shape.numel());
    if (count == 0) return {e.name, Tensor<float>(e.shape)};  // memcpy with a null pointer is UB
    std::vector<float> values(count);
    const char* p = data_ + e.begin;
    if (element_size(e) == 4) {
      std::memcpy(values.data(), p, count * 4);
    } else {
      for (size_t i = 0; i < count; ++i) {
        double v;
        std::memcpy(&v, p + i * 8, 8);
        values[i] = static_cast<float>(v);
      }
    }
    return NamedTensor{e.name, Tensor<float>(e.shape, std::move(values))};
  }

 private:
  uint64_t element_size(const Entry& e) const {
    if (e.dtype == "F32") return 4;
    if (e.dtype == "F64") return 8;
    static constexpr std::array<std::string_view, 13> kOther = {
        "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "I64", "U64"};
    const bool known = std::find(kOther.begin(), kOther.end(), e.dtype) != kOther.end();
    throw fail(e.name, "has dtype '" + e.dtype + "'" + (known ? "" : ", which the format does not define") +
                           "; recur reads F32 and F64");
  }

  // shape's product times the dtype's size, in checked 64-bit arithmetic, equals the byte span.
  void check_byte_count(const Entry& e) const {
    uint64_t bytes = element_size(e);
    for (int64_t d : e.shape)
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes))
        throw fail(e.name, "has shape " + e.shape.str() + ", too large for 64-bit sizes");
    if (e.end - e.begin != bytes)
      throw fail(e.name, "of shape " + e.shape.str() + " and dtype " + e.dtype + " needs " +
                             std::to_string(bytes) + " bytes, its data_offsets span " +
                             std::to_string(e.end - e.begin));
  }

  const std::string& bytes_;
  const std::string& source_;
  const char* data_ = nullptr;
  uint64_t data_size_ = 0;
};

}  // namespace

std::vector<NamedTensor> decode_safetensors(const std::string& bytes, const std::string& source) {
  Decoder decoder(bytes, source);
  const nlohmann::json header = decoder.read_header();
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__")
      decoder.check_metadata(info);
    else
      entries.push_back(decoder.read_entry(name, info));
  }
  decoder.check_layout(entries);
  std::vector<NamedTensor> out;
  out.reserve(entries.size());
  for (const Entry& e : entries) out.push_back(decoder.convert(e));
  return out;
}

std::vector<NamedTensor> load_safetensors(const std::filesystem::path& path) {
  return decode_safetensors(read_file_bounded(path, kMaxSafetensorsBytes, "a safetensors file"),
                            path.string());
}

}  // namespace recur
