// Scoring with an ARPA model as KenLM's query does: a backoff computation worked by hand, KenLM's
// own outputs on lmplz and SRILM-style models (committed fixtures), and distributions summing to one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "expect_error.h"
#include "ngram_fixtures.h"
#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/ngram/arpa.h"
#include "recur/ngram/backoff_model.h"
#include "recur/ngram/kneser_ney.h"

using namespace recur;
using recur::test::read_ngram_fixture;

namespace {
// The hand-computed bigram model of test_kneser_ney.cpp ("a b\na c\n", D = 0.5, 1, 1.5).
BackoffModel hand_model() {
  return BackoffModel(estimate_kneser_ney(read_sentence_corpus("a b\na c\n", "hand"),
                                          {.order = 2, .has_discount_fallback = true})
                          .arpa);
}

std::string sentence_lines(const std::vector<SentenceScore>& lines) {
  std::string out;
  for (const SentenceScore& s : lines)
    out += "Total: " + format_arpa_float(s.log10_total) + " OOV: " + std::to_string(s.oovs) + "\n";
  return out;
}
}  // namespace

// "a c": p(a | <s>) = 0.6, p(c | a) = 0.35, p(</s> | c) = 0.65 (all bigrams in the model).
// "b a": no "<s> b", "b a", "a </s>": backoff(<s>) p(b) = 0.5 * 0.2, backoff(b) p(a) = 0.5 * 0.2,
// backoff(a) p(</s>) = 0.5 * 0.3. "z": an OOV scores backoff(<s>) p(<unk>) = 0.5 * 0.1.
TEST(BackoffModel, ScoresByHand) {
  const BackoffModel m = hand_model();
  std::vector<SentenceScore> lines;
  const QuerySummary s = query_text(m, "a c\nb a\nz\n", &lines);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NEAR(lines[0].log10_total, std::log10(0.6 * 0.35 * 0.65), 1e-6);
  EXPECT_NEAR(lines[1].log10_total, std::log10(0.1 * 0.1 * 0.15), 1e-6);
  const double oov = std::log10(0.05);
  EXPECT_NEAR(lines[2].log10_total, oov + std::log10(0.3), 1e-6);  // after <unk>: no context, p(</s>) = 0.3
  EXPECT_EQ(lines[2].oovs, 1u);
  EXPECT_EQ(s.tokens, 8u);  // 5 words and 3 </s>
  EXPECT_EQ(s.oovs, 1u);
  const double total = std::log10(0.6 * 0.35 * 0.65) + std::log10(0.1 * 0.1 * 0.15) + oov + std::log10(0.3);
  EXPECT_NEAR(s.perplexity_including_oovs, std::pow(10.0, -total / 8), 1e-4);
  EXPECT_NEAR(s.perplexity_excluding_oovs, std::pow(10.0, -(total - oov) / 7), 1e-4);
}

TEST(BackoffModel, MatchesKenlmQueryOutputs) {
  struct Case {
    const char* model;
    const char* text;
  };
  for (const Case& c : {Case{"tm120.o2", "tm_heldout"}, Case{"tm120.o3", "tm_heldout"},
                        Case{"edge.o2.fallback", "edge_eval"}, Case{"srilm_style", "srilm_eval"}}) {
    SCOPED_TRACE(c.model);
    const std::string arpa_name = std::string(c.model) + ".arpa";
    const BackoffModel m(parse_arpa(read_ngram_fixture(arpa_name), arpa_name));
    std::vector<SentenceScore> lines;
    const QuerySummary s = query_text(m, read_ngram_fixture(std::string(c.text) + ".txt"), &lines);
    const std::string stem = std::string(c.model) + "." + c.text;
    EXPECT_EQ(format_query_summary(s), read_ngram_fixture(stem + ".query_summary.txt"));
    EXPECT_EQ(sentence_lines(lines), read_ngram_fixture(stem + ".query_sentence.txt"));
  }
}

// Under the Kneser-Ney trigram of tm120.txt, p(. | context) sums to one over the vocabulary
// (less <s>, which is never predicted) for contexts seen, half-seen and unseen.
TEST(BackoffModel, DistributionsSumToOne) {
  const BackoffModel m(parse_arpa(read_ngram_fixture("tm120.o3.arpa"), "tm120.o3.arpa"));
  const std::vector<std::vector<std::string>> contexts = {{"<s>"},       {"the", "time"},  {"<s>", "the"},
                                                          {"of", "the"}, {"zebra", "the"}, {"time", "zebra"}};
  for (const auto& context : contexts) {
    BackoffModel::State state, next;
    state = context[0] == "<s>" ? m.begin_sentence_state() : BackoffModel::State{};
    for (size_t i = context[0] == "<s>" ? 1 : 0; i < context.size(); ++i) {
      (void)m.score(state, m.word_id(context[i]), next);
      state = next;
    }
    double sum = 0;
    for (uint32_t w = 0; w < m.vocab_size(); ++w) {
      if (w == m.bos_id()) continue;
      sum += std::pow(10.0, static_cast<double>(m.score(state, w, next).log_prob));
    }
    EXPECT_NEAR(sum, 1.0, 1e-4) << context[0] << " " << context.back();
  }
}

