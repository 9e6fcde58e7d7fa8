// Fuzz target: ARPA files (KenLM, SRILM, recur); an accepted file is written back, re-read to the same
// text, scored on a few lines and entropy-pruned (the pruned model must load too), so that a file
// that loads is also a file that works.
#include <stdexcept>

#include "fuzz_support.h"
#include "recur/ngram/arpa.h"
#include "recur/ngram/backoff_model.h"
#include "recur/ngram/entropy_prune.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recur::fuzz::expect_recur_errors_only([&] {
    const recur::ArpaModel model = recur::parse_arpa(recur::fuzz::as_text(data, size), "fuzz.arpa");
    const std::string text = recur::format_arpa(model);
    if (recur::format_arpa(recur::parse_arpa(text, "again.arpa")) != text)
      throw std::logic_error("an ARPA file recur wrote reads back differently");
    const recur::BackoffModel scorer(model);
    (void)recur::query_text(scorer, "the time traveller\n\n<unk> a b\nno newline");
    const recur::EntropyPruneResult pruned = recur::prune_by_entropy(model, {.threshold = 1e-2});
    (void)recur::query_text(recur::BackoffModel(pruned.model), "a b a\n<s> b </s>\n");
  });
  return 0;
}
