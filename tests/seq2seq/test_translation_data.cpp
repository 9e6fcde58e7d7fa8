// Sentence pairs as d2l 1.0's MTFraEng reads them: tokens of hand-picked fra.txt lines (Python's
// output), the first 2000 lines against d2l's own code (scripts/d2l_mt_reference.py), vocabularies,
// truncation or dropping of long sides, and errors that name the file and line.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/seq2seq/translation_data.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;
using Tokens = std::vector<std::string>;

namespace {

fs::path fra_path() { return test::shared_data_dir() / "fra-eng" / "fra.txt"; }

std::string run_command(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return {};
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  EXPECT_EQ(::pclose(pipe), 0) << command;
  return out;
}

std::vector<TranslationPair> parse(std::string_view text, int64_t max_pairs = 0) {
  return parse_translation_pairs(text, "fra.txt", max_pairs);
}

}  // namespace

TEST(TranslationData, TokensOfHandPickedFraEngLinesMatchPython) {
  // Lines 1, 3, 6, 8, 33, 55, 227, 470, 6534 and 54503 of fra.txt; expected tokens printed by d2l's
  // _preprocess and _tokenize. U+202F and U+00A0 become spaces; U+2009 (line 227) stays in the token.
  const std::string text =
      "Go.\tVa !\n"
      "Run!\tCours\u202F!\n"
      "Wow!\t\u00C7a alors\u202F!\n"
      "Help!\t\u00C0 l'aide\u202F!\n"
      "Go now.\tVa, maintenant.\n"
      "Listen.\t\u00C9coutez !\n"
      "Back off!\tRecule\u2009!\n"
      "Who fell?\tQui est tomb\u00E9\u00A0?\n"
      "Wait a minute.\tUn instant...\n"
      "That's very kind of you.\t\u0421\u2019est vraiment gentil \u00E0 vous.\n";
  const auto pairs = parse(text);
  ASSERT_EQ(pairs.size(), 10u);
  const std::vector<std::pair<Tokens, Tokens>> expected = {
      {{"go", ".", "<eos>"}, {"va", "!", "<eos>"}},
      {{"run", "!", "<eos>"}, {"cours", "!", "<eos>"}},
      {{"wow", "!", "<eos>"}, {"\u00E7a", "alors", "!", "<eos>"}},
      {{"help", "!", "<eos>"}, {"\u00E0", "l'aide", "!", "<eos>"}},
      {{"go", "now", ".", "<eos>"}, {"va", ",", "maintenant", ".", "<eos>"}},
      {{"listen", ".", "<eos>"}, {"\u00E9coutez", "!", "<eos>"}},
      {{"back", "off", "!", "<eos>"}, {"recule\u2009", "!", "<eos>"}},
      {{"who", "fell", "?", "<eos>"}, {"qui", "est", "tomb\u00E9", "?", "<eos>"}},
      {{"wait", "a", "minute", ".", "<eos>"}, {"un", "instant", ".", ".", ".", "<eos>"}},
      {{"that's", "very", "kind", "of", "you", ".", "<eos>"},
       {"\u0441\u2019est", "vraiment", "gentil", "\u00E0", "vous", ".", "<eos>"}},
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(pairs[i].source, expected[i].first) << "pair " << i;
    EXPECT_EQ(pairs[i].target, expected[i].second) << "pair " << i;
    EXPECT_EQ(pairs[i].line, static_cast<int64_t>(i + 1));
  }
}

TEST(TranslationData, PreprocessSpacesMarksThatDoNotFollowASpace) {
  EXPECT_EQ(preprocess_translation_text("Go."), "go .");
  EXPECT_EQ(preprocess_translation_text("Hello, World!"), "hello , world !");
  EXPECT_EQ(preprocess_translation_text("Va !"), "va !");
  EXPECT_EQ(preprocess_translation_text("!?"), "! ?");        // no space before the first character
  EXPECT_EQ(preprocess_translation_text("a\u00A0?"), "a ?");  // the test sees the replaced space
  EXPECT_EQ(preprocess_translation_text("a\t!"), "a\t !");    // only U+0020 counts as a space
  EXPECT_EQ(preprocess_translation_text("3.5"), "3 .5");      // as d2l
  EXPECT_EQ(preprocess_translation_text(""), "");
  EXPECT_THROW((void)preprocess_translation_text("a\xFF"), ValueError);
}

TEST(TranslationData, LowercasesEveryCapitalOfFraTxtAsPython) {
  // Every character of fra.txt that Python's str.lower() changes (found with a one-liner over the
  // whole file): A-Z, \u00C0 \u00C2 \u00C7 \u00C9 \u00CA \u00D4 and Cyrillic \u0421 (in "\u0421'est").
  EXPECT_EQ(
      preprocess_translation_text("ABCDEFGHIJKLMNOPQRSTUVWXYZ\u00C0\u00C2\u00C7\u00C9\u00CA\u00D4\u0421"),
      "abcdefghijklmnopqrstuvwxyz\u00E0\u00E2\u00E7\u00E9\u00EA\u00F4\u0441");
}

