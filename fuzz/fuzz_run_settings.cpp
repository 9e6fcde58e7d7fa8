// Fuzz target: a run's settings (run.json), which carry every numeric flag of `recur train`
// (sizes, layers, batch, steps, rates, epochs, budget): parsing, validation and the memory
// estimate must reject any value out of range with a message, never overflow or allocate.
#include "fuzz_support.h"
#include "recur/lm/run.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recur::fuzz::expect_recur_errors_only([&] {
    const recur::RunSettings settings =
        recur::parse_run_settings(std::string(recur::fuzz::as_text(data, size)), "fuzz/run.json");
    recur::validate(settings);
    for (int64_t vocab : {2, 28, 13777, 1 << 30}) {
      recur::fuzz::expect_recur_errors_only([&] { recur::check_training_fits(settings, vocab); });
    }
  });
  return 0;
}
