// ARPA files: number formatting as KenLM prints floats, lmplz files read and written back
// unchanged, SRILM conventions, and malformed files rejected with file:line.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "expect_error.h"
#include "ngram_fixtures.h"
#include "recur/core/error.h"
#include "recur/ngram/arpa.h"

using namespace recur;
using recur::test::read_ngram_fixture;

TEST(ArpaFloat, ShortestRoundTripInKenlmLayout) {
  EXPECT_EQ(format_arpa_float(0.0f), "0");
  EXPECT_EQ(format_arpa_float(-0.0f), "-0");
  EXPECT_EQ(format_arpa_float(-0.30103f), "-0.30103");
  EXPECT_EQ(format_arpa_float(-1.0669467f), "-1.0669467");
  EXPECT_EQ(format_arpa_float(-99.0f), "-99");
  EXPECT_EQ(format_arpa_float(-100.0f), "-100");
  EXPECT_EQ(format_arpa_float(-1.5e-6f), "-0.0000015");  // decimal down to exponent -6
  EXPECT_EQ(format_arpa_float(-1.5e-7f), "-1.5e-7");     // then exponential, no zero padding
  EXPECT_EQ(format_arpa_float(1e21f), "1e21");
  EXPECT_EQ(format_arpa_float(123456790.0f), "123456790");
  EXPECT_EQ(format_arpa_float(-std::numeric_limits<float>::infinity()), "-inf");
  EXPECT_EQ(format_shortest_double(258.71565042138036), "258.71565042138036");
  EXPECT_EQ(format_shortest_double(0.1), "0.1");
  // Every float reads back to itself.
  for (float v : {-0.123456789f, -7.654321e-5f, -38.5f, 3.4028235e38f, -1.17549435e-38f}) {
    const std::string text = format_arpa_float(v);
    EXPECT_EQ(std::strtof(text.c_str(), nullptr), v) << text;
  }
}

TEST(Arpa, LmplzFilesRoundTrip) {
  for (const char* name :
       {"tiny.o3.fallback.arpa", "tm120.o2.arpa", "tm120.o3.arpa", "edge.o2.fallback.arpa"}) {
    SCOPED_TRACE(name);
    const std::string text = read_ngram_fixture(name);
    const ArpaModel model = parse_arpa(text, name);
    EXPECT_EQ(format_arpa(model), text);
  }
  const ArpaModel tiny = parse_arpa(read_ngram_fixture("tiny.o3.fallback.arpa"), "tiny");
  ASSERT_EQ(tiny.order(), 3);
  EXPECT_EQ(tiny.orders[0].count(), 6);
  EXPECT_EQ(tiny.orders[1].count(), 14);
  EXPECT_EQ(tiny.orders[2].count(), 14);
  EXPECT_EQ(tiny.vocab[1], "<s>");
  EXPECT_EQ(tiny.orders[0].log_prob[1], 0.0f);  // lmplz: p(<s>) = 1
  EXPECT_EQ(tiny.orders[0].log_backoff[1], -0.30103f);
}

TEST(Arpa, ReadsSrilmConventions) {
  const ArpaModel m = parse_arpa(read_ngram_fixture("srilm_style.arpa"), "srilm_style.arpa");
  ASSERT_EQ(m.order(), 3);
  EXPECT_EQ(m.vocab, (std::vector<std::string>{"<s>", "</s>", "a", "b", "<unk>"}));
  EXPECT_EQ(m.orders[0].log_prob[0], -99.0f);
  EXPECT_EQ(m.orders[0].log_backoff[1], 0.0f);  // no backoff column
  EXPECT_EQ(m.orders[1].log_backoff[1], -0.05f);
  // Comments, CRLF, spaces instead of tabs, a 1-gram-only model.
  const ArpaModel unigrams = parse_arpa(
      "# made by hand\r\n\\data\\\r\nngram 1=2\r\n\r\n\\1-grams:\r\n-0.3 a "
      "0\r\n-0.5\t</s>\r\n\r\n\\end\\\r\n",
      "u");
  ASSERT_EQ(unigrams.order(), 1);
  EXPECT_EQ(unigrams.orders[0].log_prob[0], -0.3f);
  EXPECT_TRUE(looks_like_arpa("\n# x\n\\data\\\n"));
  EXPECT_FALSE(looks_like_arpa("recur-ngram 1\n"));
}

