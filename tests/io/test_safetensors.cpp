// safetensors: round trip, a file written by independent code, and every kind of corruption.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/io/safetensors.h"
#include "test_support.h"

using namespace recur;

namespace {
std::vector<NamedTensor> sample() {
  return {{"embedding.weight", Tensor<float>({3, 2}, {1, 2, 3, 4, 5, 6})},
          {"head.bias", Tensor<float>({3}, {-1.5f, 0.25f, 1e-30f})}};
}

std::string header_bytes(const std::string& json, uint64_t declared, const std::string& data = "") {
  std::string out(8, '\0');
  std::memcpy(out.data(), &declared, 8);
  return out + json + data;
}

void expect_io_error(const std::string& bytes, const std::string& words) {
  try {
    (void)decode_safetensors(bytes, "model.safetensors");
    FAIL() << "expected IoError containing '" << words << "'";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(Safetensors, RoundTripKeepsNamesShapesAndBits) {
  auto dir = test::make_temp_dir("st");
  save_safetensors(dir / "m.safetensors", sample(), {{"format", "pt"}});
  auto back = load_safetensors(dir / "m.safetensors");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].name, "embedding.weight");
  EXPECT_EQ(back[0].tensor.shape(), Shape({3, 2}));
  EXPECT_EQ(back[1].tensor[2], 1e-30f);
  EXPECT_EQ(back[1].tensor[0], -1.5f);
}

TEST(Safetensors, HeaderIsAlignedAndDataFollowsIt) {
  std::string bytes = encode_safetensors(sample());
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 9 * sizeof(float));
}

// Written byte by byte as the format's specification says, independently of the encoder.
TEST(Safetensors, ReadsAHandWrittenFile) {
  std::string json =
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}})";
  float w[2] = {0.5f, -2.0f};
  double d = 3.25;
  std::string data(reinterpret_cast<const char*>(w), 8);
  data.append(reinterpret_cast<const char*>(&d), 8);
  auto t = decode_safetensors(header_bytes(json, json.size(), data), "hand");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].name, "w");
  EXPECT_EQ(t[0].tensor[1], -2.0f);
  EXPECT_EQ(t[1].tensor[0], 3.25f);
}

TEST(Safetensors, RejectsTruncatedFile) {
  std::string bytes = encode_safetensors(sample());
  expect_io_error(bytes.substr(0, 5), "shorter than the 8-byte header length");
  expect_io_error(bytes.substr(0, bytes.size() - 4), "data_offsets outside");
}

TEST(Safetensors, RejectsHeaderLengthPastTheEnd) {
  expect_io_error(header_bytes("{}", 1000), "runs past the end");
}

TEST(Safetensors, RejectsWrongDtype) {
  std::string json = R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})";
  expect_io_error(header_bytes(json, json.size(), "abcd"), "dtype 'F16'");
}

TEST(Safetensors, RejectsShapeThatDisagreesWithOffsets) {
  std::string json = R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})";
  expect_io_error(header_bytes(json, json.size(), std::string(8, '\0')), "needs 12 bytes");
}

TEST(Safetensors, RejectsBadJson) { expect_io_error(header_bytes("{not json", 9), "not valid JSON"); }

// The specification's rules, each broken once. F32 tensors "a" [2] and "b" [1]: 12 data bytes.
std::string two_tensors(const std::string& a_offsets, const std::string& b_offsets, size_t data_bytes = 12,
                        const std::string& extra = "") {
  const std::string json = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":)" + a_offsets +
                           R"(},"b":{"dtype":"F32","shape":[1],"data_offsets":)" + b_offsets + "}" + extra +
                           "}";
  return header_bytes(json, json.size(), std::string(data_bytes, '\0'));
}

TEST(SafetensorsSpec, AcceptsTensorsInEitherHeaderOrder) {
  EXPECT_EQ(decode_safetensors(two_tensors("[4,12]", "[0,4]"), "m").front().name, "b");
}

// Before: overlapping offsets loaded silently and gave one tensor another's weights.
TEST(SafetensorsSpec, RejectsOverlappingOffsets) {
  const std::string json = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  expect_io_error(header_bytes(json, json.size(), std::string(12, '\0')), "tensor 'b'");
  expect_io_error(header_bytes(json, json.size(), std::string(12, '\0')), "(overlap)");
}

