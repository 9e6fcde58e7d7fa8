// `recur stats` and `recur ngram` as a user runs them: the book's figures, a train/eval round trip,
// --help examples, and every bad input giving a non-zero exit and a message that names the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "recur/core/error.h"
#include "recur/text/text_file.h"
#include "test_support.h"

using recur::test::run_cli;
using recur::test::shell_quoted;

namespace {
std::string fixture(const std::string& name) {
  return shell_quoted(recur::test::test_data_dir() / "text" / name);
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "missing '" << part << "' in:\n" << text;
}

void expect_failure(const std::string& args, std::initializer_list<std::string> words) {
  const auto r = run_cli(args);
  EXPECT_NE(r.exit_code, 0) << args << "\n" << r.output;
  EXPECT_LT(r.exit_code, 128) << "crashed: " << args << "\n" << r.output;
  for (const auto& w : words) expect_contains(r.output, w);
}
}  // namespace

TEST(StatsCli, TimeMachineWordsMatchTheBook) {
  const auto dir = recur::test::make_temp_dir("stats");
  const auto svg = dir / "zipf.svg";
  const auto r =
      run_cli("stats timemachine --mode d2l --level word --top 10 --zipf-plot " + shell_quoted(svg));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "tokens: 32775\n");
  expect_contains(r.output, "vocabulary size: 4580");
  expect_contains(r.output, "2261  the\n");
  expect_contains(r.output, "309  of the\n");
  expect_contains(r.output, "59  the time traveller\n");
  expect_contains(r.output, "unigrams  alpha = 1.039");
  const std::string chart = recur::read_text_file(svg);
  expect_contains(chart, "<svg");
  expect_contains(chart, "trigram");
}

