// Fuzz target: a translation run's settings (run.json of `recur translate train`), which carry its
// sizes, rates and counts: parsing and validation must reject any value out of range with a
// message, and settings that pass must be written back to the same run.json.
#include "fuzz_support.h"
#include "recur/seq2seq/translation_run.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recur::fuzz::expect_recur_errors_only([&] {
    const recur::TranslationSettings settings =
        recur::parse_translation_settings(std::string(recur::fuzz::as_text(data, size)), "fuzz/run.json");
    recur::validate(settings);
    const std::string json = recur::translation_settings_json(settings);
    if (recur::translation_settings_json(recur::parse_translation_settings(json, "written")) != json)
      __builtin_trap();
  });
  return 0;
}
