// `recur translate train|run|eval` as a user runs them, on a toy task (reversing 3-5 words of 8)
// with a tiny model: what each prints, standard input and files, beam search, the attention heat
// map, and bad inputs named in a message with exit code 1 (bad data) or 2 (bad command line).
// Interruption and exact resume are tested at library level (test_seq2seq_trainer.cpp).
#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "recur/io/atomic_file.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {

constexpr const char* kWords[] = {"a", "b", "c", "d", "e", "f", "g", "h"};

// `count` lines "w1 w2 w3<TAB>w3 w2 w1" of 3 to 5 words.
fs::path write_reverse_pairs(const fs::path& path, int count, uint32_t seed = 1) {
  std::mt19937 gen(seed);
  std::ofstream out(path);
  for (int i = 0; i < count; ++i) {
    const int length = 3 + static_cast<int>(gen() % 3);
    std::vector<std::string> words;
    for (int k = 0; k < length; ++k) words.emplace_back(kWords[gen() % 8]);
    for (int k = 0; k < length; ++k) out << (k ? " " : "") << words[static_cast<size_t>(k)];
    out << '\t';
    for (int k = length - 1; k >= 0; --k) out << words[static_cast<size_t>(k)] << (k ? " " : "");
    out << '\n';
  }
  return path;
}

fs::path write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

// A tiny model: GRU 1 x 16, embedding 8, batch 16, 6 steps, 20 validation pairs, one thread.
std::string train_args(const fs::path& data, const fs::path& out) {
  return "translate train --data " + test::shell_quoted(data) + " --out " + test::shell_quoted(out) +
         " --valid-pairs 20 --min-freq 1 --layers 1 --hidden 16 --embed 8 --dropout 0 --batch 16 --steps 6"
         " --lr 0.02 --threads 1";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The number after `label` in `output` (NaN when the label is missing).
double number_after(const std::string& output, const std::string& label) {
  const size_t at = output.find(label);
  if (at == std::string::npos) return std::numeric_limits<double>::quiet_NaN();
  return std::stod(output.substr(at + label.size()));
}

void expect_failure(const std::string& args, int exit_code, const std::vector<std::string>& words) {
  const auto r = test::run_cli(args);
  EXPECT_EQ(r.exit_code, exit_code) << args << "\n" << r.output;
  for (const auto& w : words)
    EXPECT_NE(r.output.find(w), std::string::npos) << w << "\n" << args << "\n" << r.output;
}

// One trained model per test binary (training is the slow part): a plain GRU and one with attention.
class TranslateCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(test::make_temp_dir("translate-cli"));
    data_ = new fs::path(write_reverse_pairs(*dir_ / "pairs.tsv", 200));
    plain_ = new test::CliResult(test::run_cli(train_args(*data_, *dir_ / "plain") + " --epochs 3"));
    attention_ = new test::CliResult(test::run_cli(train_args(*data_, *dir_ / "attention") +
                                                   " --epochs 2 --attention bahdanau --bucket-pool 50"));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete data_;
    delete plain_;
    delete attention_;
  }
  static fs::path* dir_;
  static fs::path* data_;
  static test::CliResult* plain_;
  static test::CliResult* attention_;
};
fs::path* TranslateCli::dir_ = nullptr;
fs::path* TranslateCli::data_ = nullptr;
test::CliResult* TranslateCli::plain_ = nullptr;
test::CliResult* TranslateCli::attention_ = nullptr;

}  // namespace

