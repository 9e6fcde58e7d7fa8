// recur prepare's folders: the ids and vocabulary equal the in-memory path's (The Time Machine, char
// and word; WikiText-2, word), whatever the chunk size (UTF-8 sequences, words and d2l's
// non-letter runs across chunk boundaries), the validation split is `recur train`'s, training on the
// folder gives the same bits as on the text, and broken folders are IoErrors naming the file.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/lm/prepared_corpus.h"
#include "recur/lm/run.h"
#include "recur/text/text_file.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {
const TextEncoding kCharsD2l{.level = TokenLevel::character, .mode = PreprocessMode::d2l};
const TextEncoding kWordsRaw{.level = TokenLevel::word, .mode = PreprocessMode::raw};

PrepareSummary prepare(const fs::path& text, const fs::path& out, const TextEncoding& encoding,
                       int64_t chunk_bytes = int64_t{4} << 20, double valid_fraction = 0,
                       int64_t min_freq = 0, const fs::path& valid = {}) {
  return prepare_corpus({.data = text,
                         .valid = valid,
                         .valid_fraction = valid_fraction,
                         .encoding = encoding,
                         .min_freq = min_freq,
                         .out_dir = out,
                         .chunk_bytes = chunk_bytes});
}

// The prepared folder's vocabulary and ids equal load_lm_corpus's on the same text.
void expect_same_as_in_memory(const fs::path& text, const TextEncoding& encoding, int64_t chunk_bytes,
                              int64_t min_freq = 0) {
  const auto dir = test::make_temp_dir("prepared");
  (void)prepare(text, dir, encoding, chunk_bytes, 0, min_freq);
  const LmCorpus memory = load_lm_corpus(text, encoding, min_freq);
  const PreparedCorpus prepared = load_prepared_corpus(dir);
  EXPECT_TRUE(prepared.vocab == memory.vocab) << text << " chunk " << chunk_bytes;
  EXPECT_EQ(prepared.train.to_vector(), memory.ids) << text << " chunk " << chunk_bytes;
  EXPECT_TRUE(prepared.valid.empty());
  EXPECT_TRUE(prepared.encoding == encoding);
}

fs::path write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace

TEST(PreparedCorpus, TimeMachineCharsAndWordsEqualTheInMemoryIds) {
  const fs::path tm = test::shared_data_dir() / "timemachine.txt";
  if (!fs::exists(tm)) GTEST_SKIP() << "no " << tm;
  expect_same_as_in_memory(tm, kCharsD2l, int64_t{4} << 20);
  expect_same_as_in_memory(tm, kCharsD2l, 4093);  // a prime: chunks end mid-run and mid-word
  expect_same_as_in_memory(tm, {.level = TokenLevel::character, .mode = PreprocessMode::raw}, 4093);
  expect_same_as_in_memory(tm, {.level = TokenLevel::word, .mode = PreprocessMode::d2l}, 4093);
  expect_same_as_in_memory(tm, {.level = TokenLevel::word, .mode = PreprocessMode::lower}, 1000, 3);
}

TEST(PreparedCorpus, WikiTextWordsEqualTheInMemoryIds) {
  const fs::path wt = test::shared_data_dir() / "wikitext-2" / "valid.txt";
  if (!fs::exists(wt)) GTEST_SKIP() << "no " << wt;
  expect_same_as_in_memory(wt, kWordsRaw, 65521);
  const auto dir = test::make_temp_dir("prepared-wt2");
  const PrepareSummary s = prepare(wt, dir, kWordsRaw);
  EXPECT_EQ(s.train_tokens, 217646);  // the published count
  EXPECT_EQ(s.width, 2);
}

// Multibyte characters, words and d2l runs straddling every possible chunk boundary.
TEST(PreparedCorpus, ChunkBoundariesNeverSplitACharacterOrAWord) {
  const auto dir = test::make_temp_dir("prepared-chunks");
  const fs::path text = write_text(
      dir / "mixed.txt",
      "\xEF\xBB\xBF"
      "Zoë's café — naïve 🙂 words\n\n  Ελληνικά και русский текст!!\r\n"
      "the time  traveller\t(for so it will be convenient)\n🙂🙂 end");
  for (const TextEncoding& e :
       {kCharsD2l, kWordsRaw, TextEncoding{TokenLevel::character, PreprocessMode::raw},
        TextEncoding{TokenLevel::character, PreprocessMode::lower},
        TextEncoding{TokenLevel::word, PreprocessMode::lower},
        TextEncoding{TokenLevel::word, PreprocessMode::d2l}})
    for (int64_t chunk : {1, 2, 3, 4, 5, 7, 13, 64, 4096}) expect_same_as_in_memory(text, e, chunk);
}

