// UTF-8 decoding and validation, and reading corpus files: multibyte text, invalid bytes with their
// offset, Python-compatible replacement, and the empty / blank / binary files every command rejects.
#include <gtest/gtest.h>

#include <fstream>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/text/text_file.h"
#include "recur/text/utf8.h"
#include "test_support.h"

using namespace recur;

namespace {
std::filesystem::path fixture(const std::string& name) { return test::test_data_dir() / "text" / name; }

}  // namespace

TEST(Utf8, DecodesOneToFourByteSequences) {
  const std::string text = "a\xC3\xA9\xE4\xB8\x96\xF0\x9F\x98\x80";  // a é 世 😀
  EXPECT_EQ(utf8_to_code_points(text), (std::u32string{U'a', U'\u00E9', U'\u4E16', U'\U0001F600'}));
  EXPECT_EQ(utf8_length(text), 4u);
  EXPECT_FALSE(utf8_find_invalid(text).has_value());
}

TEST(Utf8, EncodesWhatItDecodes) {
  for (char32_t cp :
       {U'\0', U'A', U'\u007F', U'\u0080', U'\u07FF', U'\u0800', U'\uFFFD', U'\U00010000', U'\U0010FFFF'}) {
    std::string s;
    utf8_append(cp, s);
    EXPECT_EQ(utf8_to_code_points(s), std::u32string(1, cp)) << static_cast<uint32_t>(cp);
  }
  std::string surrogate;
  utf8_append(0xD800, surrogate);
  EXPECT_EQ(surrogate, "\xEF\xBF\xBD");
}

TEST(Utf8, FindsFirstInvalidByteOffset) {
  EXPECT_EQ(utf8_find_invalid("abc\xFF"), 3u);
  EXPECT_EQ(utf8_find_invalid("ab\xC0\xAF"), 2u);          // overlong '/'
  EXPECT_EQ(utf8_find_invalid("\xE0\x80\xAF"), 0u);        // overlong 3-byte form
  EXPECT_EQ(utf8_find_invalid("x\xED\xA0\x80"), 1u);       // surrogate U+D800
  EXPECT_EQ(utf8_find_invalid("xy\xF4\x90\x80\x80"), 2u);  // above U+10FFFF
  EXPECT_EQ(utf8_find_invalid("\xC3\xA9\xE2\x82"), 2u);    // truncated at the end
  EXPECT_EQ(utf8_find_invalid("\x80"), 0u);                // lone continuation byte
}

TEST(Utf8, ReplacementMatchesPythonDecodeReplace) {
  // bytes.decode('utf-8', 'replace') in Python 3.11 gives one U+FFFD per maximal invalid subpart.
  const std::string bad =
      "ok\xC3(\xE2\x82x\xF0\x9F\x98\x80\xED\xA0\x80\xFF\xF4\x90\x80\x80\xE0\x80\xAF end\xE2\x82";
  std::string expected = "ok\xEF\xBF\xBD(\xEF\xBF\xBDx\xF0\x9F\x98\x80";
  for (int i = 0; i < 11; ++i) expected += "\xEF\xBF\xBD";
  expected += " end\xEF\xBF\xBD";
  EXPECT_EQ(utf8_replace_invalid(bad), expected);
  EXPECT_FALSE(utf8_find_invalid(utf8_replace_invalid(bad)).has_value());
}

TEST(Utf8, InvalidTextThrowsWithOffset) {
  const std::string msg = test::message_of_error<ValueError>([] { (void)utf8_length("abcd\xFF"); });
  EXPECT_NE(msg.find("byte offset 4"), std::string::npos) << msg;
}

TEST(Utf8, UnicodeSpacesAreThePythonSet) {
  for (char32_t c : {U' ', U'\t', U'\n', U'\r', U'\v', U'\f', U'\u0085', U'\u00A0', U'\u2003', U'\u3000'})
    EXPECT_TRUE(is_unicode_space(c)) << static_cast<uint32_t>(c);
  for (char32_t c : {U'a', U'\0', U'\u200B', U'\uFEFF', U'_'})
    EXPECT_FALSE(is_unicode_space(c)) << static_cast<uint32_t>(c);
}

TEST(TextFile, ReadsMultibyteTextUnchanged) {
  EXPECT_EQ(read_text_file(fixture("hello_utf8.txt")),
            "Gr\xC3\xBC\xC3\x9F"
            "e, \xE4\xB8\x96\xE7\x95\x8C! \xF0\x9F\x98\x80\nna\xC3\xAFve caf\xC3\xA9\tok\n");
}

TEST(TextFile, MissingFileNamesThePath) {
  const auto path = fixture("no_such_file.txt");
  const std::string msg = test::message_of_error<IoError>([&] { (void)read_text_file(path); });
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;
}

TEST(TextFile, DirectoryIsRejected) {
  const std::string msg =
      test::message_of_error<IoError>([] { (void)read_text_file(test::test_data_dir()); });
  EXPECT_NE(msg.find("is a directory"), std::string::npos) << msg;
}

TEST(TextFile, EmptyFileIsAnError) {
  const std::string msg = test::message_of_error<IoError>([] { (void)read_text_file(fixture("empty.txt")); });
  EXPECT_NE(msg.find("empty.txt' is empty"), std::string::npos) << msg;
  EXPECT_EQ(read_text_file(fixture("empty.txt"), {.allows_blank = true}), "");
}

TEST(TextFile, WhitespaceOnlyFileIsAnError) {
  const std::string msg =
      test::message_of_error<IoError>([] { (void)read_text_file(fixture("whitespace_only.txt")); });
  EXPECT_NE(msg.find("only whitespace"), std::string::npos) << msg;
  EXPECT_NE(msg.find("whitespace_only.txt"), std::string::npos) << msg;
}

TEST(TextFile, BinaryFileIsAnErrorEvenWithReplacement) {
  for (auto policy : {InvalidUtf8::error, InvalidUtf8::replace}) {
    const std::string msg = test::message_of_error<IoError>(
        [&] { (void)read_text_file(fixture("binary.bin"), {.invalid_utf8 = policy}); });
    EXPECT_NE(msg.find("binary file"), std::string::npos) << msg;
    EXPECT_NE(msg.find("byte offset 7"), std::string::npos) << msg;
  }
}

TEST(TextFile, InvalidUtf8NamesFileAndOffsetUnlessReplaced) {
  const std::string msg =
      test::message_of_error<IoError>([] { (void)read_text_file(fixture("invalid_utf8.txt")); });
  EXPECT_NE(msg.find("invalid_utf8.txt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not valid UTF-8"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0xFF at byte offset 10"), std::string::npos) << msg;
  EXPECT_EQ(read_text_file(fixture("invalid_utf8.txt"), {.invalid_utf8 = InvalidUtf8::replace}),
            "good text\n\xEF\xBF\xBD\xEF\xBF\xBD bad\n");
}

TEST(TextFile, ByteOrderMarkIsDropped) {
  EXPECT_EQ(check_text("\xEF\xBB\xBFhi", "<memory>"), "hi");
  const std::string msg =
      test::message_of_error<IoError>([] { (void)check_text("\xEF\xBB\xBF", "<memory>"); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
}

TEST(TextFile, UnicodeWhitespaceCountsAsBlank) {
  const std::string msg =
      test::message_of_error<IoError>([] { (void)check_text(" \xC2\xA0\xE3\x80\x80\n", "<memory>"); });
  EXPECT_NE(msg.find("only whitespace"), std::string::npos) << msg;
}
