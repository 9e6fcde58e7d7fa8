// Fuzz target: a model folder (config.json + model.safetensors, see fuzz_files.h for the split):
// load_model's checks of fields, sizes, names, shapes and values; a model that loads must also
// run a generation step.
#include "fuzz_files.h"
#include "fuzz_support.h"
#include "recur/lm/checkpoint.h"
#include "recur/lm/inference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recur::fuzz::write_two_files(data, size, "config.json", "model.safetensors");
  recur::fuzz::expect_recur_errors_only([&] {
    const recur::LoadedModel loaded = recur::load_model(recur::fuzz::scratch_dir());
    recur::InferenceSession session(*loaded.model);
    (void)session.step(0);
  });
  return 0;
}