TEST(PreparedCorpus, ValidationSplitAndTextAreRecurTrainsOnes) {
  const auto dir = test::make_temp_dir("prepared-valid");
  std::string body;
  for (int i = 0; i < 30; ++i) body += fmt::format("the time traveller said the machine was ready {}\n", i);
  const fs::path text = write_text(dir / "train.txt", body);
  const fs::path held = write_text(dir / "held.txt", "the time zebra said\nready 99\n");
  RunSettings s;
  s.data = text.string();
  s.encoding = kWordsRaw;
  s.valid_fraction = 0.25;
  s.min_freq = 2;
  const RunData memory = load_run_data(s);
  (void)prepare(text, dir / "split", kWordsRaw, 17, 0.25, 2);
  s.data = (dir / "split").string();
  const RunData mapped = load_run_data(s);
  EXPECT_EQ(mapped.data.train.to_vector(), memory.data.train.to_vector());
  EXPECT_EQ(mapped.data.valid.to_vector(), memory.data.valid.to_vector());
  EXPECT_TRUE(mapped.data.train.is_mapped());
  EXPECT_EQ(mapped.valid_tokens, memory.valid_tokens);

  s.data = text.string();
  s.valid = held.string();
  const RunData memory_held = load_run_data(s);
  const PrepareSummary p = prepare(text, dir / "held", kWordsRaw, 11, 0.25, 2, held);
  EXPECT_EQ(p.valid_unknown, memory_held.valid_unknown_count);
  EXPECT_EQ(p.valid_unknown, 2);  // "zebra" and "99"
  s.data = (dir / "held").string();
  s.valid.clear();
  const RunData mapped_held = load_run_data(s);
  EXPECT_EQ(mapped_held.data.train.to_vector(), memory_held.data.train.to_vector());
  EXPECT_EQ(mapped_held.data.valid.to_vector(), memory_held.data.valid.to_vector());
  EXPECT_EQ(mapped_held.valid_unknown_count, 2);
}

TEST(PreparedCorpus, WidthFollowsTheVocabulary) {
  const auto dir = test::make_temp_dir("prepared-width");
  for (const auto& [distinct, width] : {std::pair<int, int>{100, 1}, {1000, 2}, {70000, 4}}) {
    std::string body;
    for (int i = 0; i < distinct; ++i) body += fmt::format("w{}{}", i, i % 10 == 9 ? "\n" : " ");
    const fs::path text = write_text(dir / fmt::format("words{}.txt", distinct), body);
    const fs::path out = dir / fmt::format("out{}", distinct);
    const PrepareSummary s = prepare(text, out, kWordsRaw, 4096);
    EXPECT_EQ(s.width, width) << distinct;
    const PreparedCorpus c = load_prepared_corpus(out);
    EXPECT_EQ(c.train.to_vector(), load_lm_corpus(text, kWordsRaw).ids) << distinct;
  }
}

// A few steps on the text and on its prepared folder: the same losses and the same weights, bit
// for bit, for both partitions.
TEST(PreparedCorpus, TrainingOnTheFolderGivesTheSameBitsAsOnTheText) {
  const auto dir = test::make_temp_dir("prepared-train");
  std::string body;
  for (int i = 0; i < 60; ++i)
    body += fmt::format("The Time Traveller (for so it will be convenient to speak of him) {}\n", i % 7);
  const fs::path text = write_text(dir / "tm.txt", body);
  (void)prepare(text, dir / "prepared", kCharsD2l, 100, 0.1);
  for (Partition partition : {Partition::kSequential, Partition::kRandom}) {
    auto settings = [&](const fs::path& data, const std::string& out) {
      RunSettings s;
      s.data = data.string();
      s.hidden_size = 16;
      s.embedding_size = 8;
      s.train = {.batch = 4,
                 .steps = 10,
                 .partition = partition,
                 .optimizer = OptimizerKind::kAdam,
                 .lr = 0.01,
                 .epochs = 2,
                 .seed = 5,
                 .out_dir = dir / out};
      return s;
    };
    const std::string tag = partition == Partition::kSequential ? "seq" : "rnd";
    TrainingRun on_text(settings(text, fmt::format("text-{}", tag)));
    TrainingRun on_folder(settings(dir / "prepared", fmt::format("folder-{}", tag)));
    EXPECT_EQ(on_text.data().train_tokens, on_folder.data().train_tokens);
    EXPECT_EQ(on_text.data().valid_tokens, on_folder.data().valid_tokens);
    const TrainSummary a = on_text.train(), b = on_folder.train();
    ASSERT_EQ(a.history.size(), b.history.size());
    for (size_t e = 0; e < a.history.size(); ++e) {
      EXPECT_EQ(a.history[e].train_perplexity, b.history[e].train_perplexity) << tag << " epoch " << e;
      EXPECT_EQ(a.history[e].valid_perplexity, b.history[e].valid_perplexity) << tag << " epoch " << e;
    }
    const auto wa = on_text.model().parameters().values(), wb = on_folder.model().parameters().values();
    ASSERT_EQ(wa.size(), wb.size());
    EXPECT_EQ(0, std::memcmp(wa.data(), wb.data(), wa.size_bytes())) << tag;
  }
}