TEST(Arpa, MalformedFilesNameFileAndLine) {
  const std::string header =
      "\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-0.5\ta\t-0.1\n-0.5\tb\t0\n\n\\2-grams:\n";
  struct Case {
    std::string text;
    std::vector<std::string> words;
  };
  const std::vector<Case> cases = {
      {"hello\n", {"m.arpa:1", "\\data\\"}},
      {"", {"m.arpa:0", "\\data\\"}},
      {"\\data\\\nngram 2=1\n", {"m.arpa:2", "consecutive"}},
      {"\\data\\\nngram 1=x\n", {"m.arpa:2", "ngram N=COUNT"}},
      {"\\data\\\nngram 1=1\n\n\\2-grams:\n", {"m.arpa:4", "\\1-grams:"}},
      {header + "-0.2\ta c\n\n\\end\\\n", {"m.arpa:10", "\"c\" is not among the unigrams"}},
      {header + "-0.2\ta\n\n\\end\\\n", {"m.arpa:10", "2 words"}},
      {header + "x\ta b\n\n\\end\\\n", {"m.arpa:10", "bad log10 probability"}},
      {header + "0.5\ta b\n\n\\end\\\n", {"m.arpa:10", "positive"}},
      {header + "-0.2\ta b\t-0.3\n\n\\end\\\n", {"m.arpa:10", "non-zero backoff"}},
      {header + "\n\\end\\\n", {"m.arpa:10", "announces 1 2-grams", "has 0"}},
      {header + "-0.2\ta b\n-0.2\tb a\n\\end\\\n", {"m.arpa:11", "more n-grams than"}},
      {header + "-0.2\ta b\n", {"end of file", "\\end\\"}},
      {header + "-0.2\ta b\n\n\\end\\\ntrailing\n", {"m.arpa:13", "after"}},
      {"\\data\\\nngram 1=1\n\n\\1-grams:\n-0.5\ta\tnan\n\n\\end\\\n", {"m.arpa:5", "bad backoff"}},
      {"\\data\\\nngram 1=2\n\n\\1-grams:\n-0.5\ta\n-0.5\ta\n\n\\end\\\n", {"m.arpa:6", "duplicate unigram"}},
      {"\x1f\x8b\x08", {"m.arpa:1", "gzip"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string message = test::message_of_error<IoError>([&] { (void)parse_arpa(c.text, "m.arpa"); });
    for (const std::string& word : c.words)
      EXPECT_NE(message.find(word), std::string::npos) << "'" << word << "' missing: " << message;
  }
}

TEST(Arpa, WritesBackoffColumnBelowTheTopOnly) {
  ArpaModel m;
  m.vocab = {"<unk>", "<s>", "</s>"};
  m.orders.resize(2);
  m.orders[0] = {
      .word_ids = {0, 1, 2}, .log_prob = {-1.5f, 0.0f, -0.25f}, .log_backoff = {0.0f, -0.5f, 0.0f}};
  m.orders[1] = {.word_ids = {1, 2}, .log_prob = {-0.125f}, .log_backoff = {0.0f}};
  EXPECT_EQ(format_arpa(m),
            "\\data\\\nngram 1=3\nngram 2=1\n\n\\1-grams:\n-1.5\t<unk>\t0\n0\t<s>\t-0.5\n-0.25\t</s>\t0\n\n"
            "\\2-grams:\n-0.125\t<s> </s>\n\n\\end\\\n");
}