TEST(TranslationData, TokenizeSplitsAtSpacesOnlyAndAppendsEos) {
  EXPECT_EQ(tokenize_translation_side("  a  b\tc "), (Tokens{"a", "b\tc", "<eos>"}));
  EXPECT_EQ(tokenize_translation_side(""), (Tokens{"<eos>"}));
}

TEST(TranslationData, SkipsEmptyLinesReadsCrlfAndIgnoresExtraColumns) {
  const std::string text =
      "\xEF\xBB\xBFHi.\tSalut.\r\n\r\n\nGo.\tVa !\tCC-BY 2.0 (France) Attribution\nRun!\tCours !";
  const auto pairs = parse(text);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[0].source, (Tokens{"hi", ".", "<eos>"}));
  EXPECT_EQ(pairs[0].target, (Tokens{"salut", ".", "<eos>"}));
  EXPECT_EQ(pairs[1].line, 4);
  EXPECT_EQ(pairs[1].target, (Tokens{"va", "!", "<eos>"}));
  EXPECT_EQ(pairs[2].line, 5);
  EXPECT_EQ(pairs[2].target, (Tokens{"cours", "!", "<eos>"}));
  EXPECT_EQ(parse(text, 2).size(), 2u);
  EXPECT_EQ(parse(text, 9).size(), 3u);
  EXPECT_TRUE(parse("").empty());
  EXPECT_TRUE(parse("\n\r\n").empty());
}

TEST(TranslationData, MalformedLinesNameTheFileAndLine) {
  using test::expect_error_words;
  expect_error_words<IoError>([] { (void)parse("Go.\tVa !\n\nHello there\n"); },
                              {"fra.txt:3: no tab (expected source<TAB>target)"});
  expect_error_words<IoError>([] { (void)parse("Go.\tVa !\n   \tVa\n"); }, {"fra.txt:2: empty source"});
  expect_error_words<IoError>([] { (void)parse("Go.\t  \n"); }, {"fra.txt:1: empty target"});
  expect_error_words<IoError>([] { (void)parse("Go.\t\tVa\n"); }, {"fra.txt:1: empty target"});
  expect_error_words<IoError>([] { (void)parse("Go.\tVa\nGo.\tVa \xC3\x28!\n"); },
                              {"fra.txt:2: invalid UTF-8 at byte offset 7 in the line"});
  expect_error_words<ValueError>([] { (void)parse("Go.\tVa\n", -1); }, {"max_pairs must be >= 0", "-1"});
  const fs::path missing = test::make_temp_dir("translation-data") / "no-such-fra.txt";
  expect_error_words<IoError>([&] { (void)read_translation_pairs(missing); }, {missing.string()});
}

TEST(TranslationData, ReadsAFileAndNamesItInErrors) {
  const fs::path dir = test::make_temp_dir("translation-data");
  std::ofstream(dir / "pairs.txt") << "Go.\tVa !\nI see.\tJe vois.\nOops\n";
  EXPECT_EQ(read_translation_pairs(dir / "pairs.txt", 2).size(), 2u);
  test::expect_error_words<IoError>([&] { (void)read_translation_pairs(dir / "pairs.txt"); },
                                    {(dir / "pairs.txt").string() + ":3: no tab"});
}

TEST(TranslationData, LongSequenceNames) {
  EXPECT_EQ(parse_long_sequences("truncate"), LongSequences::kTruncate);
  EXPECT_EQ(parse_long_sequences("drop"), LongSequences::kDrop);
  EXPECT_EQ(long_sequences_name(LongSequences::kDrop), "drop");
  test::expect_error_words<ValueError>([] { (void)parse_long_sequences("cut"); },
                                       {"'cut'", "truncate or drop"});
}