TEST(PreparedCorpus, BrokenFoldersNameTheFileAtFault) {
  const auto dir = test::make_temp_dir("prepared-bad");
  std::string body;
  for (int i = 0; i < 20; ++i) body += fmt::format("abc def ghi {}\n", i);
  const fs::path text = write_text(dir / "t.txt", body);
  const fs::path out = dir / "p";
  auto fresh = [&] { (void)prepare(text, out, kWordsRaw, 64, 0.2); };
  auto load = [&] { (void)load_prepared_corpus(out); };

  fresh();
  const std::string vocab_text = read_file(out / "vocab");
  // A vocabulary of another corpus: another size, then the same size with other counts.
  write_file_atomically(out / "vocab", Vocab::from_tokens({"<unk>", "a", "b"}).serialize());
  test::expect_error_words<IoError>(load, {"vocab", "holds 3 tokens", "prepared.json", "vocab_size"});
  std::string recounted = vocab_text;
  char& digit = recounted[recounted.rfind('\t') + 1];  // the last token's count
  digit = digit == '9' ? '8' : '9';
  write_file_atomically(out / "vocab", recounted);
  test::expect_error_words<IoError>(load, {"vocab", "counted_tokens"});

  fresh();
  fs::resize_file(out / "train.bin", fs::file_size(out / "train.bin") - 1);
  test::expect_error_words<IoError>(load, {"train.bin", "truncated"});

  fresh();
  fs::copy_file(out / "vocab", out / "train.bin", fs::copy_options::overwrite_existing);
  test::expect_error_words<IoError>(load, {"train.bin", "not a recur token file"});

  fresh();
  fs::remove(out / "valid.bin");
  test::expect_error_words<IoError>(load, {"valid.bin"});

  fresh();
  std::string json = read_file(out / "prepared.json");
  json.replace(json.find("\"version\": 1"), 12, "\"version\": 7");
  write_file_atomically(out / "prepared.json", json);
  test::expect_error_words<IoError>(load, {"prepared.json", "version", "7"});

  // Text errors name the file and the offset, as read_text_file's do.
  const fs::path binary = write_text(dir / "bin.txt", std::string("abc\0def", 7));
  test::expect_error_words<IoError>([&] { (void)prepare(binary, dir / "q", kWordsRaw, 2); },
                                    {"bin.txt", "NUL byte at byte offset 3"});
  const fs::path latin1 = write_text(dir / "latin1.txt", "caf\xE9 ok\n");
  test::expect_error_words<IoError>([&] { (void)prepare(latin1, dir / "q", kCharsD2l, 3); },
                                    {"latin1.txt", "byte offset 3"});
  const fs::path blank = write_text(dir / "blank.txt", " \n\t\n");
  test::expect_error_words<IoError>([&] { (void)prepare(blank, dir / "q", kWordsRaw, 1); },
                                    {"blank.txt", "only whitespace"});
}

TEST(PreparedCorpus, CommandLinePreparesTrainsAndRefusesABrokenFolder) {
  const auto dir = test::make_temp_dir("prepared-cli");
  std::string body;
  for (int i = 0; i < 40; ++i) body += "the time traveller said the time machine was ready\n";
  const fs::path text = write_text(dir / "tiny.txt", body);
  const auto p = test::run_cli(
      fmt::format("prepare --data {} --level char --out {}", text.string(), (dir / "p").string()));
  ASSERT_EQ(p.exit_code, 0) << p.output;
  EXPECT_NE(p.output.find("ids 1 byte(s) wide"), std::string::npos) << p.output;
  const std::string train = fmt::format("train --data {} --hidden 8 --batch 4 --steps 8 --epochs 1 --out {}",
                                        (dir / "p").string(), (dir / "run").string());
  const auto t = test::run_cli(train);
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_NE(read_file(dir / "run" / "run.json").find("\"level\": \"char\""), std::string::npos);
  const auto e =
      test::run_cli(fmt::format("eval --model {} {}", (dir / "run").string(), (dir / "p").string()));
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_NE(e.output.find("perplexity"), std::string::npos) << e.output;
  fs::resize_file(dir / "p" / "train.bin", 40);
  const auto bad = test::run_cli(fmt::format("{}2", train));
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("train.bin"), std::string::npos) << bad.output;
}
