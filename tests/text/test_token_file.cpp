// Token files and views: each id width (1, 2, 4 bytes) round-trips and reads as the int32 ids do,
// the partitions give the same batches over a mapped file as over a vector, and a truncated,
// foreign, wrong-version, too-narrow or out-of-vocabulary file is an IoError naming it.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <fstream>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/core/rng.h"
#include "recur/text/partition.h"
#include "recur/text/token_file.h"
#include "recur/text/token_ids.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {
std::vector<int32_t> pseudo_random_ids(int64_t n, int64_t vocab_size, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab_size)));
  ids.back() = static_cast<int32_t>(vocab_size - 1);  // the widest id the width must hold
  return ids;
}

std::string fmt_name(int64_t vocab_size) { return fmt::format("v{}.bin", vocab_size); }

fs::path write_ids(const fs::path& path, const std::vector<int32_t>& ids, int64_t vocab_size) {
  TokenFileWriter w(path, vocab_size);
  w.append(std::span<const int32_t>(ids).first(ids.size() / 2));
  w.append(std::span<const int32_t>(ids).subspan(ids.size() / 2));
  w.finish();
  return path;
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void put_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace

TEST(TokenFile, NarrowestWidthHoldsTheVocabulary) {
  EXPECT_EQ(token_id_width(1), 1);
  EXPECT_EQ(token_id_width(256), 1);
  EXPECT_EQ(token_id_width(257), 2);
  EXPECT_EQ(token_id_width(65536), 2);
  EXPECT_EQ(token_id_width(65537), 4);
  EXPECT_THROW((void)token_id_width(0), ValueError);
}

TEST(TokenFile, EachWidthRoundTripsAndReadsAsInt32) {
  const auto dir = test::make_temp_dir("token-file");
  for (const auto& [vocab_size, width] : {std::pair<int64_t, int>{200, 1}, {300, 2}, {70000, 4}}) {
    const auto ids = pseudo_random_ids(5001, vocab_size, static_cast<uint64_t>(vocab_size));
    const fs::path path = write_ids(dir / fmt_name(vocab_size), ids, vocab_size);
    EXPECT_EQ(fs::file_size(path), static_cast<uintmax_t>(kTokenFileHeaderBytes + 5001 * width));
    const std::string bytes = file_bytes(path);
    EXPECT_EQ(bytes.substr(0, 8), "RECURTOK");
    EXPECT_EQ(static_cast<int>(bytes[12]), width);
    const MappedTokenFile file(path);
    EXPECT_EQ(file.width(), width);
    EXPECT_EQ(file.vocab_size(), vocab_size);
    ASSERT_EQ(file.size(), 5001);
    const TokenView mapped = file.view(), memory = TokenView(ids);
    for (int64_t i = 0; i < file.size(); ++i) ASSERT_EQ(mapped[i], ids[static_cast<size_t>(i)]) << "id " << i;
    std::vector<int32_t> a(777), b(777);
    mapped.copy_to(1234, 777, a.data());
    memory.copy_to(1234, 777, b.data());
    EXPECT_EQ(a, b) << "width " << width;
    EXPECT_EQ(TokenIds(std::make_shared<const MappedTokenFile>(path)).to_vector(), ids);
  }
}

TEST(TokenFile, PartitionsGiveTheSameBatchesOverAMappedFile) {
  const auto dir = test::make_temp_dir("token-partition");
  for (int64_t vocab_size : {100, 1000, 100000}) {
    const auto ids = pseudo_random_ids(3000, vocab_size, 7);
    const MappedTokenFile file(write_ids(dir / fmt_name(vocab_size), ids, vocab_size));
    const PartitionOptions o{.batch_size = 4, .num_steps = 9};
    const SequentialPartition seq_mem(ids, o), seq_map(file.view(), o);
    const RandomPartition rnd_mem(ids, o), rnd_map(file.view(), o);
    TokenBatch m, p;
    for (uint64_t seed : {1u, 2u}) {
      const EpochPlan sp = seq_mem.plan_epoch(seed), rp = rnd_mem.plan_epoch(seed);
      EXPECT_EQ(sp.num_batches, seq_map.plan_epoch(seed).num_batches);
      EXPECT_EQ(rp.starts, rnd_map.plan_epoch(seed).starts);
      for (int64_t b = 0; b < sp.num_batches; b += 7) {
        seq_mem.fill_batch(sp, b, m);
        seq_map.fill_batch(sp, b, p);
        ASSERT_EQ(m.x, p.x);
        ASSERT_EQ(m.y, p.y);
      }
      for (int64_t b = 0; b < rp.num_batches; b += 5) {
        rnd_mem.fill_batch(rp, b, m);
        rnd_map.fill_batch(rp, b, p);
        ASSERT_EQ(m.x, p.x);
        ASSERT_EQ(m.y, p.y);
      }
    }
  }
}

TEST(TokenFile, WriterRefusesAnIdOutsideTheVocabularyAndLeavesNoFile) {
  const auto dir = test::make_temp_dir("token-writer");
  {
    TokenFileWriter w(dir / "t.bin", 10);
    EXPECT_THROW(w.append(10), ValueError);
    EXPECT_THROW(w.append(-1), ValueError);
  }
  EXPECT_TRUE(fs::is_empty(dir));  // neither the target nor the temporary file
}

TEST(TokenFile, BadFilesAreIoErrorsNamingTheFile) {
  const auto dir = test::make_temp_dir("token-bad");
  const auto ids = pseudo_random_ids(100, 300, 3);
  const fs::path good = write_ids(dir / "good.bin", ids, 300);
  const std::string bytes = file_bytes(good);
  const fs::path bad = dir / "bad.bin";
  auto open = [&] { (void)MappedTokenFile(bad); };

  put_bytes(bad, bytes.substr(0, bytes.size() - 1));
  test::expect_error_words<IoError>(open, {"bad.bin", "truncated", "100 ids of 2 byte(s)"});
  put_bytes(bad, fmt::format("{}x", bytes));
  test::expect_error_words<IoError>(open, {"bad.bin", "trailing"});
  put_bytes(bad, bytes.substr(0, 20));
  test::expect_error_words<IoError>(open, {"bad.bin", "shorter than the 32-byte header"});
  put_bytes(bad, "version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n");
  test::expect_error_words<IoError>(open, {"bad.bin", "not a recur token file"});
  std::string other = bytes;
  other[8] = 2;  // version 2
  put_bytes(bad, other);
  test::expect_error_words<IoError>(open, {"bad.bin", "version 2", "reads version 1"});
  other = bytes;
  other[12] = 3;  // width 3
  put_bytes(bad, other);
  test::expect_error_words<IoError>(open, {"bad.bin", "width 3"});
  other = bytes;
  other[12] = 1;                       // width 1 for a vocabulary of 300
  other[16] = static_cast<char>(200);  // and a count that fits the file
  put_bytes(bad, other);
  test::expect_error_words<IoError>(open, {"bad.bin", "width of 1 byte(s) cannot hold", "300 tokens"});
  other = bytes;
  other[24] = 10;  // a vocabulary of 10 (was 300 = 0x012C)
  other[25] = 0;
  put_bytes(bad, other);
  test::expect_error_words<IoError>(open, {"bad.bin", "outside the vocabulary [0, 10)"});
  test::expect_error_words<IoError>([&] { (void)MappedTokenFile(dir / "missing.bin"); }, {"missing.bin"});
  test::expect_error_words<IoError>([&] { (void)MappedTokenFile(dir); }, {"not a regular file"});
}
