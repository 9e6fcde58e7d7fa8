// Fuzz target: a training state (train_state.json + train_state.safetensors, see fuzz_files.h),
// loaded for a run with the default training options and a 1-layer GRU of hidden size 4 (the
// shape of the seed corpus, made by scripts/make-fuzz-seeds.sh).
#include "fuzz_files.h"
#include "fuzz_support.h"
#include "recur/lm/train_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recur::fuzz::write_two_files(data, size, "train_state.json", "train_state.safetensors");
  recur::fuzz::expect_recur_errors_only([&] {
    const recur::TrainOptions options;
    recur::RecurrentState carried{.h = recur::Tensor<float>(recur::Shape{1, options.batch, 4}), .c = {}};
    (void)recur::load_train_state(recur::fuzz::scratch_dir(), options, carried);
  });
  return 0;
}
