// `recur ngram train --smoothing kn` and `recur ngram eval` on ARPA models as a user runs them:
// lmplz's file from the same text, KenLM query's summary, and the mistakes that exit non-zero.
#include <gtest/gtest.h>

#include <filesystem>

#include "ngram_fixtures.h"
#include "recur/io/atomic_file.h"
#include "test_support.h"

using recur::test::ngram_fixture;
using recur::test::read_ngram_fixture;
using recur::test::run_cli;
using recur::test::shell_quoted;

namespace {
void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "missing '" << part << "' in:\n" << text;
}
}  // namespace

TEST(ArpaCli, TrainsLmplzsArpaAndScoresAsQuery) {
  const auto dir = recur::test::make_temp_dir("ngram_kn");
  const auto arpa = dir / "tm120.o3.arpa";
  const auto train = run_cli("ngram train " + shell_quoted(ngram_fixture("tm120.txt")) +
                             " --smoothing kn --order 3 -o " + shell_quoted(arpa));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  expect_contains(train.output, "3-grams: ");
  EXPECT_EQ(recur::read_file(arpa), read_ngram_fixture("tm120.o3.arpa"));

  const auto eval =
      run_cli("ngram eval " + shell_quoted(arpa) + " " + shell_quoted(ngram_fixture("tm_heldout.txt")));
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_EQ(eval.output, read_ngram_fixture("tm120.o3.tm_heldout.query_summary.txt"));

  const auto binary = dir / "tm120.o3.rlm";
  const auto build = run_cli("ngram build-binary " + shell_quoted(arpa) + " " + shell_quoted(binary));
  ASSERT_EQ(build.exit_code, 0) << build.output;
  const auto mapped =
      run_cli("ngram eval " + shell_quoted(binary) + " " + shell_quoted(ngram_fixture("tm_heldout.txt")));
  ASSERT_EQ(mapped.exit_code, 0) << mapped.output;
  EXPECT_EQ(mapped.output, read_ngram_fixture("tm120.o3.tm_heldout.query_summary.txt"));

  const auto lines = run_cli("ngram eval --per-line " + shell_quoted(ngram_fixture("srilm_style.arpa")) +
                             " " + shell_quoted(ngram_fixture("srilm_eval.txt")));
  ASSERT_EQ(lines.exit_code, 0) << lines.output;
  EXPECT_EQ(lines.output, read_ngram_fixture("srilm_style.srilm_eval.query_sentence.txt") +
                              read_ngram_fixture("srilm_style.srilm_eval.query_summary.txt"));
}

TEST(ArpaCli, KneserNeyMistakes) {
  const auto dir = recur::test::make_temp_dir("ngram_kn_bad");
  const std::string tiny = shell_quoted(ngram_fixture("tiny.txt"));
  struct Case {
    std::string args;
    int exit_code;
    std::vector<std::string> words;
  };
  const std::vector<Case> cases = {
      {"ngram train " + tiny + " --smoothing kn -o " + shell_quoted(dir / "m.ngram"), 2, {"*.arpa"}},
      {"ngram train " + tiny + " --smoothing add-k --k 0.1 -o " + shell_quoted(dir / "m.arpa"),
       2,
       {"--smoothing kn"}},
      {"ngram train " + tiny + " --smoothing kn -o " + shell_quoted(dir / "m.arpa"),
       1,
       {"discount", "--discount-fallback"}},
      {"ngram train " + tiny + " --smoothing kn --order 0 --discount-fallback -o " +
           shell_quoted(dir / "m.arpa"),
       1,
       {"--order"}},
      {"ngram eval " + shell_quoted(ngram_fixture("tm_heldout.txt")) + " " + tiny, 1, {"tm_heldout.txt"}},
  };
  for (const Case& c : cases) {
    const auto r = run_cli(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.args << "\n" << r.output;
    for (const auto& w : c.words) expect_contains(r.output, w);
  }
  // A reserved word in the text names file:line.
  const auto text = dir / "symbols.txt";
  recur::write_file_atomically(text, "a b\nc <s> d\n");
  const auto r = run_cli("ngram train " + shell_quoted(text) + " --smoothing kn --discount-fallback -o " +
                         shell_quoted(dir / "s.arpa"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "symbols.txt:2");
  const auto skipped =
      run_cli("ngram train " + shell_quoted(text) + " --smoothing kn --discount-fallback --skip-symbols -o " +
              shell_quoted(dir / "s.arpa"));
  EXPECT_EQ(skipped.exit_code, 0) << skipped.output;
  // A malformed ARPA names file:line.
  const auto bad = dir / "bad.arpa";
  recur::write_file_atomically(bad, "\\data\\\nngram 1=1\n\n\\1-grams:\n-0.5\n\n\\end\\\n");
  const auto e = run_cli("ngram eval " + shell_quoted(bad) + " " + tiny);
  EXPECT_EQ(e.exit_code, 1) << e.output;
  expect_contains(e.output, "bad.arpa:5");
}

// --prune-entropy and --target-size: the pruned ARPA loads and scores; a target is met exactly.
TEST(ArpaCli, EntropyPruning) {
  const auto dir = recur::test::make_temp_dir("ngram_entropy");
  const std::string text = shell_quoted(ngram_fixture("tm120.txt"));
  const auto pruned = dir / "pruned.arpa";
  const auto by_threshold = run_cli(
      "ngram train " + text + " --smoothing kn --order 3 --prune-entropy 1e-4 -o " + shell_quoted(pruned));
  ASSERT_EQ(by_threshold.exit_code, 0) << by_threshold.output;
  expect_contains(by_threshold.output,
                  "entropy pruning: dropped 1581 n-grams (per order: 0 381 1200), kept 1246");
  EXPECT_EQ(recur::read_file(pruned), read_ngram_fixture("tm120.o3.entropy.arpa"));
  const auto eval =
      run_cli("ngram eval " + shell_quoted(pruned) + " " + shell_quoted(ngram_fixture("tm_heldout.txt")));
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_EQ(eval.output, read_ngram_fixture("tm120.o3.entropy.tm_heldout.query_summary.txt"));

  const auto by_size = run_cli("ngram train " + text + " --smoothing kn --order 3 --target-size 1000 -o " +
                               shell_quoted(pruned));
  ASSERT_EQ(by_size.exit_code, 0) << by_size.output;
  expect_contains(by_size.output, "kept 1000;");
  const auto both =
      run_cli("ngram train " + text + " --smoothing kn --prune-entropy 1e-4 --target-size 1000 -o " +
              shell_quoted(pruned));
  EXPECT_EQ(both.exit_code, 2) << both.output;
  const auto add_k = run_cli("ngram train " + text + " --smoothing add-k --prune-entropy 1e-4 -o " +
                             shell_quoted(dir / "m.ngram"));
  EXPECT_EQ(add_k.exit_code, 2) << add_k.output;
  expect_contains(add_k.output, "--smoothing kn");
}
