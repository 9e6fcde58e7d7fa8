// Vocabulary: frequency order with first-occurrence ties (as d2l), min_freq, reserved tokens, <unk>
// replacements, and a text file that round-trips tokens made of spaces, tabs and newlines.
#include <gtest/gtest.h>

#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/text/text_file.h"
#include "recur/text/tokenizer.h"
#include "recur/text/vocab.h"
#include "test_support.h"

using namespace recur;

namespace {
std::vector<std::string_view> split_words(std::string_view text) {  // views into `text`
  std::vector<std::string_view> out;
  tokenize(text, TokenLevel::word, out);
  return out;
}

std::vector<std::string> tokens_of(const Vocab& v) {
  std::vector<std::string> out;
  for (int32_t i = 0; i < v.size(); ++i) out.push_back(v.token(i));
  return out;
}
}  // namespace

TEST(Vocab, OrdersByFrequencyThenFirstOccurrence) {
  const std::string_view text = "b a c a d c a e";  // a:3, c:2, then b, d, e once each in that order
  const Vocab v = Vocab::build(split_words(text));
  EXPECT_EQ(tokens_of(v), (std::vector<std::string>{"<unk>", "a", "c", "b", "d", "e"}));
  EXPECT_EQ(v.count(1), 3);
  EXPECT_EQ(v.count(Vocab::kUnkIndex), 0);
  EXPECT_EQ(v.index("c"), 2);
  EXPECT_EQ(v.index("zzz"), Vocab::kUnkIndex);
  EXPECT_FALSE(v.find("zzz").has_value());
}

TEST(Vocab, MinFreqAndReservedTokens) {
  const std::string_view text = "b a c a d c a e";
  const Vocab v = Vocab::build(split_words(text), {.min_freq = 2, .reserved_tokens = {"<bos>", "<eos>"}});
  EXPECT_EQ(tokens_of(v), (std::vector<std::string>{"<unk>", "<bos>", "<eos>", "a", "c"}));
  EXPECT_EQ(v.count(Vocab::kUnkIndex), 3);  // b, d, e
  EXPECT_EQ(v.count(1), 0);
}

TEST(Vocab, EncodeCountsReplacementsAndDecodeInverts) {
  const Vocab v = Vocab::build(split_words("the cat sat on the mat"));
  const auto tokens = split_words("the dog sat on the rug <unk>");
  const EncodedTokens e = v.encode(tokens);
  EXPECT_EQ(e.unknown_count, 2);  // dog, rug; the literal <unk> is in the vocabulary
  EXPECT_EQ(e.ids, (std::vector<int32_t>{1, 0, 3, 4, 1, 0, 0}));
  const auto back = v.decode(e.ids);
  EXPECT_EQ(std::vector<std::string>(back.begin(), back.end()),
            (std::vector<std::string>{"the", "<unk>", "sat", "on", "the", "<unk>", "<unk>"}));
  EXPECT_THROW((void)v.decode(std::vector<int32_t>{1, 99}), ValueError);
  EXPECT_THROW((void)v.token(-1), ValueError);
}