TEST_F(TranslateCli, TrainPrintsDataModelEpochsAndValidationBleu) {
  ASSERT_EQ(plain_->exit_code, 0) << plain_->output;
  const std::string& out = plain_->output;
  EXPECT_NE(out.find("data: " + data_->string() +
                     " (200 pairs: 180 train, 20 valid; vocabularies 12 source, 12 target)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("model: gru x1 hidden 16 embedding 8, attention none ("), std::string::npos) << out;
  EXPECT_NE(out.find("batch 16, steps 6, adam lr 0.02, clip 1"), std::string::npos) << out;
  for (const char* epoch : {"epoch   1  step     12  train ppl", "epoch   2  step     24  train ppl",
                            "epoch   3  step     36  train ppl"})
    EXPECT_NE(out.find(epoch), std::string::npos) << epoch << "\n" << out;
  EXPECT_EQ(out.find("epoch   4 "), std::string::npos) << out;
  EXPECT_NE(out.find("validation (last model): 20 sentences, greedy search"), std::string::npos) << out;
  const double bleu = number_after(out, "BLEU-4 = ");
  EXPECT_GE(bleu, 0.0) << out;
  EXPECT_LE(bleu, 100.0) << out;
  EXPECT_NE(out.find("d2l BLEU (k = 2, mean over sentences) = "), std::string::npos) << out;
  EXPECT_NE(out.find("model saved in " + (*dir_ / "plain" / "checkpoint").string()), std::string::npos)
      << out;
  for (const char* file :
       {"run.json", "checkpoint/config.json", "best/model.safetensors", "metrics.csv", "perplexity.svg"})
    EXPECT_TRUE(fs::exists(*dir_ / "plain" / file)) << file;
  // Not fra-eng and no --show: no sample translations.
  EXPECT_EQ(out.find(" => "), std::string::npos) << out;
  ASSERT_EQ(attention_->exit_code, 0) << attention_->output;
  EXPECT_NE(attention_->output.find("attention bahdanau"), std::string::npos) << attention_->output;
  // The batching is kept with the run (a resumed run plans its epochs the same way).
  EXPECT_NE(read_file(*dir_ / "plain" / "run.json").find("\"bucket_pool\": 1,"), std::string::npos);
  EXPECT_NE(read_file(*dir_ / "attention" / "run.json").find("\"bucket_pool\": 50"), std::string::npos);
}

TEST_F(TranslateCli, ShowTranslatesTheGivenSentencesAfterTraining) {
  const auto r =
      test::run_cli(train_args(*data_, *dir_ / "show") + " --epochs 1 --show 'a b c' --show 'h g f e d'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("a b c => "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("h g f e d => "), std::string::npos) << r.output;
}

TEST_F(TranslateCli, RunTranslatesEachLineOfStandardInputOrAFile) {
  ASSERT_EQ(plain_->exit_code, 0) << plain_->output;
  const fs::path input = write_text(*dir_ / "input.txt", "a b c\n\nd e f g\nH A B.\n   \n");
  const std::string model = " --model " + test::shell_quoted(*dir_ / "plain") + " --threads 1";
  const auto piped = test::run_cli("translate run" + model + " < " + test::shell_quoted(input));
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  const auto lines = lines_of(piped.output);
  ASSERT_EQ(lines.size(), 5u) << piped.output;
  EXPECT_FALSE(lines[0].empty()) << piped.output;
  EXPECT_EQ(lines[1], "");  // an empty line gives an empty answer
  EXPECT_FALSE(lines[2].empty()) << piped.output;
  EXPECT_EQ(lines[4], "");  // so does a line of spaces
  for (const auto& line : lines) EXPECT_EQ(line.find("<eos>"), std::string::npos) << line;
  // Read from a file in batches: the same answers (greedy search does not depend on the company).
  const auto from_file =
      test::run_cli("translate run" + model + " --input " + test::shell_quoted(input) + " --batch 2");
  ASSERT_EQ(from_file.exit_code, 0) << from_file.output;
  EXPECT_EQ(from_file.output, piped.output);
  // The run folder and its best/ model folder give the same model.
  const auto best = test::run_cli("translate run --model " + test::shell_quoted(*dir_ / "plain" / "best") +
                                  " < " + test::shell_quoted(input));
  EXPECT_EQ(best.output, piped.output);
  // Beam search: one line per input line too.
  const auto beam =
      test::run_cli("translate run" + model + " --beam 3 --alpha 0.5 < " + test::shell_quoted(input));
  ASSERT_EQ(beam.exit_code, 0) << beam.output;
  const auto beam_lines = lines_of(beam.output);
  ASSERT_EQ(beam_lines.size(), 5u) << beam.output;
  EXPECT_EQ(beam_lines[1], "");
  // --max-steps 1: at most one word each.
  const auto short_answers =
      test::run_cli("translate run" + model + " --max-steps 1 < " + test::shell_quoted(input));
  ASSERT_EQ(short_answers.exit_code, 0) << short_answers.output;
  for (const auto& line : lines_of(short_answers.output))
    EXPECT_EQ(line.find(' '), std::string::npos) << line;
  // Nothing in, nothing out.
  const auto empty = test::run_cli("translate run" + model + " < /dev/null");
  EXPECT_EQ(empty.exit_code, 0) << empty.output;
  EXPECT_EQ(empty.output, "");
}

TEST_F(TranslateCli, AttentionSvgOnlyForAttentionModels) {
  ASSERT_EQ(attention_->exit_code, 0) << attention_->output;
  const fs::path input = write_text(*dir_ / "svg-input.txt", "\na b c d\ne f g\n");
  const fs::path svg = *dir_ / "weights.svg";
  const auto r =
      test::run_cli("translate run --model " + test::shell_quoted(*dir_ / "attention") + " --attention-svg " +
                    test::shell_quoted(svg) + " --input " + test::shell_quoted(input));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The heat map is of the first sentence that has words: "a b c d" is 5 source tokens with <eos>.
  EXPECT_NE(r.output.find("attention weights of \"a b c d\" written to " + svg.string()), std::string::npos)
      << r.output;
  ASSERT_TRUE(fs::exists(svg));
  const std::string map = read_file(svg);
  EXPECT_EQ(map.rfind("<svg", 0), 0u) << map.substr(0, 100);
  const size_t cells = count_of(map, "<rect class=\"cell\"");
  EXPECT_GT(cells, 0u) << map;
  EXPECT_EQ(cells % 5, 0u) << cells << " cells for 5 source tokens";
  EXPECT_NE(map.find(">&lt;eos&gt;<"), std::string::npos) << "the <eos> column label, escaped";
  expect_failure("translate run --model " + test::shell_quoted(*dir_ / "plain") + " --attention-svg " +
                     test::shell_quoted(*dir_ / "no.svg") + " --input " + test::shell_quoted(input),
                 1, {"--attention-svg", "--attention bahdanau"});
  EXPECT_FALSE(fs::exists(*dir_ / "no.svg"));
}

TEST_F(TranslateCli, EvalPrintsCorpusBleuAndItsParts) {
  ASSERT_EQ(plain_->exit_code, 0) << plain_->output;
  const fs::path test_pairs = write_reverse_pairs(*dir_ / "test.tsv", 30, 9);
  for (const std::string beam : {"", " --beam 2"}) {
    const auto r = test::run_cli("translate eval --model " + test::shell_quoted(*dir_ / "plain") +
                                 " --test " + test::shell_quoted(test_pairs) + " --threads 1" + beam);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(test_pairs.string() + ": 30 sentences, " +
                            (beam.empty() ? "greedy search" : "beam 2 search (alpha 0.75)")),
              std::string::npos)
        << r.output;
    const double bleu = number_after(r.output, "BLEU-4 = ");
    EXPECT_GE(bleu, 0.0) << r.output;
    EXPECT_LE(bleu, 100.0) << r.output;
    EXPECT_NE(r.output.find("precisions (1-4 grams): "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("brevity penalty"), std::string::npos) << r.output;
    const double d2l = number_after(r.output, "d2l BLEU (k = 2, mean over sentences) = ");
    EXPECT_GE(d2l, 0.0) << r.output;
    EXPECT_LE(d2l, 1.0) << r.output;
    EXPECT_GT(number_after(r.output, "sentences/s = "), 0.0) << r.output;
  }
  const fs::path no_tab = write_text(*dir_ / "eval_no_tab.tsv", "a b\tb a\nc d e f\n");
  expect_failure("translate eval --model " + test::shell_quoted(*dir_ / "plain") + " --test " +
                     test::shell_quoted(no_tab),
                 1, {no_tab.string() + ":2", "no tab"});
  // --max-pairs reads the first pairs only.
  const auto some = test::run_cli("translate eval --model " + test::shell_quoted(*dir_ / "plain") +
                                  " --test " + test::shell_quoted(test_pairs) + " --max-pairs 4");
  EXPECT_NE(some.output.find(": 4 sentences"), std::string::npos) << some.output;
  // Greedy search is deterministic: a second run gives the same figures.
  const auto again = test::run_cli("translate eval --model " + test::shell_quoted(*dir_ / "plain") +
                                   " --test " + test::shell_quoted(test_pairs) + " --max-pairs 4");
  EXPECT_EQ(lines_of(some.output).at(1), lines_of(again.output).at(1));
}

TEST_F(TranslateCli, ASecondRunIntoTheSameFolderIsRefusedUnlessForced) {
  ASSERT_EQ(plain_->exit_code, 0) << plain_->output;
  const fs::path out = *dir_ / "twice";
  ASSERT_EQ(test::run_cli(train_args(*data_, out) + " --epochs 1").exit_code, 0);
  const std::string settings = read_file(out / "run.json");
  const std::string weights = read_file(out / "checkpoint" / "model.safetensors");
  expect_failure(train_args(*data_, out) + " --epochs 1 --seed 7", 1,
                 {"already holds a run", "--resume " + out.string(), "--force"});
  EXPECT_EQ(read_file(out / "run.json"), settings);
  EXPECT_EQ(read_file(out / "checkpoint" / "model.safetensors"), weights);
  const auto forced = test::run_cli(train_args(*data_, out) + " --epochs 1 --seed 7 --force");
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_NE(forced.output.find("replaced the earlier run"), std::string::npos) << forced.output;
  EXPECT_NE(read_file(out / "run.json"), settings);
}

// Fails while Seq2SeqTrainer::resume compares the vocabularies with Vocab's operator==, counts
// included (see test_seq2seq_trainer.cpp, TranslationRun.ResumesAnInterruptedRunFromItsFolderAlone).
TEST_F(TranslateCli, ResumeContinuesARunFromItsFolder) {
  const fs::path out = *dir_ / "resume";
  ASSERT_EQ(test::run_cli(train_args(*data_, out) + " --epochs 1").exit_code, 0);
  // --resume continues it from run.json alone: one more epoch.
  const auto resumed =
      test::run_cli("translate train --resume " + test::shell_quoted(out) + " --epochs 2 --threads 1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from " + (out / "checkpoint").string()), std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("epoch   2  step     24"), std::string::npos) << resumed.output;
  EXPECT_EQ(resumed.output.find("epoch   1  step"), std::string::npos) << resumed.output;
}

TEST(TranslateCliErrors, BadInputsAreNamedWithExitCodes) {
  const auto dir = test::make_temp_dir("translate-cli-bad");
  const fs::path data = write_reverse_pairs(dir / "pairs.tsv", 40);
  const fs::path no_tab = write_text(dir / "no_tab.tsv", "a b\tb a\n\nc d e f\n");
  expect_failure(train_args(no_tab, dir / "o") + " --epochs 1", 1,
                 {no_tab.string() + ":3", "no tab (expected source<TAB>target)"});
  const fs::path empty_side = write_text(dir / "empty_side.tsv", "a b\tb a\nc d\t  \n");
  expect_failure(train_args(empty_side, dir / "o") + " --epochs 1", 1, {"empty_side.tsv:2", "empty target"});
  expect_failure(train_args(dir / "missing.tsv", dir / "o"), 1, {"missing.tsv"});
  expect_failure("translate run --model " + test::shell_quoted(dir / "nowhere") + " < /dev/null", 1,
                 {(dir / "nowhere").string(), "no model"});
  expect_failure(
      "translate eval --model " + test::shell_quoted(dir / "nowhere") + " --test " + test::shell_quoted(data),
      1, {"nowhere"});
  fs::create_directories(dir / "empty-run");
  expect_failure("translate train --resume " + test::shell_quoted(dir / "empty-run"), 1,
                 {"cannot resume", (dir / "empty-run" / "run.json").string(), "missing"});
  // Command-line errors: exit code 2.
  expect_failure(train_args(data, dir / "o") + " --attention luong", 2, {"--attention", "luong"});
  expect_failure(train_args(data, dir / "o") + " --long wrap", 2, {"--long"});
  expect_failure(train_args(data, dir / "o") + " --bucket-pool 0", 2, {"--bucket-pool"});
  expect_failure("translate run --beam 0", 2, {"--beam"});
  expect_failure("translate eval --model " + test::shell_quoted(dir / "o"), 2, {"--test"});
  expect_failure("translate", 2, {});
  // Bad values the library checks name the flag.
  const std::string train =
      "translate train --data " + test::shell_quoted(data) + " --out " + test::shell_quoted(dir / "o");
  expect_failure(train + " --hidden 0", 1, {"--hidden must be in [1, 2^24], got 0"});
  expect_failure(train + " --dropout 1", 1, {"--dropout must be in [0, 1)"});
  expect_failure(train + " --valid-fraction 0.5 --valid-pairs 40", 1,
                 {"no training pairs", "40 for validation"});
  expect_failure(train + " --steps 2 --long drop", 1, {"steps 2"});
}

// A model too large for the machine is refused before anything is allocated, naming the flag, as
// `recur train` does (check_training_fits). Fails while `translate train` has no such check: the
// allocation itself fails and the tool prints its out-of-memory backstop, which names no flag (and
// a size that fits in virtual memory but not in RAM is not refused at all).
TEST(TranslateCliErrors, OversizedModelsNameTheFlag) {
  const auto dir = test::make_temp_dir("translate-cli-big");
  const fs::path data = write_reverse_pairs(dir / "pairs.tsv", 40);
  const std::string train =
      "translate train --data " + test::shell_quoted(data) + " --out " + test::shell_quoted(dir / "o");
  expect_failure(train + " --hidden 10000000", 1, {"--hidden", "needs about", "memory"});
}