TEST(StatsCli, CharactersOfTheTimeMachine) {
  const auto r = run_cli("stats timemachine --mode d2l --level char --top 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "tokens: 173428\n");
  expect_contains(r.output, "vocabulary size: 28 ");
  expect_contains(r.output, "32775  \" \"\n");
}

TEST(StatsCli, MultibyteCharactersAreOneTokenEach) {
  const auto r = run_cli("stats " + fixture("hello_utf8.txt") + " --level char --top 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "tokens: 27\n");  // code points, not the 38 bytes
}

TEST(StatsCli, HelpHasAnExample) {
  for (const std::string cmd : {"stats --help", "ngram --help", "ngram train --help", "ngram eval --help"}) {
    const auto r = run_cli(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd;
    expect_contains(r.output, "Example:");
  }
}

TEST(StatsCli, BadInputsFailWithAClearMessage) {
  expect_failure("stats /no/such/file.txt",
                 {"/no/such/file.txt", "neither a readable file nor a known dataset"});
  expect_failure("stats " + fixture("empty.txt"), {"empty.txt", "is empty"});
  expect_failure("stats " + fixture("whitespace_only.txt"), {"whitespace_only.txt", "only whitespace"});
  expect_failure("stats " + fixture("binary.bin"), {"binary.bin", "binary file"});
  expect_failure("stats " + fixture("invalid_utf8.txt"),
                 {"invalid_utf8.txt", "not valid UTF-8", "byte offset 10"});
  expect_failure("stats timemachine --mode d2l --min-freq 100000",
                 {"min_freq 100000 leaves no token", "'the' occurs 2261 times"});
  expect_failure("stats " + fixture("no_letters.txt") + " --mode d2l", {"no_letters.txt", "no word tokens"});
  expect_failure("stats timemachine --level byte", {"--level"});
  expect_failure("stats timemachine --zipf-min-rank 0", {"min_rank must be >= 1, got 0"});
  const auto replaced = run_cli("stats " + fixture("invalid_utf8.txt") + " --replace-invalid");
  EXPECT_EQ(replaced.exit_code, 0) << replaced.output;
}

TEST(NgramCli, TrainEvalRoundTripByHand) {
  const auto dir = recur::test::make_temp_dir("ngram-cli");
  const std::string model = shell_quoted(dir / "m.ngram");
  const auto train =
      run_cli("ngram train " + fixture("two_sentences.txt") + " --order 2 --smoothing laplace -o " + model);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  expect_contains(train.output, "vocabulary: 6");
  const auto eval = run_cli("ngram eval " + model + " " + fixture("two_sentences.txt"));
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  // Each line has p = 3/7 * 2/7 * 2/6 = 2/49 over 3 predictions: perplexity (49/2)^(1/3) = 2.90436...
  expect_contains(eval.output, "predictions: 6");
  expect_contains(eval.output, "out-of-vocabulary tokens: 0");
  expect_contains(eval.output, "perplexity: 2.9044");
}

TEST(NgramCli, BadInputsFailWithAClearMessage) {
  const auto dir = recur::test::make_temp_dir("ngram-cli");
  const std::string model = shell_quoted(dir / "m.ngram");
  expect_failure("ngram train timemachine --order 0 -o " + model, {"order must be at least 1", "got 0"});
  expect_failure("ngram train timemachine --smoothing laplace --k 0.5 -o " + model, {"laplace", "k = 0.5"});
  expect_failure("ngram train timemachine --smoothing add-k --k -1 -o " + model,
                 {"k must be finite and > 0"});
  expect_failure("ngram train " + fixture("empty.txt") + " -o " + model, {"is empty"});
  expect_failure("ngram train " + fixture("whitespace_only.txt") + " -o " + model, {"only whitespace"});
  expect_failure("ngram train " + fixture("binary.bin") + " -o " + model, {"binary file"});
  expect_failure("ngram train timemachine --min-freq 1000000 -o " + model, {"leaves no token"});
  expect_failure("ngram train /no/such/file -o " + model, {"/no/such/file"});
  expect_failure("ngram train timemachine", {"--output"});
  // A file that is not a model, and a missing model.
  expect_failure("ngram eval " + fixture("two_sentences.txt") + " timemachine", {"not a recur n-gram model"});
  expect_failure("ngram eval " + model + " timemachine", {"m.ngram"});
  ASSERT_EQ(run_cli("ngram train " + fixture("two_sentences.txt") + " -o " + model).exit_code, 0);
  expect_failure("ngram eval " + model + " " + fixture("empty.txt"), {"is empty"});
  expect_failure("ngram eval " + model + " " + fixture("binary.bin"), {"binary file"});
}

// Issue #12: sizes from flags, files that are not regular files, CRLF model files, honest hints.
TEST(NgramCli, HardenedInputs) {
  const auto dir = recur::test::make_temp_dir("ngram-cli");
  const std::string model = shell_quoted(dir / "m.ngram");
  // order * bits wrapped in int and the counter crashed (exit 139).
  expect_failure("ngram train " + fixture("two_sentences.txt") + " --order 2147483647 -o " + model,
                 {"order must be at most 128", "got 2147483647"});
  expect_failure("ngram train " + shell_quoted(dir) + " -o " + model, {"is a directory"});
  std::filesystem::create_symlink("/dev/zero", dir / "zero.ngram");
  expect_failure("ngram eval " + shell_quoted(dir / "zero.ngram") + " " + fixture("two_sentences.txt"),
                 {"zero.ngram", "not a regular file"});
  ASSERT_EQ(run_cli("ngram train " + fixture("two_sentences.txt") + " --order 2 -o " + model).exit_code, 0);
  std::string crlf;
  for (char c : recur::read_text_file(dir / "m.ngram", {.allows_blank = true}))
    crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  std::ofstream(dir / "crlf.ngram", std::ios::binary) << crlf;
  const auto eval =
      run_cli("ngram eval " + shell_quoted(dir / "crlf.ngram") + " " + fixture("two_sentences.txt"));
  EXPECT_EQ(eval.exit_code, 0) << eval.output;
  expect_contains(eval.output, "perplexity:");
  // ngram and stats offer --replace-invalid, so their message says so.
  expect_failure("ngram train " + fixture("invalid_utf8.txt") + " -o " + model, {"use --replace-invalid"});
  expect_failure("stats " + fixture("invalid_utf8.txt"), {"use --replace-invalid"});
}

// The library's message has no hint of its own: a command without the flag must not suggest it.
TEST(TextFile, InvalidUtf8HintIsTheCallers) {
  try {
    (void)recur::check_text("ab\xFF", "x.txt");
    FAIL();
  } catch (const recur::IoError& e) {
    EXPECT_EQ(std::string(e.what()).find("replace"), std::string::npos) << e.what();
  }
}