TEST(BackoffModel, MissingUnkGetsKenlmsDefault) {
  const BackoffModel m(
      parse_arpa("\\data\\\nngram 1=2\n\n\\1-grams:\n-0.5\t<s>\n-0.3\t</s>\n\n\\end\\\n", "m"));
  std::vector<SentenceScore> lines;
  (void)query_text(m, "zebra\n", &lines);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NEAR(lines[0].log10_total, -100.0 - 0.3, 1e-4);
  EXPECT_EQ(lines[0].oovs, 1u);
}

TEST(BackoffModel, DuplicateNgramIsAnError) {
  test::expect_error_words<IoError>(
      [] {
        (void)BackoffModel(parse_arpa(
            "\\data\\\nngram 1=2\nngram 2=2\n\n\\1-grams:\n-0.5\ta\t0\n-0.5\tb\t0\n\n\\2-grams:\n-0.1\ta "
            "b\n-0.2\ta b\n\n\\end\\\n",
            "m"));
      },
      {"2-gram", "\"a b\"", "twice"});
}

// The binary form: written, mapped back, and scoring exactly as KenLM's query on the same model.
TEST(BackoffModel, BinaryFormScoresTheSame) {
  const auto dir = test::make_temp_dir("ngram_binary");
  for (const char* stem : {"tm120.o3", "srilm_style"}) {
    SCOPED_TRACE(stem);
    const std::string arpa_name = std::string(stem) + ".arpa";
    const BackoffModel from_arpa(parse_arpa(read_ngram_fixture(arpa_name), arpa_name));
    const auto path = dir / (std::string(stem) + ".rlm");
    from_arpa.save_binary(path);
    const std::string bytes = read_file(path);
    EXPECT_TRUE(BackoffModel::is_binary(bytes));
    EXPECT_FALSE(BackoffModel::is_binary(read_ngram_fixture(arpa_name)));
    const BackoffModel mapped = BackoffModel::load_binary(path);
    EXPECT_EQ(mapped.order(), from_arpa.order());
    EXPECT_EQ(mapped.vocab_size(), from_arpa.vocab_size());
    EXPECT_EQ(mapped.word(mapped.bos_id()), "<s>");
    const std::string text = std::string(stem) == "srilm_style" ? "srilm_eval" : "tm_heldout";
    std::vector<SentenceScore> lines;
    const QuerySummary s = query_text(mapped, read_ngram_fixture(text + ".txt"), &lines);
    EXPECT_EQ(format_query_summary(s),
              read_ngram_fixture(std::string(stem) + "." + text + ".query_summary.txt"));
    EXPECT_EQ(sentence_lines(lines),
              read_ngram_fixture(std::string(stem) + "." + text + ".query_sentence.txt"));
  }
}

TEST(BackoffModel, DamagedBinaryFilesAreRefusedByName) {
  const auto dir = test::make_temp_dir("ngram_binary_bad");
  const auto good_path = dir / "good.rlm";
  BackoffModel(parse_arpa(read_ngram_fixture("tiny.o3.fallback.arpa"), "tiny")).save_binary(good_path);
  const std::string good = read_file(good_path);
  const auto expect_refused = [&](const std::string& bytes, const std::string& words) {
    const auto path = dir / "bad.rlm";
    write_file_atomically(path, bytes);
    test::expect_error_words<IoError>([&] { (void)BackoffModel::load_binary(path); }, {"bad.rlm", words});
  };
  expect_refused("", "magic");
  expect_refused("\\data\\\n", "magic");
  expect_refused(good.substr(0, good.size() - 8), "bytes, the header implies");
  std::string version = good;
  version[8] = 9;  // format version
  expect_refused(version, "format version 9");
  std::string order = good;
  order[16] = 40;  // order
  expect_refused(order, "order 40");
  // Every 32-bit word past the header, counts and vocabulary offsets set to 0x0100ffff: an id or
  // table entry outside its array, which the load-time pass finds.
  std::string damaged = good;
  // Overwrite every 32-bit word of the image past the vocabulary with an id too large: some check fires.
  for (size_t at = 64 + 8 * 3 + 8 * 7 + 16; at + 4 <= damaged.size(); at += 4)
    std::memcpy(damaged.data() + at, "\xff\xff\x00\x01", 4);
  const auto path = dir / "damaged.rlm";
  write_file_atomically(path, damaged);
  test::expect_error_words<IoError>([&] { (void)BackoffModel::load_binary(path); },
                                    {"damaged.rlm", "not a usable"});
  test::expect_error_words<IoError>([&] { (void)BackoffModel::load_binary(dir / "missing.rlm"); },
                                    {"missing.rlm"});
}
