// d2l 10.7, "Sequence-to-Sequence Learning for Machine Translation": a GRU encoder-decoder trained
// on d2l's first 641 English-French pairs, then d2l's four sentences translated by greedy search
// and scored with d2l's BLEU (k = 2), with the library alone.
//
//   ./example_seq2seq_translation [out_dir=runs/example-seq2seq]   (finds "fra-eng" through RECUR_DATA)
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "recur/data/dataset.h"
#include "recur/seq2seq/bleu.h"
#include "recur/seq2seq/decoding.h"
#include "recur/seq2seq/seq2seq_trainer.h"
#include "recur/seq2seq/translation_data.h"

using namespace recur;

int main(int argc, char** argv) {
  // d2l.MTFraEng(batch_size=128): num_steps 9, the first 512 + 129 pairs (its slices read one pair
  // more than num_train + num_val), vocabularies of the tokens seen at least twice in all 641 pairs
  // (d2l builds them before the split), longer sides truncated.
  const int64_t steps = 9;
  const std::vector<TranslationPair> pairs = read_translation_pairs(resolve_dataset("fra-eng"), 641);
  const TranslationVocabs vocabs = build_translation_vocabs(pairs, 2, steps, LongSequences::kTruncate);
  const EncodedPairs encoded = encode_translation_pairs(pairs, vocabs, steps, LongSequences::kTruncate);
  Seq2SeqTrainData data;
  data.train.assign(encoded.pairs.begin(), encoded.pairs.begin() + 512);
  data.valid.assign(encoded.pairs.begin() + 512, encoded.pairs.end());

  // Seq2SeqEncoder and Seq2SeqDecoder(embed_size=256, num_hiddens=256, num_layers=2, dropout=0.2),
  // initialized as d2l's init_seq2seq does.
  Seq2SeqModel model({.cell = CellType::kGru,
                      .num_layers = 2,
                      .hidden_size = 256,
                      .embedding_size = 256,
                      .dropout = 0.2,
                      .source_vocab_size = vocabs.source.size(),
                      .target_vocab_size = vocabs.target.size()});
  Rng rng(0);
  model.reset_parameters(rng);

  // d2l.Trainer(max_epochs=30, gradient_clip_val=1) with Adam(lr=0.005), the masked cross-entropy
  // and teacher forcing; checkpoints, metrics.csv and perplexity.svg go to the output folder.
  const std::filesystem::path out = argc > 1 ? argv[1] : "runs/example-seq2seq";
  Seq2SeqTrainer trainer(model, {.source = vocabs.source, .target = vocabs.target, .steps = steps},
                         std::move(data),
                         {.batch = 128,
                          .steps = steps,
                          .optimizer = OptimizerKind::kAdam,
                          .lr = 0.005,
                          .clip = 1.0,
                          .epochs = 30,
                          .out_dir = out});
  TrainCallbacks callbacks;
  callbacks.on_epoch = [](const EpochMetrics& m) {
    if (m.epoch % 5 == 0)
      std::printf("epoch %2lld  train perplexity %6.2f  valid perplexity %6.2f  %.0f tokens/s\n",
                  static_cast<long long>(m.epoch), m.train_perplexity, m.valid_perplexity, m.tokens_per_s);
  };
  trainer.run(nullptr, callbacks);

  // model.predict_step: greedy search for at most num_steps tokens, then bleu(translation, fr, k=2).
  const std::vector<std::string> engs = {"go .", "i lost .", "he's calm .", "i'm home ."};
  const std::vector<std::string> fras = {"va !", "j'ai perdu .", "il est calme .", "je suis chez moi ."};
  std::vector<std::vector<int32_t>> sources;
  for (const std::string& eng : engs) sources.push_back(encode_source_sentence(eng, vocabs.source, steps));
  const SpecialIds ids = special_ids(vocabs.target);
  const std::vector<Translation> translations =
      translate(model, sources, ids.bos, ids.eos, {.max_steps = steps});
  for (size_t i = 0; i < engs.size(); ++i) {
    std::vector<std::string> predicted;
    for (int32_t id : translations[i].tokens) predicted.push_back(vocabs.target.token(id));
    std::vector<std::string> label = tokenize_translation_side(fras[i]);
    label.pop_back();  // <eos>
    std::printf("%s => %s, bleu %.3f\n", engs[i].c_str(), detokenize_translation(predicted).c_str(),
                d2l_bleu(predicted, label, 2));
  }
  return 0;
}
