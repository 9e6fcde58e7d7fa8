// Fuzz target: recur's .ngram model files; an accepted model is serialized again and scored on a
// line, so that a file that loads is also a file that works.
#include "fuzz_support.h"
#include "recur/text/ngram_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recur::fuzz::expect_recur_errors_only([&] {
    const recur::NgramModel model = recur::NgramModel::parse(recur::fuzz::as_text(data, size), "fuzz.ngram");
    (void)model.serialize();
    (void)model.evaluate(std::string_view("the time traveller\n"));
  });
  return 0;
}
