// Fuzz target: tab-separated sentence pairs (fra.txt's format): parsing, then vocabularies and ids
// of what was accepted, truncated and dropped, and back to text. Accepted pairs must keep their
// promises: both sides end in <eos> with a token before it, and every id is in its vocabulary.
#include "fuzz_support.h"
#include "recur/seq2seq/translation_data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = recur::fuzz::as_text(data, size);
  recur::fuzz::expect_recur_errors_only([&] {
    const std::vector<recur::TranslationPair> pairs = recur::parse_translation_pairs(text, "fuzz.tsv");
    if (pairs.empty()) return;
    for (const auto& pair : pairs)
      for (const auto* side : {&pair.source, &pair.target})
        if (side->size() < 2 || side->back() != recur::kEosToken) __builtin_trap();
    if (recur::parse_translation_pairs(text, "fuzz.tsv", 1).size() != 1) __builtin_trap();
    for (auto mode : {recur::LongSequences::kTruncate, recur::LongSequences::kDrop}) {
      recur::fuzz::expect_recur_errors_only([&] {
        const recur::TranslationVocabs vocabs = recur::build_translation_vocabs(pairs, 1, 4, mode);
        const recur::EncodedPairs encoded = recur::encode_translation_pairs(pairs, vocabs, 4, mode);
        for (const auto& pair : encoded.pairs) {
          if (pair.source.empty() || pair.source.size() > 4 || pair.target.size() > 4) __builtin_trap();
          (void)recur::detokenize_translation(pair.source, vocabs.source);
          (void)recur::detokenize_translation(pair.target, vocabs.target);
        }
        // The raw text as one sentence to translate (invalid UTF-8 is a ValueError).
        (void)recur::encode_source_sentence(text, vocabs.source, 4);
      });
    }
  });
  return 0;
}
