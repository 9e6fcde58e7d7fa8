// d2l 9.6, "Concise Implementation of Recurrent Neural Networks": the same language model with the
// library's fused layer (LanguageModel = one-hot input, fused GRU/RNN, linear head) and its trainer.
//
//   ./example_lm_concise [epochs=5]      (finds "timemachine" through RECUR_DATA)
#include <cstdio>
#include <cstdlib>

#include "recur/data/dataset.h"
#include "recur/lm/corpus.h"
#include "recur/lm/evaluate.h"
#include "recur/lm/trainer.h"

using namespace recur;

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 5;
  const TextEncoding encoding{.level = TokenLevel::character, .mode = PreprocessMode::d2l};
  LmCorpus corpus = load_lm_corpus(resolve_dataset("timemachine"), encoding);

  LanguageModel model({.cell = CellType::kRnnTanh, .hidden_size = 256, .vocab_size = corpus.vocab.size()});
  Rng rng(0);
  model.reset_parameters(rng);

  const size_t split = corpus.ids.size() * 9 / 10;
  TrainData data{{corpus.ids.begin(), corpus.ids.begin() + static_cast<std::ptrdiff_t>(split)},
                 {corpus.ids.begin() + static_cast<std::ptrdiff_t>(split), corpus.ids.end()}};
  ModelTextConfig text{.encoding = encoding, .vocab = corpus.vocab};
  Trainer trainer(model, text, std::move(data),
                  {.batch = 32,
                   .steps = 35,
                   .lr = 1.0,
                   .clip = 1.0,
                   .epochs = epochs,
                   .out_dir = "runs/example-concise"});
  TrainCallbacks callbacks;
  callbacks.on_epoch = [](const EpochMetrics& m) {
    std::printf("epoch %lld  train perplexity %.2f  valid perplexity %.2f  %.0f tokens/s\n",
                static_cast<long long>(m.epoch), m.train_perplexity, m.valid_perplexity, m.tokens_per_s);
  };
  trainer.run(nullptr, callbacks);

  EncodedTokens prefix = encode_text("time traveller ", encoding, corpus.vocab);
  auto out = generate_tokens(model, prefix.ids, 50, {.greedy = true}, rng);
  prefix.ids.insert(prefix.ids.end(), out.begin(), out.end());
  std::printf("%s\n", detokenize(prefix.ids, corpus.vocab, encoding.level).c_str());
  return 0;
}