TEST(SafetensorsSpec, RejectsGapsAndTrailingBytes) {
  expect_io_error(two_tensors("[0,8]", "[12,16]", 16), "(gap)");
  expect_io_error(two_tensors("[0,8]", "[8,12]", 20), "trailing bytes");
}

TEST(SafetensorsSpec, RejectsDuplicateNames) {
  const std::string json = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  expect_io_error(header_bytes(json, json.size(), std::string(8, '\0')), "'a' appears twice");
}

TEST(SafetensorsSpec, RejectsBadShapesAndOffsets) {
  auto with_shape = [](const std::string& shape) {
    const std::string json = R"({"w":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,8]}})";
    return header_bytes(json, json.size(), std::string(8, '\0'));
  };
  expect_io_error(with_shape("[-2]"),
                  "tensor 'w' has a shape [-2] that is not an array of non-negative integers");
  expect_io_error(with_shape("[2.5]"), "not an array of non-negative integers");
  expect_io_error(with_shape("\"2\""), "tensor 'w' has a shape that is not an array");
  // The product overflows 64 bits (it wrapped to a small byte count before).
  expect_io_error(with_shape("[4294967296,4294967296,2]"), "too large for 64-bit sizes");
  expect_io_error(two_tensors("[8,0]", "[8,12]"), "tensor 'a' has data_offsets outside");
  expect_io_error(two_tensors("[0]", "[8,12]"), "not two non-negative integers");
  expect_io_error(two_tensors("[0,8]", "[8,12]", 12, R"(,"c":[1])"),
                  "tensor 'c' has an entry that is not a JSON object");
  expect_io_error(two_tensors("[0,8]", "[8,12]", 12, R"(,"c":{"dtype":"F32","shape":[]})"),
                  "tensor 'c' has no 'data_offsets'");
}

TEST(SafetensorsSpec, RejectsUnknownDtypeAndBadMetadata) {
  const std::string json = R"({"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}})";
  expect_io_error(header_bytes(json, json.size(), "x"), "dtype 'Q7', which the format does not define");
  expect_io_error(two_tensors("[0,8]", "[8,12]", 12, R"(,"__metadata__":{"format":1})"),
                  "__metadata__ value of 'format' is not a string");
  expect_io_error(two_tensors("[0,8]", "[8,12]", 12, R"(,"__metadata__":[])"),
                  "__metadata__ is not a JSON object");
  EXPECT_EQ(decode_safetensors(two_tensors("[0,8]", "[8,12]", 12, R"(,"__metadata__":{"format":"pt"})"), "m")
                .size(),
            2u);
}

TEST(SafetensorsSpec, RejectsHugeHeaderAndNonObjectHeader) {
  expect_io_error(header_bytes("[1,2]", 5), "not a JSON object");
  std::string bytes = header_bytes("{}", 100'000'001);
  bytes.resize(100'000'010, ' ');
  expect_io_error(bytes, "over the format's limit");
}

// A model path that is a directory or /dev/zero (or a link to it) is an error, not an endless read.
TEST(SafetensorsSpec, LoadReadsRegularFilesOnly) {
  const auto dir = test::make_temp_dir("st");
  std::filesystem::create_symlink("/dev/zero", dir / "zero.safetensors");
  test::expect_error_words<IoError>([&] { (void)load_safetensors(dir / "zero.safetensors"); },
                                    {"character device"});
  test::expect_error_words<IoError>([&] { (void)load_safetensors(dir); },
                                    {"is a directory, not a safetensors file"});
}

TEST(AtomicFile, ReplacesContentAndLeavesNoTemporary) {
  auto dir = test::make_temp_dir("atomic");
  write_file_atomically(dir / "a.txt", "first");
  write_file_atomically(dir / "a.txt", "second");
  EXPECT_EQ(read_file(dir / "a.txt"), "second");
  int count = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++count;
  EXPECT_EQ(count, 1);
}

TEST(AtomicFile, UnwritableFolderNamesThePathAndKeepsNothingBroken) {
  try {
    write_file_atomically("/nonexistent-dir/x.bin", "data");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.bin"), std::string::npos) << e.what();
  }
}