TEST(Vocab, MinFreqThatLeavesOnlyUnkIsAnError) {
  try {
    (void)Vocab::build(split_words("a a b"), {.min_freq = 5});
    FAIL();
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("min_freq 5 leaves no token"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'a' occurs 2 times"), std::string::npos) << msg;
  }
  EXPECT_THROW((void)Vocab::build({}), ValueError);
  EXPECT_THROW((void)Vocab::build(split_words("a"), {.min_freq = -1}), ValueError);
  EXPECT_THROW((void)Vocab::build(split_words("a"), {.reserved_tokens = {"<unk>"}}), ValueError);
}

TEST(Vocab, RoundTripsWhitespaceAndEscapeCharacters) {
  // Character tokens that are spaces, tabs, newlines, a backslash, a control byte and multibyte text.
  const std::string text = "a \t\n\\b\x01\r\xC3\xA9\xF0\x9F\x98\x80 \\s";
  std::vector<std::string_view> chars;
  tokenize(text, TokenLevel::character, chars);
  const Vocab v = Vocab::build(chars, {.reserved_tokens = {"<pad>"}});
  const auto dir = test::make_temp_dir("vocab");
  v.save(dir / "chars.vocab");
  const Vocab back = Vocab::load(dir / "chars.vocab");
  EXPECT_EQ(back, v);
  EXPECT_EQ(back.index(" "), v.index(" "));
  EXPECT_EQ(back.index("\n"), v.index("\n"));
  const std::string file = read_file(dir / "chars.vocab");
  EXPECT_EQ(file.substr(0, 22), "recur-vocab 1\nsize 13\n");
  EXPECT_NE(file.find("\\s\t2\n"), std::string::npos) << file;  // the space token, seen twice
  EXPECT_NE(file.find("\n\\t\t1\n"), std::string::npos) << file;
  EXPECT_NE(file.find("\n\\x01\t1\n"), std::string::npos) << file;
}

TEST(Vocab, EscapeRoundTripsEveryByte) {
  std::string all;
  for (int b = 1; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string escaped = escape_token(all);
  EXPECT_EQ(escaped.find_first_of(" \t\n\r"), std::string::npos);
  EXPECT_EQ(unescape_token(escaped), all);
  EXPECT_FALSE(unescape_token("a\\").has_value());
  EXPECT_FALSE(unescape_token("\\q").has_value());
  EXPECT_FALSE(unescape_token("\\x4").has_value());
  EXPECT_FALSE(unescape_token("\\xZZ").has_value());
}

TEST(Vocab, MalformedFilesNameTheLine) {
  auto expect_error = [](const std::string& text, const std::string& words) {
    try {
      (void)Vocab::parse(text, "v.txt");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const IoError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("'v.txt' line"), std::string::npos) << msg;
      EXPECT_NE(msg.find(words), std::string::npos) << msg;
    }
  };
  expect_error("hello\n", "not a recur vocabulary file");
  expect_error("recur-vocab 2\nsize 1\n<unk>\t0\n", "version '2' is not supported");
  expect_error("recur-vocab 1\nsize 2\n<unk>\t0\n", "ends after 1 of 2 tokens");
  expect_error("recur-vocab 1\nsize 1\nfoo\t0\n", "index 0 must be <unk>");
  expect_error("recur-vocab 1\nsize 2\n<unk>\t0\na\t-3\n", "count >= 0");
  expect_error("recur-vocab 1\nsize 3\n<unk>\t0\na\t1\na\t1\n", "appears twice");
  expect_error("recur-vocab 1\nsize 1\n<unk>\t0\nextra\n", "unexpected content");
  expect_error("recur-vocab 1\nsize 2\n<unk>\t0\n\\q\t1\n", "malformed escape");
}

TEST(Vocab, TimeMachineMatchesTheBook) {
  const std::string raw = read_text_file(test::shared_data_dir() / "timemachine.txt");
  // d2l 9.2: 28 character tokens with <unk>; first edition order: <unk>, ' ', e, t, a, i, n, o, s, h, r.
  const TokenizedText chars = tokenize_text(raw, PreprocessMode::d2l, TokenLevel::character);
  const Vocab cv = Vocab::build(chars.tokens());
  EXPECT_EQ(cv.size(), 28);
  const std::vector<std::string> head{"<unk>", " ", "e", "t", "a", "i", "n", "o", "s", "h", "r"};
  for (int32_t i = 0; i < static_cast<int32_t>(head.size()); ++i)
    EXPECT_EQ(cv.token(i), head[static_cast<size_t>(i)]);
  EXPECT_EQ(cv.count(1), 32775);
  EXPECT_EQ(cv.token(27), "q");
  // Words: 4580 with <unk>; 'the' 2261, 'i' 1267, 'and' 1245, 'of' 1155, 'a' 816.
  const TokenizedText words = tokenize_text(raw, PreprocessMode::d2l, TokenLevel::word);
  const Vocab wv = Vocab::build(words.tokens());
  EXPECT_EQ(wv.size(), 4580);
  const std::vector<std::pair<std::string, int64_t>> top{
      {"the", 2261}, {"i", 1267}, {"and", 1245}, {"of", 1155}, {"a", 816}};
  for (size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(wv.token(static_cast<int32_t>(i + 1)), top[i].first);
    EXPECT_EQ(wv.count(static_cast<int32_t>(i + 1)), top[i].second);
  }
  // min_freq 2 keeps the 2182 words seen at least twice; the 2397 words seen once become <unk>.
  const Vocab frequent = Vocab::build(words.tokens(), {.min_freq = 2});
  EXPECT_EQ(frequent.size(), 2183);
  EXPECT_EQ(frequent.count(Vocab::kUnkIndex), 2397);
}

// A model's vocabulary as config.json gives it: a token list with the unknown token anywhere.
TEST(Vocab, FromTokensKeepsTheOrderAndTheUnknownTokensPlace) {
  const Vocab v = Vocab::from_tokens({"a", "b", "<?>", "c"}, "<?>");
  EXPECT_EQ(v.tokens(), (std::vector<std::string>{"a", "b", "<?>", "c"}));
  EXPECT_EQ(v.unk_index(), 2);
  EXPECT_EQ(v.unk(), "<?>");
  EXPECT_EQ(v.index("zzz"), 2);
  const auto tokens = split_words("c zzz a");
  const EncodedTokens e = v.encode(tokens);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{3, 2, 0}));
  EXPECT_EQ(e.unknown_count, 1);
  EXPECT_EQ(v.count(0), 0);
  EXPECT_EQ(Vocab::from_tokens({"<unk>", "x"}).unk_index(), Vocab::kUnkIndex);
  EXPECT_THROW((void)v.serialize(), ValueError);  // the file form has <unk> at 0
}

TEST(Vocab, FromTokensRejectsRepeatsAndAMissingUnknownToken) {
  try {
    (void)Vocab::from_tokens({"<unk>", "a", "a"});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'a' appears twice"), std::string::npos) << e.what();
  }
  try {
    (void)Vocab::from_tokens({"a", "b"}, "<unk>");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'<unk>' is not in the list"), std::string::npos) << e.what();
  }
}
