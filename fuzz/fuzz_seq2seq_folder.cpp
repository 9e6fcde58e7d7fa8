// Fuzz target: a translation model folder (config.json + model.safetensors, see fuzz_files.h for
// the split): load_seq2seq's checks of fields, vocabularies, sizes, names, shapes and values; a
// model that loads must also translate a sentence, greedily and with a beam.
#include "fuzz_files.h"
#include "fuzz_support.h"
#include "recur/seq2seq/decoding.h"
#include "recur/seq2seq/seq2seq_checkpoint.h"
#include "recur/seq2seq/translation_data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recur::fuzz::write_two_files(data, size, "config.json", "model.safetensors");
  recur::fuzz::expect_recur_errors_only([&] {
    const recur::LoadedSeq2Seq loaded = recur::load_seq2seq(recur::fuzz::scratch_dir());
    const recur::SpecialIds ids = recur::special_ids(loaded.text.target);
    const std::vector<std::vector<int32_t>> sources{
        recur::encode_source_sentence("go .", loaded.text.source, loaded.text.steps)};
    for (int beam : {1, 2}) {
      const auto out = recur::translate(*loaded.model, sources, ids.bos, ids.eos,
                                        {.max_steps = 3, .beam = beam, .keep_attention = beam == 1});
      (void)recur::detokenize_translation(out.at(0).tokens, loaded.text.target);
    }
  });
  return 0;
}