TEST(TranslationData, VocabsCountTruncatedTokensOrKeptPairs) {
  // Source lengths 3, 5, 4 (with <eos>); steps 4 cuts "a b c d <eos>" to "a b c d".
  const auto pairs = parse("x y\tu\na b c d\tv w\nx y z\tu v w x y\n");
  const TranslationVocabs truncated = build_translation_vocabs(pairs, 1, 4, LongSequences::kTruncate);
  const Vocab& s = truncated.source;
  EXPECT_EQ(s.token(0), "<unk>");
  EXPECT_EQ(s.token(1), "<pad>");
  EXPECT_EQ(s.token(2), "<bos>");
  EXPECT_EQ(s.token(3), "<eos>");
  EXPECT_EQ(s.count(3), 2);  // the second pair's <eos> is cut off
  EXPECT_EQ(s.count(*s.find("x")), 2);
  EXPECT_EQ(s.count(*s.find("d")), 1);
  EXPECT_EQ(s.size(), 4 + 7);  // x y a b c d z
  EXPECT_EQ(truncated.target.count(*truncated.target.find("x")), 1);
  EXPECT_FALSE(truncated.target.find("y").has_value());  // the fifth target token is cut off

  // Dropping: the pairs with a side longer than 4 tokens (the second and third) are not counted.
  const TranslationVocabs dropped = build_translation_vocabs(pairs, 1, 4, LongSequences::kDrop);
  EXPECT_EQ(dropped.source.size(), 4 + 2);  // x y
  EXPECT_EQ(dropped.target.size(), 4 + 1);  // u
  EXPECT_EQ(dropped.source.count(3), 1);

  // min_freq 2 keeps the tokens seen twice; the rest count toward <unk>.
  const TranslationVocabs frequent = build_translation_vocabs(pairs, 2, 9, LongSequences::kTruncate);
  EXPECT_EQ(frequent.source.size(), 4 + 2);  // x y
  EXPECT_EQ(frequent.source.count(0), 5);    // a b c d z

  const SpecialIds ids = special_ids(truncated.target);
  EXPECT_EQ(ids.unk, 0);
  EXPECT_EQ(ids.pad, 1);
  EXPECT_EQ(ids.bos, 2);
  EXPECT_EQ(ids.eos, 3);

  test::expect_error_words<ValueError>(
      [&] { (void)build_translation_vocabs(pairs, 1, 1, LongSequences::kDrop); },
      {"every one of the 3 pairs", "steps 1"});
  test::expect_error_words<ValueError>(
      [&] { (void)build_translation_vocabs(pairs, 1, 0, LongSequences::kTruncate); }, {"steps must be >= 1"});
  test::expect_error_words<ValueError>(
      [] { (void)build_translation_vocabs({}, 1, 9, LongSequences::kTruncate); }, {"no sentence pairs"});
}

TEST(TranslationData, SpecialIdsOfALoadedVocabulary) {
  const Vocab v = Vocab::from_tokens({"<pad>", "a", "<eos>", "<unk>", "<bos>"});
  const SpecialIds ids = special_ids(v);
  EXPECT_EQ(ids.pad, 0);
  EXPECT_EQ(ids.eos, 2);
  EXPECT_EQ(ids.unk, 3);
  EXPECT_EQ(ids.bos, 4);
  test::expect_error_words<ValueError>(
      [] {
        (void)special_ids(Vocab::from_tokens({"<unk>", "<pad>", "<eos>"}));
      },
      {"no '<bos>' token"});
}

TEST(TranslationData, EncodeTruncatesOrDropsAndCountsUnknowns) {
  const auto pairs = parse("x y\tu\na b c d\tv w\nx q\tu v w x y\n");
  const TranslationVocabs vocabs =
      build_translation_vocabs(parse("x y\tu v\na b\tw x\n"), 1, 9, LongSequences::kTruncate);
  const Vocab& s = vocabs.source;
  const Vocab& t = vocabs.target;
  const EncodedPairs truncated = encode_translation_pairs(pairs, vocabs, 4, LongSequences::kTruncate);
  ASSERT_EQ(truncated.pairs.size(), 3u);
  EXPECT_EQ(truncated.dropped, 0);
  EXPECT_EQ(truncated.pairs[0].source, (std::vector<int32_t>{s.index("x"), s.index("y"), 3}));
  EXPECT_EQ(truncated.pairs[0].target, (std::vector<int32_t>{t.index("u"), 3}));
  EXPECT_EQ(truncated.pairs[1].source, (std::vector<int32_t>{s.index("a"), s.index("b"), 0, 0}));  // no <eos>
  EXPECT_EQ(truncated.pairs[2].target,
            (std::vector<int32_t>{t.index("u"), t.index("v"), t.index("w"), t.index("x")}));
  EXPECT_EQ(truncated.pairs[2].line, 3);
  EXPECT_EQ(truncated.source_unknown, 3);  // c d q
  EXPECT_EQ(truncated.target_unknown, 0);

  const EncodedPairs dropped = encode_translation_pairs(pairs, vocabs, 4, LongSequences::kDrop);
  ASSERT_EQ(dropped.pairs.size(), 1u);
  EXPECT_EQ(dropped.dropped, 2);
  EXPECT_EQ(dropped.source_unknown, 0);
  EXPECT_EQ(dropped.pairs[0].line, 1);
  EXPECT_THROW((void)encode_translation_pairs(pairs, vocabs, 0, LongSequences::kDrop), ValueError);
}

