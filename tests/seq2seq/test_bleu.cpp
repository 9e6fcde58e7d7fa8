// BLEU: d2l's sentence score on the book's examples and hand cases, corpus BLEU worked out by hand,
// and both against Python (d2l's own bleu, a plain corpus BLEU and nltk's corpus_bleu) on random
// sentence pairs drawn from a fixed seed.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/core/rng.h"
#include "recur/seq2seq/bleu.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;
using Tokens = std::vector<std::string>;

namespace {

Tokens split(const std::string& text) {
  Tokens out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

double bleu(const std::string& prediction, const std::string& label, int k) {
  return d2l_bleu(split(prediction), split(label), k);
}

void expect_close(double actual, double expected, const std::string& what) {
  EXPECT_LE(std::abs(actual - expected), 1e-12 * std::max(1.0, std::abs(expected)))
      << what << ": " << actual << " vs " << expected;
}

// A reference that is a noisy copy of the hypothesis, over a small vocabulary, so that n-grams of
// every order match now and then.
std::pair<Tokens, Tokens> random_pair(Rng& rng, int min_length) {
  static const std::array<std::string, 8> kWords{"il", "est", "calme", ".", "je", "suis", "la", "!"};
  auto word = [&] { return kWords[rng.below(kWords.size())]; };
  Tokens hypothesis;
  const int length = min_length + static_cast<int>(rng.below(static_cast<uint64_t>(13 - min_length)));
  for (int i = 0; i < length; ++i) hypothesis.push_back(word());
  Tokens reference;
  for (const std::string& token : hypothesis) {
    const uint64_t edit = rng.below(10);
    if (edit == 0) continue;                          // deletion
    reference.push_back(edit == 1 ? word() : token);  // substitution or copy
    if (edit == 2) reference.push_back(word());       // insertion
  }
  if (reference.empty()) reference.push_back(word());
  return {hypothesis, reference};
}

nlohmann::json run_reference(const nlohmann::json& jobs) {
  const fs::path input = test::make_temp_dir("bleu") / "jobs.json";
  std::ofstream(input) << jobs.dump();
  const std::string command = "/usr/bin/python3 '" + std::string(RECUR_SOURCE_DIR) +
                              "/scripts/d2l_mt_reference.py' bleu < '" + input.string() + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  EXPECT_EQ(::pclose(pipe), 0) << command;
  return nlohmann::json::parse(out);
}

void expect_same_corpus_bleu(const CorpusBleu& ours, const nlohmann::json& theirs, const std::string& what) {
  expect_close(ours.score, theirs["score"].get<double>(), what + " score");
  expect_close(ours.brevity_penalty, theirs["brevity_penalty"].get<double>(), what + " brevity penalty");
  EXPECT_EQ(ours.matches, theirs["matches"].get<std::vector<int64_t>>()) << what;
  EXPECT_EQ(ours.totals, theirs["totals"].get<std::vector<int64_t>>()) << what;
  EXPECT_EQ(ours.hypothesis_length, theirs["hypothesis_length"].get<int64_t>()) << what;
  EXPECT_EQ(ours.reference_length, theirs["reference_length"].get<int64_t>()) << what;
  for (size_t i = 0; i < ours.precisions.size(); ++i)
    expect_close(ours.precisions[i], theirs["precisions"][i].get<double>(),
                 what + " p" + std::to_string(i + 1));
}

}  // namespace

TEST(Bleu, D2lBookExamples) {
  // d2l 10.7's translations, scored with k = 2 as the book does.
  EXPECT_EQ(bleu("va !", "va !", 2), 1.0);
  EXPECT_EQ(bleu("j'ai perdu .", "j'ai perdu .", 2), 1.0);
  EXPECT_EQ(bleu("je suis chez moi .", "je suis chez moi .", 2), 1.0);
  // il est mouillé . vs il est calme .: p1 = 3/4, p2 = 1/3 -> (3/4)^(1/2) (1/3)^(1/4) = 0.658
  expect_close(bleu("il est mouillé .", "il est calme .", 2), std::sqrt(0.75) * std::pow(1.0 / 3.0, 0.25),
               "il est calme");
  EXPECT_NEAR(bleu("il est mouillé .", "il est calme .", 2), 0.658, 5e-4);
}

TEST(Bleu, D2lHandCases) {
  // Clipping: the label has one "a", so only one of the three predicted counts; no bigram matches.
  expect_close(bleu("a a a", "a b", 1), std::sqrt(1.0 / 3.0), "clipped");
  EXPECT_EQ(bleu("a a a", "a b", 2), 0.0);
  // Short prediction: exp(1 - 4/2), every n-gram matching.
  expect_close(bleu("a b", "a b c d", 4), std::exp(-1.0), "short");
  // A longer prediction has no penalty; k stops at len_pred.
  EXPECT_EQ(bleu("a b c", "a b", 4), 0.0);  // a two-token label has no trigram
  expect_close(bleu("a b c", "a b", 2), std::sqrt(2.0 / 3.0) * std::pow(1.0 / 2.0, 0.25), "long k=2");
  EXPECT_EQ(d2l_bleu(Tokens{}, split("a b"), 2), 0.0);  // d2l divides by zero; we define 0
  EXPECT_EQ(d2l_bleu(split("a"), Tokens{}, 2), 0.0);
  const std::vector<std::string_view> views{"va", "!"};
  EXPECT_EQ(d2l_bleu(views, views, 2), 1.0);
  test::expect_error_words<ValueError>([] { (void)bleu("a", "a", 0); }, {"k must be >= 1", "got 0"});
}

TEST(Bleu, CorpusBleuByHand) {
  // the cat sat on the mat / the cat is on the mat: 5/6, 3/5, 1/4, 0/3
  // a b c d e / a b c d:                           4/5, 3/4, 2/3, 1/2
  CorpusBleuCounter counter;
  counter.add(split("the cat sat on the mat"), split("the cat is on the mat"));
  const CorpusBleu first = counter.result();
  EXPECT_EQ(first.matches, (std::vector<int64_t>{5, 3, 1, 0}));
  EXPECT_EQ(first.totals, (std::vector<int64_t>{6, 5, 4, 3}));
  EXPECT_EQ(first.score, 0.0);  // no 4-gram matches
  EXPECT_EQ(first.brevity_penalty, 1.0);
  expect_close(counter.result(3).score, std::cbrt(5.0 / 6.0 * 3.0 / 5.0 * 1.0 / 4.0), "BLEU-3");

  counter.add(split("a b c d e"), split("a b c d"));
  const CorpusBleu both = counter.result();
  EXPECT_EQ(both.matches, (std::vector<int64_t>{9, 6, 3, 1}));
  EXPECT_EQ(both.totals, (std::vector<int64_t>{11, 9, 7, 5}));
  EXPECT_EQ(both.hypothesis_length, 11);
  EXPECT_EQ(both.reference_length, 10);
  EXPECT_EQ(both.brevity_penalty, 1.0);  // c > r
  expect_close(both.score, std::pow(9.0 / 11.0 * 6.0 / 9.0 * 3.0 / 7.0 * 1.0 / 5.0, 0.25), "two sentences");
  expect_close(both.precisions[1], 6.0 / 9.0, "p2");
  EXPECT_EQ(counter.num_sentences(), 2);

  // Brevity: c = 4 < r = 6.
  CorpusBleuCounter short_counter;
  short_counter.add(split("a b c d"), split("a b c d e f"));
  const CorpusBleu short_result = short_counter.result();
  expect_close(short_result.brevity_penalty, std::exp(1.0 - 6.0 / 4.0), "brevity penalty");
  expect_close(short_result.score, std::exp(-0.5), "short score");

  // Nothing added, hypotheses shorter than n, bad orders.
  EXPECT_EQ(CorpusBleuCounter().result().score, 0.0);
  CorpusBleuCounter tiny;
  tiny.add(split("a b"), split("a b"));
  EXPECT_EQ(tiny.result().totals, (std::vector<int64_t>{2, 1, 0, 0}));
  EXPECT_EQ(tiny.result().score, 0.0);
  EXPECT_EQ(tiny.result(2).score, 1.0);
  test::expect_error_words<ValueError>([] { (void)CorpusBleuCounter(0); }, {"max_order must be >= 1"});
  test::expect_error_words<ValueError>([&] { (void)tiny.result(5); }, {"max_n must be in [1, 4]", "got 5"});
  const std::vector<Tokens> one{split("a")};
  test::expect_error_words<ValueError>([&] { (void)corpus_bleu(one, {}); },
                                       {"1 hypotheses but 0 references"});
}

TEST(Bleu, StreamingEqualsWholeListsAndViews) {
  Rng rng(17);
  std::vector<Tokens> hypotheses, references;
  CorpusBleuCounter counter;
  for (int i = 0; i < 50; ++i) {
    auto [h, r] = random_pair(rng, 1);
    const std::vector<std::string_view> hv(h.begin(), h.end()), rv(r.begin(), r.end());
    counter.add(hv, rv);
    hypotheses.push_back(std::move(h));
    references.push_back(std::move(r));
  }
  const CorpusBleu whole = corpus_bleu(hypotheses, references);
  const CorpusBleu streamed = counter.result();
  EXPECT_EQ(whole.matches, streamed.matches);
  EXPECT_EQ(whole.totals, streamed.totals);
  EXPECT_EQ(whole.score, streamed.score);
  EXPECT_GT(whole.score, 0.0);
}

TEST(Bleu, AgreesWithPythonOnRandomPairs) {
  if (!fs::exists("/usr/bin/python3"))
    GTEST_SKIP() << "/usr/bin/python3 is missing: BLEU not compared with Python";
  Rng rng(2002);
  nlohmann::json jobs = {{"d2l", nlohmann::json::array()}, {"corpora", nlohmann::json::array()}};
  std::vector<std::pair<Tokens, Tokens>> pairs;
  std::vector<int> ks;
  for (int i = 0; i < 200; ++i) {
    pairs.push_back(random_pair(rng, 1));
    ks.push_back(1 + static_cast<int>(rng.below(4)));
    jobs["d2l"].push_back(nlohmann::json::array({pairs.back().first, pairs.back().second, ks.back()}));
  }
  // Corpus 0: every pair. Corpus 1: hypotheses of at least 4 tokens, where nltk's max(1, n-grams)
  // totals equal the true n-gram counts.
  CorpusBleuCounter all, long_only;
  nlohmann::json corpus_all = nlohmann::json::array(), corpus_long = nlohmann::json::array();
  for (const auto& [h, r] : pairs) {
    all.add(h, r);
    corpus_all.push_back(nlohmann::json::array({h, r}));
    if (h.size() >= 4) {
      long_only.add(h, r);
      corpus_long.push_back(nlohmann::json::array({h, r}));
    }
  }
  jobs["corpora"].push_back(corpus_all);
  jobs["corpora"].push_back(corpus_long);
  const nlohmann::json out = run_reference(jobs);

  for (size_t i = 0; i < pairs.size(); ++i)
    expect_close(d2l_bleu(pairs[i].first, pairs[i].second, ks[i]), out["d2l"][i].get<double>(),
                 "d2l_bleu of pair " + std::to_string(i) + " k " + std::to_string(ks[i]));

  const CorpusBleu ours_all = all.result();
  const CorpusBleu ours_long = long_only.result();
  EXPECT_GT(ours_all.score, 0.05);
  EXPECT_GT(long_only.num_sentences(), 100);
  expect_same_corpus_bleu(ours_all, out["corpora"][0]["own"], "all pairs");
  expect_same_corpus_bleu(ours_long, out["corpora"][1]["own"], "long pairs");
  if (out["corpora"][1]["nltk"].is_null()) {
    GTEST_SKIP() << "python3-nltk is not installed: corpus BLEU compared with the script's own only";
  }
  expect_close(ours_long.score, out["corpora"][1]["nltk"].get<double>(), "nltk corpus_bleu");
}
