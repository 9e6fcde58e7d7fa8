// Scoring with an ARPA model as KenLM's query does: a backoff computation worked by hand, KenLM's
// own outputs on lmplz and SRILM-style models (committed fixtures), and distributions summing to one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "expect_error.h"
#include "ngram_fixtures.h"
#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/ngram/arpa.h"
#include "recur/ngram/backoff_model.h"
#include "recur/ngram/kneser_ney.h"

using namespace recur;
using recur::test::probability_mass_after;
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
  for (const auto& context : contexts)
    EXPECT_NEAR(probability_mass_after(m, context), 1.0, 1e-4) << context[0] << " " << context.back();
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
  // Every 32-bit word past the header, the table sizes and the first vocabulary offset set to
  // 0x0100ffff: the vocabulary offsets no longer add up, and the tables' last slots are not empty.
  std::string damaged = good;
  for (size_t at = 64 + 24 * 3 + 8; at + 4 <= damaged.size(); at += 4)
    std::memcpy(damaged.data() + at, "\xff\xff\x00\x01", 4);
  const auto path = dir / "damaged.rlm";
  write_file_atomically(path, damaged);
  test::expect_error_words<IoError>([&] { (void)BackoffModel::load_binary(path); },
                                    {"damaged.rlm", "not a usable"});
  test::expect_error_words<IoError>([&] { (void)BackoffModel::load_binary(dir / "missing.rlm"); },
                                    {"missing.rlm"});
}

// A file damaged anywhere either is refused or loads and scores text without reading outside the
// mapping (searches start inside a table and end at its last slot, which loading checks is
// empty); the address sanitizer build checks the second half.
TEST(BackoffModel, RandomlyDamagedBinaryFilesStayInBounds) {
  const auto dir = test::make_temp_dir("ngram_binary_random");
  const auto good_path = dir / "good.rlm";
  BackoffModel(parse_arpa(read_ngram_fixture("srilm_style.arpa"), "srilm")).save_binary(good_path);
  const std::string good = read_file(good_path);
  const std::string text = read_ngram_fixture("srilm_eval.txt") + "a b b a </s> <s> z\n";
  uint64_t state = 12345;
  const auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  int loaded = 0;
  for (int trial = 0; trial < 100; ++trial) {
    std::string bytes = good;
    const int changes = 1 + static_cast<int>(next() % 8);
    for (int c = 0; c < changes; ++c) bytes[next() % bytes.size()] = static_cast<char>(next());
    const auto path = dir / "damaged.rlm";
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));  // no fsync: fast
    try {
      const BackoffModel m = BackoffModel::load_binary(path);
      (void)query_text(m, text);
      ++loaded;
    } catch (const IoError&) {
    }
  }
  EXPECT_GT(loaded, 0);  // damage to probabilities and keys goes unnoticed, by design
}

// A model with n-grams whose suffixes are gone (entropy pruning keeps contexts, not suffixes):
// KenLM fills them with blanks, and so does recur; both forms score as KenLM's query does.
TEST(BackoffModel, PrunedSuffixesScoreAsKenlm) {
  const std::string arpa_text = read_ngram_fixture("tm120.o3.entropy.arpa");
  const BackoffModel from_arpa(parse_arpa(arpa_text, "tm120.o3.entropy.arpa"));
  const auto dir = test::make_temp_dir("ngram_binary_blanks");
  from_arpa.save_binary(dir / "m.rlm");
  const BackoffModel mapped = BackoffModel::load_binary(dir / "m.rlm");
  for (const BackoffModel* m : {&from_arpa, &mapped}) {
    std::vector<SentenceScore> lines;
    const QuerySummary s = query_text(*m, read_ngram_fixture("tm_heldout.txt"), &lines);
    EXPECT_EQ(format_query_summary(s), read_ngram_fixture("tm120.o3.entropy.tm_heldout.query_summary.txt"));
    EXPECT_EQ(sentence_lines(lines), read_ngram_fixture("tm120.o3.entropy.tm_heldout.query_sentence.txt"));
  }
}

// The probing search (blanks, its stops at misses and at n-grams no longer one ends with, the
// state's forgotten contexts) against its plain twin: the textbook backoff over a map of n-grams,
// p(w | h) = p(w | longest suffix s of h with s w in the model) times the backoffs of the longer
// suffixes of h that are n-grams; on random word sequences, for models with and without holes.
TEST(BackoffModel, ScoresAsTheTextbookBackoff) {
  for (const char* name :
       {"tm120.o3.arpa", "tm120.o3.entropy.arpa", "tm120.o3.prune012.arpa", "srilm_style.arpa"}) {
    SCOPED_TRACE(name);
    const ArpaModel arpa = parse_arpa(read_ngram_fixture(name), name);
    std::map<std::vector<uint32_t>, std::pair<double, double>> grams;  // ids -> log10 p, backoff
    for (int n = 1; n <= arpa.order(); ++n) {
      const ArpaOrder& o = arpa.orders[static_cast<size_t>(n - 1)];
      for (size_t i = 0; i < static_cast<size_t>(o.count()); ++i)
        grams[std::vector<uint32_t>(o.word_ids.begin() + static_cast<std::ptrdiff_t>(i * n),
                                    o.word_ids.begin() + static_cast<std::ptrdiff_t>((i + 1) * n))] = {
            o.log_prob[i], o.log_backoff[i]};
    }
    const auto textbook = [&](const std::vector<uint32_t>& h, uint32_t w) {
      double backoff = 0;
      for (size_t m = h.size() + 1; m-- > 0;) {
        std::vector<uint32_t> g(h.end() - static_cast<std::ptrdiff_t>(m), h.end());
        g.push_back(w);
        if (const auto it = grams.find(g); it != grams.end()) return it->second.first + backoff;
        g.pop_back();
        if (const auto it = grams.find(g); m > 0 && it != grams.end()) backoff += it->second.second;
      }
      return backoff;  // not reached: every word is a unigram
    };
    const BackoffModel m(arpa);
    const uint32_t bos = m.bos_id();
    uint64_t seed = 7;
    BackoffModel::State state = m.begin_sentence_state(), next;
    std::vector<uint32_t> history = {bos};
    for (int t = 0; t < 3000; ++t) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      // Mostly words that follow the history in the model, so that long n-grams are hit.
      uint32_t w = static_cast<uint32_t>((seed >> 33) % arpa.vocab.size());
      if ((seed >> 20) % 4 != 0) {
        std::vector<std::vector<uint32_t>> followers;
        for (const auto& [ids, values] : grams)
          if (ids.size() >= 2 && ids.size() - 1 <= history.size() &&
              std::equal(ids.begin(), ids.end() - 1,
                         history.end() - static_cast<std::ptrdiff_t>(ids.size() - 1)))
            followers.push_back(ids);
        if (!followers.empty()) w = followers[(seed >> 40) % followers.size()].back();
      }
      if (w == bos) continue;
      const float got = m.score(state, w, next).log_prob;
      ASSERT_NEAR(got, textbook(history, w), 2e-5) << "t = " << t;
      state = next;
      history.push_back(w);
      if (history.size() > static_cast<size_t>(arpa.order() - 1))
        history.erase(history.begin(), history.end() - (arpa.order() - 1));
    }
  }
}