TEST(TranslationData, EncodesOneSourceLineAndDetokenizes) {
  const TranslationVocabs vocabs =
      build_translation_vocabs(parse("Go.\tVa !\nI lost.\tJ'ai perdu.\n"), 1, 9, LongSequences::kTruncate);
  const Vocab& s = vocabs.source;
  EXPECT_EQ(encode_source_sentence("Go\u00A0!", s, 9), (std::vector<int32_t>{s.index("go"), 0, 3}));
  EXPECT_EQ(encode_source_sentence("I lost.", s, 2), (std::vector<int32_t>{s.index("i"), s.index("lost")}));
  EXPECT_EQ(encode_source_sentence("", s, 9), (std::vector<int32_t>{3}));
  EXPECT_THROW((void)encode_source_sentence("go", s, 0), ValueError);
  EXPECT_THROW((void)encode_source_sentence("\xC3", s, 9), ValueError);

  EXPECT_EQ(detokenize_translation(Tokens{"va", "!", "<eos>", "x"}), "va !");
  EXPECT_EQ(detokenize_translation(std::vector<std::string_view>{"il", "est", "calme", "."}),
            "il est calme .");
  EXPECT_EQ(detokenize_translation(Tokens{"<eos>"}), "");
  const Vocab& t = vocabs.target;
  EXPECT_EQ(detokenize_translation(std::vector<int32_t>{t.index("j'ai"), t.index("perdu"), 3, 99}, t),
            "j'ai perdu");
  EXPECT_THROW((void)detokenize_translation(std::vector<int32_t>{99}, t), ValueError);
}

TEST(TranslationData, First641PairsAndTheWholeOfFraTxt) {
  if (!fs::exists(fra_path())) GTEST_SKIP() << "no " << fra_path();
  const auto pairs = read_translation_pairs(fra_path(), 641);  // d2l: num_train 512 + num_val 128, plus one
  ASSERT_EQ(pairs.size(), 641u);
  EXPECT_EQ(pairs.back().line, 641);
  EXPECT_EQ(pairs[0].target, (Tokens{"va", "!", "<eos>"}));
  // The whole file (d2l's fra-eng.zip, 2019-04-07): every line is a pair with two non-empty sides.
  const auto all = read_translation_pairs(fra_path());
  EXPECT_EQ(all.size(), 167130u);
  EXPECT_EQ(all.back().line, 167130);
}

TEST(TranslationData, First2000LinesMatchD2lsOwnCode) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 is missing: d2l's code not run";
  if (!fs::exists(fra_path())) GTEST_SKIP() << "no " << fra_path();
  constexpr int64_t kLines = 2000, kSteps = 9, kMinFreq = 2;
  const std::string out =
      run_command("/usr/bin/python3 '" + std::string(RECUR_SOURCE_DIR) +
                  "/scripts/d2l_mt_reference.py' tokens '" + fra_path().string() + "' " +
                  std::to_string(kLines) + " " + std::to_string(kSteps) + " " + std::to_string(kMinFreq));
  const nlohmann::json reference = nlohmann::json::parse(out);
  const auto pairs = read_translation_pairs(fra_path(), kLines);  // no empty or tab-less line among them
  ASSERT_EQ(pairs.size(), reference["src"].size());
  ASSERT_EQ(pairs.size(), reference["tgt"].size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    ASSERT_EQ(pairs[i].source, reference["src"][i].get<Tokens>()) << "line " << pairs[i].line;
    ASSERT_EQ(pairs[i].target, reference["tgt"][i].get<Tokens>()) << "line " << pairs[i].line;
  }

  // d2l's vocabularies are sorted alphabetically and count <pad> (and, in the target, <bos>) as
  // tokens; ours order by frequency and reserve both. Same token sets besides those two, same counts
  // for every counted token.
  const TranslationVocabs vocabs =
      build_translation_vocabs(pairs, kMinFreq, kSteps, LongSequences::kTruncate);
  for (const auto& [name, vocab] :
       {std::pair{"src_vocab", &vocabs.source}, std::pair{"tgt_vocab", &vocabs.target}}) {
    const auto& expected = reference[name];
    std::set<std::string> ours(vocab->tokens().begin(), vocab->tokens().end());
    std::set<std::string> theirs;
    for (const auto& item : expected.items()) theirs.insert(item.key());
    EXPECT_TRUE(theirs.contains("<pad>")) << name;
    for (auto* set : {&ours, &theirs}) {
      set->erase("<pad>");
      set->erase("<bos>");
    }
    EXPECT_EQ(ours, theirs) << name;
    EXPECT_GT(ours.size(), 300u) << name;
    for (int32_t id = 0; id < vocab->size(); ++id) {
      const std::string& token = vocab->token(id);
      if (token == "<unk>" || token == "<pad>" || token == "<bos>") continue;
      ASSERT_TRUE(expected.contains(token)) << name << " " << token;
      EXPECT_EQ(vocab->count(id), expected[token].get<int64_t>()) << name << " " << token;
    }
  }
}
