// safetensors: round trip, a file written by independent code, and every kind of corruption.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

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
  std::string json = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}})";
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

TEST(Safetensors, RejectsBadJson) {
  expect_io_error(header_bytes("{not json", 9), "not valid JSON");
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
