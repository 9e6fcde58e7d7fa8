// N-gram language model: hand-computed Laplace and add-k probabilities, distributions that sum to
// one for every history, perplexity by hand, OOV handling, the model file and bad options.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/text/ngram_counts.h"
#include "recur/text/ngram_model.h"
#include "recur/text/text_file.h"
#include "test_support.h"

using namespace recur;

namespace {
// "a b\na c\n": vocabulary <unk>, <bos>, <eos>, a, b, c (b before c: first occurrence), V' = 5.
const std::string kTwoSentences = "a b\na c\n";
constexpr int32_t kA = 3, kB = 4, kC = 5;
constexpr int32_t kBos = NgramModel::kBosIndex, kEos = NgramModel::kEosIndex;

std::string message_of_value_error(const NgramOptions& options) {
  try {
    (void)NgramModel::train(kTwoSentences, options);
  } catch (const ValueError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ValueError";
  return {};
}

double sum_over_vocab(const NgramModel& m, std::span<const int32_t> history) {
  double sum = 0;
  for (int32_t w = 0; w < m.vocab().size(); ++w) sum += m.probability(history, w);
  return sum;
}
}  // namespace

TEST(NgramModel, BigramLaplaceByHand) {
  const NgramModel m = NgramModel::train(kTwoSentences, {.order = 2});
  ASSERT_EQ(m.vocab().size(), 6);
  EXPECT_EQ(m.vocab().token(kA), "a");
  EXPECT_EQ(m.vocab().token(kC), "c");
  EXPECT_EQ(m.num_predictable(), 5);
  // Bigrams: (<bos>,a) x2, (a,b), (b,<eos>), (a,c), (c,<eos>); histories c(<bos>) = c(a) = 2.
  EXPECT_EQ(m.ngram_count(std::vector<int32_t>{kBos, kA}), 2);
  EXPECT_EQ(m.history_count(std::vector<int32_t>{kA}), 2);
  EXPECT_EQ(m.history_count(std::vector<int32_t>{kEos}), 0);
  EXPECT_DOUBLE_EQ(m.probability(std::vector<int32_t>{kBos}, kA), 3.0 / 7.0);  // (2 + 1) / (2 + 5)
  EXPECT_DOUBLE_EQ(m.probability(std::vector<int32_t>{kA}, kB), 2.0 / 7.0);    // (1 + 1) / (2 + 5)
  EXPECT_DOUBLE_EQ(m.probability(std::vector<int32_t>{kB}, kEos), 2.0 / 6.0);  // (1 + 1) / (1 + 5)
  EXPECT_DOUBLE_EQ(m.probability(std::vector<int32_t>{kB}, kC), 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(m.probability(std::vector<int32_t>{kEos}, kA), 1.0 / 5.0);  // unseen history: uniform
  EXPECT_EQ(m.probability(std::vector<int32_t>{kA}, kBos), 0.0);               // never predicted
  // ln p("a b") = ln(3/7 * 2/7 * 1/3) = ln(2/49)
  const std::vector<std::string_view> ab{"a", "b"};
  EXPECT_NEAR(m.line_log_probability(ab), std::log(2.0 / 49.0), 1e-12);
}

TEST(NgramModel, AddKByHand) {
  const NgramModel m =
      NgramModel::train(kTwoSentences, {.order = 2, .smoothing = Smoothing::add_k, .k = 0.5});
  EXPECT_DOUBLE_EQ(m.probability(std::vector<int32_t>{kBos}, kA), 2.5 / 4.5);  // (2 + .5) / (2 + .5 * 5)
  EXPECT_DOUBLE_EQ(m.probability(std::vector<int32_t>{kA}, kA), 0.5 / 4.5);
  EXPECT_DOUBLE_EQ(m.probability(std::vector<int32_t>{kC}, kEos), 1.5 / 3.5);
}

TEST(NgramModel, UnigramWithOovByHand) {
  // Counts a 2, b 1, c 1, <eos> 2: N = 6, p(w) = (c + 1) / (6 + 5).
  const NgramModel m = NgramModel::train(kTwoSentences, {.order = 1});
  const std::vector<int32_t> none;
  EXPECT_DOUBLE_EQ(m.probability(none, kA), 3.0 / 11.0);
  EXPECT_DOUBLE_EQ(m.probability(none, Vocab::kUnkIndex), 1.0 / 11.0);
  // "a z": z is out of vocabulary and scored as <unk>; N = 2 tokens + 1 <eos>.
  const PerplexityReport r = m.evaluate(std::string_view("a z\n"));
  EXPECT_EQ(r.num_lines, 1);
  EXPECT_EQ(r.num_tokens, 2);
  EXPECT_EQ(r.num_predictions, 3);
  EXPECT_EQ(r.oov_count, 1);
  const double ll = std::log(3.0 / 11.0) + std::log(1.0 / 11.0) + std::log(3.0 / 11.0);
  EXPECT_NEAR(r.log_likelihood, ll, 1e-12);
  EXPECT_NEAR(r.perplexity, std::exp(-ll / 3.0), 1e-9);
}

TEST(NgramModel, PerplexityByHandOverTwoLines) {
  const NgramModel m = NgramModel::train(kTwoSentences, {.order = 2});
  // "a b": 3/7 * 2/7 * 2/6; "c": p(c|<bos>) = 1/7, p(<eos>|c) = 2/6. N = 3 + 2.
  const PerplexityReport r = m.evaluate(std::string_view("a b\n\n   \nc"));
  EXPECT_EQ(r.num_lines, 2);  // blank lines are skipped
  EXPECT_EQ(r.num_predictions, 5);
  const double ll = std::log(3.0 / 7 * 2.0 / 7 * 2.0 / 6) + std::log(1.0 / 7 * 2.0 / 6);
  EXPECT_NEAR(r.log_likelihood, ll, 1e-12);
  EXPECT_NEAR(r.cross_entropy, -ll / 5, 1e-12);
  EXPECT_NEAR(r.perplexity, std::exp(-ll / 5), 1e-9);
  EXPECT_THROW((void)m.evaluate(std::string_view("\n\n")), ValueError);
}

TEST(NgramModel, MinFreqMapsRareTrainingTokensToUnk) {
  const NgramModel m = NgramModel::train(kTwoSentences, {.order = 2, .min_freq = 2});
  ASSERT_EQ(m.vocab().size(), 4);  // <unk> <bos> <eos> a
  EXPECT_EQ(m.vocab().count(Vocab::kUnkIndex), 2);
  // (a, <unk>) twice, V' = 3: p(<unk> | a) = (2 + 1) / (2 + 3)
  EXPECT_DOUBLE_EQ(m.probability(std::vector<int32_t>{3}, Vocab::kUnkIndex), 0.6);
}

TEST(NgramModel, DistributionsSumToOneOnRealText) {
  const std::string raw = read_text_file(test::shared_data_dir() / "timemachine.txt");
  for (int order : {1, 2, 3}) {
    const NgramModel m = NgramModel::train(raw, {.order = order,
                                                 .smoothing = Smoothing::add_k,
                                                 .k = 0.1,
                                                 .mode = PreprocessMode::d2l,
                                                 .level = TokenLevel::word});
    const int32_t the = m.vocab().index("the"), time = m.vocab().index("time");
    std::vector<std::vector<int32_t>> histories;
    if (order == 1) histories = {{}};
    if (order == 2) histories = {{the}, {kBos}, {time}, {Vocab::kUnkIndex}, {kEos}};
    if (order == 3) histories = {{the, time}, {kBos, kBos}, {kBos, the}, {time, the}, {kEos, kEos}};
    for (const auto& h : histories) EXPECT_NEAR(sum_over_vocab(m, h), 1.0, 1e-9) << "order " << order;
  }
}

TEST(NgramModel, CharacterModelFitsItsTrainingText) {
  // A char model predicts its own training text far better than uniform (V' = 29).
  const std::string raw = read_text_file(test::shared_data_dir() / "timemachine.txt");
  const NgramModel m = NgramModel::train(raw, {.order = 4,
                                               .smoothing = Smoothing::add_k,
                                               .k = 0.1,
                                               .mode = PreprocessMode::d2l,
                                               .level = TokenLevel::character});
  EXPECT_EQ(m.vocab().size(), 30);
  const PerplexityReport r = m.evaluate(raw);
  EXPECT_EQ(r.num_tokens, 170580);
  EXPECT_EQ(r.num_lines, 2848);
  EXPECT_EQ(r.oov_count, 0);
  EXPECT_LT(r.perplexity, 6.0);
  EXPECT_GT(r.perplexity, 1.0);
}

TEST(NgramModel, SaveLoadRoundTripsProbabilities) {
  const std::string text = "the cat sat\nthe dog sat down\n  \na \\s cat\t\xC3\xA9t\xC3\xA9\n";
  const NgramModel m = NgramModel::train(text, {.order = 3,
                                                .smoothing = Smoothing::add_k,
                                                .k = 0.3,
                                                .mode = PreprocessMode::lower,
                                                .level = TokenLevel::word});
  const auto dir = test::make_temp_dir("ngram");
  m.save(dir / "m.ngram");
  const NgramModel back = NgramModel::load(dir / "m.ngram");
  EXPECT_EQ(back.vocab(), m.vocab());
  EXPECT_EQ(back.order(), 3);
  EXPECT_EQ(back.options().k, 0.3);
  EXPECT_EQ(back.options().mode, PreprocessMode::lower);
  EXPECT_EQ(back.serialize(), m.serialize());
  const std::string held_out = "the cat sat down\nthe bird\n";
  EXPECT_EQ(back.evaluate(held_out).log_likelihood, m.evaluate(held_out).log_likelihood);
  const std::string file = read_file(dir / "m.ngram");
  EXPECT_EQ(file.substr(0, 14), "recur-ngram 1\n");
}

TEST(NgramModel, BadOptionsAreNamed) {
  EXPECT_NE(message_of_value_error({.order = 0}).find("order must be at least 1"), std::string::npos);
  EXPECT_NE(message_of_value_error({.order = 2, .smoothing = Smoothing::add_k, .k = 0})
                .find("k must be finite and > 0"),
            std::string::npos);
  EXPECT_NE(
      message_of_value_error({.order = 2, .smoothing = Smoothing::add_k, .k = NAN}).find("k must be finite"),
      std::string::npos);
  EXPECT_NE(message_of_value_error({.order = 2, .k = 0.5}).find("laplace smoothing adds one"),
            std::string::npos);
  EXPECT_NE(message_of_value_error({.order = 2, .min_freq = 100}).find("leaves no token"), std::string::npos);
  EXPECT_THROW((void)parse_smoothing("kneser-ney"), ValueError);
  const NgramModel m = NgramModel::train(kTwoSentences, {.order = 2});
  EXPECT_THROW((void)m.probability(std::vector<int32_t>{}, kA), ValueError);    // wrong history size
  EXPECT_THROW((void)m.probability(std::vector<int32_t>{kA}, 6), ValueError);   // token out of range
  EXPECT_THROW((void)m.probability(std::vector<int32_t>{-1}, kA), ValueError);  // history id out of range
}

TEST(NgramModel, MalformedModelFilesAreIoErrors) {
  const std::string good = NgramModel::train(kTwoSentences, {.order = 2}).serialize();
  auto expect_error = [](const std::string& text, const std::string& words) {
    try {
      (void)NgramModel::parse(text, "m.ngram");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("m.ngram"), std::string::npos) << e.what();
    }
  };
  expect_error("recur-vocab 1\n", "not a recur n-gram model");
  expect_error("recur-ngram 9\n", "version '9' is not supported");
  std::string bad_order = good;
  bad_order.replace(bad_order.find("order 2"), 7, "order 0");
  expect_error(bad_order, "order must be at least 1");
  expect_error(good.substr(0, good.size() - 6), "ends after");
  std::string bad_id = good;
  bad_id.replace(bad_id.rfind('\n', bad_id.size() - 2) + 1, 1, "9");  // first id of the last n-gram
  expect_error(bad_id, "outside [0, 6)");
  expect_error(good + "junk\n", "unexpected content");
}

// order * bits was computed in int: order 2^31 - 1 wrapped and crashed the counter.
TEST(NgramModel, HugeOrdersAreRejectedBeforeCounting) {
  EXPECT_NE(message_of_value_error({.order = 2147483647})
                .find("order must be at most 128 (a key holds 128 bits), got 2147483647"),
            std::string::npos);
  EXPECT_NE(message_of_value_error({.order = 129}).find("at most 128"), std::string::npos);
  test::expect_error_words<ValueError>([] { NgramCounts counts(1 << 30, 1 << 20); },
                                       {"1073741824 x 20 = 21474836480 bits"});
  std::string file = NgramModel::train(kTwoSentences, {.order = 2}).serialize();
  file.replace(file.find("order 2"), 7, "order 2147483647");
  EXPECT_THROW((void)NgramModel::parse(file, "m.ngram"), IoError);
}

// A model file whose line ends became CRLF (an editor, git autocrlf) loads as the LF original.
TEST(NgramModel, CrlfModelFilesLoad) {
  const NgramModel m = NgramModel::train("the cat sat\nthe dog\n", {.order = 2});
  std::string crlf;
  for (char c : m.serialize()) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  const auto dir = test::make_temp_dir("ngram");
  write_file_atomically(dir / "crlf.ngram", crlf);
  const NgramModel back = NgramModel::load(dir / "crlf.ngram");
  EXPECT_EQ(back.serialize(), m.serialize());
  EXPECT_EQ(back.vocab(), m.vocab());
}

TEST(NgramModel, LoadRejectsDirectoriesAndDevices) {
  const auto dir = test::make_temp_dir("ngram");
  std::filesystem::create_symlink("/dev/zero", dir / "zero.ngram");
  test::expect_error_words<IoError>([&] { (void)NgramModel::load(dir / "zero.ngram"); },
                                    {"not a regular file"});
  test::expect_error_words<IoError>([&] { (void)NgramModel::load(dir); }, {"is a directory"});
}
