// Bounded whole-file reads: regular files only, directories and devices named as such.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {
void expect_io_error(const fs::path& path, uint64_t max_bytes, std::initializer_list<std::string> words) {
  test::expect_error_words<IoError>([&] { (void)read_file_bounded(path, max_bytes, "a model file"); }, words);
}
}  // namespace

TEST(FileRead, ReadsARegularFileWhole) {
  const auto dir = test::make_temp_dir("file_read");
  std::ofstream(dir / "a.bin", std::ios::binary) << std::string("ab\0cd", 5);
  EXPECT_EQ(read_file_bounded(dir / "a.bin", 5, "a model file"), std::string("ab\0cd", 5));
  check_regular_file(dir / "a.bin", "a model file");
}

TEST(FileRead, DirectoryIsCalledADirectory) {
  const auto dir = test::make_temp_dir("file_read");
  expect_io_error(dir, 1 << 20, {dir.string(), "is a directory, not a model file"});
  EXPECT_THROW(check_regular_file(dir, "a model file"), IoError);
}

// /dev/zero never ends: it and a symlink to it are rejected before any byte is read.
TEST(FileRead, DevicesAndSymlinksToThemAreNotRead) {
  const auto dir = test::make_temp_dir("file_read");
  expect_io_error("/dev/zero", 1 << 20, {"/dev/zero", "not a regular file (a character device)"});
  fs::create_symlink("/dev/zero", dir / "model.safetensors");
  expect_io_error(dir / "model.safetensors", 1 << 20, {"model.safetensors", "character device"});
  ASSERT_EQ(::mkfifo((dir / "pipe").c_str(), 0600), 0);
  expect_io_error(dir / "pipe", 1 << 20, {"pipe (FIFO)"});  // and does not wait for a writer
}

TEST(FileRead, SizeLimitAndMissingFileAreNamed) {
  const auto dir = test::make_temp_dir("file_read");
  std::ofstream(dir / "big.txt") << "0123456789";
  expect_io_error(dir / "big.txt", 4, {"big.txt", "10 bytes, more than the 4 bytes a model file may have"});
  expect_io_error(dir / "missing.txt", 4, {"cannot open", "missing.txt"});
}
