// Fuzz target: UTF-8 decoding and repair, preprocessing and tokenization at every level and mode,
// and vocabulary building on the result.
#include "fuzz_support.h"
#include "recur/text/preprocess.h"
#include "recur/text/tokenizer.h"
#include "recur/text/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw = recur::fuzz::as_text(data, size);
  (void)recur::utf8_find_invalid(raw);
  const std::string text = recur::utf8_replace_invalid(raw);
  if (recur::utf8_find_invalid(text)) __builtin_trap();  // repaired text must be valid
  (void)recur::utf8_to_code_points(text);
  for (auto mode : {recur::PreprocessMode::d2l, recur::PreprocessMode::lower, recur::PreprocessMode::raw}) {
    for (auto level : {recur::TokenLevel::character, recur::TokenLevel::word}) {
      recur::fuzz::expect_recur_errors_only([&] {
        (void)recur::tokenize_text(text, mode, level);
        (void)recur::tokenize_lines(text, mode, level);
      });
    }
  }
  return 0;
}
