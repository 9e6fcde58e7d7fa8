// Fuzz target: recur's binary n-gram models (`recur ngram build-binary`), mapped from a file as eval
// maps them; an accepted file must score text without reading outside the mapping.
#include <fstream>

#include "fuzz_files.h"
#include "fuzz_support.h"
#include "recur/ngram/backoff_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = recur::fuzz::scratch_dir() / "model.rlm";
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  recur::fuzz::expect_recur_errors_only([&] {
    const recur::BackoffModel model = recur::BackoffModel::load_binary(path);
    (void)recur::query_text(model, "the time traveller\n\n<unk> a b c\n<s> </s> z\nno newline");
  });
  return 0;
}
