// Preprocessing modes and the character / word tokenizers, including d2l's exact preprocessing,
// multibyte characters as single tokens and line-by-line tokenizing.
#include <gtest/gtest.h>

#include "recur/core/error.h"
#include "recur/text/preprocess.h"
#include "recur/text/text_file.h"
#include "recur/text/tokenizer.h"
#include "test_support.h"

using namespace recur;

namespace {
std::vector<std::string> as_strings(std::span<const std::string_view> tokens) {
  return {tokens.begin(), tokens.end()};
}
}  // namespace

TEST(Preprocess, D2lModeIsTheBooksRegex) {
  // re.sub('[^A-Za-z]+', ' ', text).lower() for this input gives ' the time machine by h g wells i '.
  EXPECT_EQ(preprocess("  The Time Machine, by H. G. Wells [1898]\n\n\nI\n", PreprocessMode::d2l),
            " the time machine by h g wells i ");
  // Non-ASCII letters are not [A-Za-z]: they join the run that becomes one space.
  EXPECT_EQ(preprocess("caf\xC3\xA9-bar \xC3\x89t\xC3\xA9", PreprocessMode::d2l), "caf bar t ");
  EXPECT_EQ(preprocess("", PreprocessMode::d2l), "");
}

TEST(Preprocess, LowerModeHandlesMultibyteLetters) {
  // Python: 'ÀÉÎ Ÿ ĀāĹĺŽ ΑΩάΆ Ёя Straße'.lower()
  EXPECT_EQ(preprocess("\xC3\x80\xC3\x89\xC3\x8E \xC5\xB8 \xC4\x80\xC4\x81\xC4\xB9\xC4\xBA\xC5\xBD "
                       "\xCE\x91\xCE\xA9\xCE\xAC\xCE\x86 \xD0\x81\xD1\x8F Stra\xC3\x9F"
                       "e",
                       PreprocessMode::lower),
            "\xC3\xA0\xC3\xA9\xC3\xAE \xC3\xBF \xC4\x81\xC4\x81\xC4\xBA\xC4\xBA\xC5\xBE "
            "\xCE\xB1\xCF\x89\xCE\xAC\xCE\xAC \xD1\x91\xD1\x8F stra\xC3\x9F"
            "e");
  EXPECT_EQ(preprocess("MiXeD 123 \xE4\xB8\x96", PreprocessMode::lower), "mixed 123 \xE4\xB8\x96");
}

TEST(Preprocess, RawModeIsUnchanged) {
  EXPECT_EQ(preprocess("A b\tC\r\n\xF0\x9F\x98\x80", PreprocessMode::raw), "A b\tC\r\n\xF0\x9F\x98\x80");
}

TEST(Preprocess, ModeNamesParseAndBadNamesAreRejected) {
  EXPECT_EQ(parse_preprocess_mode("d2l"), PreprocessMode::d2l);
  EXPECT_EQ(preprocess_mode_name(parse_preprocess_mode("lower")), "lower");
  try {
    (void)parse_preprocess_mode("upper");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("d2l, lower or raw"), std::string::npos);
  }
}

TEST(Tokenizer, CharactersAreCodePointsNotBytes) {
  std::vector<std::string_view> tokens;
  tokenize("a\xC3\xA9 \xF0\x9F\x98\x80\n", TokenLevel::character, tokens);
  EXPECT_EQ(as_strings(tokens), (std::vector<std::string>{"a", "\xC3\xA9", " ", "\xF0\x9F\x98\x80", "\n"}));
}

TEST(Tokenizer, WordsSplitOnUnicodeWhitespace) {
  std::vector<std::string_view> tokens;
  // Tab, no-break space U+00A0 and ideographic space U+3000 separate; U+200B (zero width) does not.
  tokenize("  hello,\tw\xC3\xB6rld\xC2\xA0x\xE3\x80\x80y\xE2\x80\x8Bz  \n", TokenLevel::word, tokens);
  EXPECT_EQ(as_strings(tokens), (std::vector<std::string>{"hello,", "w\xC3\xB6rld", "x", "y\xE2\x80\x8Bz"}));
  tokens.clear();
  tokenize(" \t\n", TokenLevel::word, tokens);
  EXPECT_TRUE(tokens.empty());
}

TEST(Tokenizer, TokensViewTheBufferAndSurviveMoves) {
  TokenizedText text =
      tokenize_text("Hi there", PreprocessMode::lower, TokenLevel::word);  // short: SSO-sized
  const char* data = text.text().data();
  TokenizedText moved = std::move(text);
  EXPECT_EQ(moved.text().data(), data);
  EXPECT_EQ(as_strings(moved.tokens()), (std::vector<std::string>{"hi", "there"}));
  EXPECT_EQ(moved.tokens()[1].data(), data + 3);
  EXPECT_EQ(moved.num_lines(), 1);
}

TEST(Tokenizer, LinesArePreprocessedOneByOneAndEmptyLinesSkipped) {
  const std::string raw = "The Time\r\n\n  --  \nMachine, by H. G. Wells!\nlast";
  TokenizedText words = tokenize_lines(raw, PreprocessMode::d2l, TokenLevel::word);
  ASSERT_EQ(words.num_lines(), 3);
  EXPECT_EQ(as_strings(words.line(0)), (std::vector<std::string>{"the", "time"}));
  EXPECT_EQ(as_strings(words.line(1)), (std::vector<std::string>{"machine", "by", "h", "g", "wells"}));
  EXPECT_EQ(as_strings(words.line(2)), (std::vector<std::string>{"last"}));
  // d2l mode strips each line, so no character line starts or ends with a space.
  TokenizedText chars = tokenize_lines(raw, PreprocessMode::d2l, TokenLevel::character);
  ASSERT_EQ(chars.num_lines(), 3);
  EXPECT_EQ(chars.line(0).size(), 8u);  // "the time"
  EXPECT_EQ(chars.line(2).size(), 4u);
  EXPECT_THROW((void)chars.line(3), ValueError);
  // raw mode keeps '\r'-less line content, including inner whitespace.
  TokenizedText raw_chars = tokenize_lines("a b\r\nc", PreprocessMode::raw, TokenLevel::character);
  ASSERT_EQ(raw_chars.num_lines(), 2);
  EXPECT_EQ(as_strings(raw_chars.line(0)), (std::vector<std::string>{"a", " ", "b"}));
}

TEST(Tokenizer, LevelNamesParse) {
  EXPECT_EQ(parse_token_level("char"), TokenLevel::character);
  EXPECT_EQ(token_level_name(TokenLevel::word), "word");
  EXPECT_THROW((void)parse_token_level("byte"), ValueError);
}

TEST(Tokenizer, TimeMachineMatchesTheBook) {
  // d2l 9.2: len(corpus) of the character tokens after preprocessing is 173428; words 32775.
  const std::string raw = read_text_file(test::shared_data_dir() / "timemachine.txt");
  const TokenizedText chars = tokenize_text(raw, PreprocessMode::d2l, TokenLevel::character);
  EXPECT_EQ(chars.num_tokens(), 173428);
  EXPECT_EQ(chars.text().substr(0, 33), "the time machine by h g wells i t");
  const TokenizedText words = tokenize_text(raw, PreprocessMode::d2l, TokenLevel::word);
  EXPECT_EQ(words.num_tokens(), 32775);
  // First edition (per line, stripped): 3221 lines of which 2848 are non-empty, 170580 characters.
  const TokenizedText lines = tokenize_lines(raw, PreprocessMode::d2l, TokenLevel::character);
  EXPECT_EQ(lines.num_tokens(), 170580);
  EXPECT_EQ(lines.num_lines(), 2848);
}
