// Translation model folders: model.safetensors (tensor names of d2l 1.0's PyTorch Seq2Seq, see
// seq2seq_model.h) and config.json:
//   {"format": "recur-seq2seq", "version": 1, "cell": "gru", "layers": 2, "hidden_size": 256,
//    "embedding_size": 256, "dropout": 0.2, "bidirectional": false, "attention": "none",
//    "source_vocab": [tokens in index order], "target_vocab": [...], "unk": "<unk>", "pad": "<pad>",
//    "bos": "<bos>", "eos": "<eos>", "steps": 9, "level": "word", "mode": "d2l-mt"}
// "steps" is the training length (the default longest translation); "level"/"mode" say that text
// goes through d2l's MTFraEng preprocessing (recur/seq2seq/translation_data.h). Folders are written
// whole and swapped in atomically by the trainer, as language-model folders are.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "recur/seq2seq/seq2seq_model.h"
#include "recur/text/vocab.h"

namespace recur {

// The text side of a translation model.
struct Seq2SeqText {
  Vocab source;
  Vocab target;
  int64_t steps = 9;
};

struct LoadedSeq2Seq {
  std::unique_ptr<Seq2SeqModel> model;
  Seq2SeqText text;
};

// Writes model.safetensors and config.json into `dir` (created if needed), each atomically.
void save_seq2seq_files(const std::filesystem::path& dir, const Seq2SeqModel& model, const Seq2SeqText& text);

// Reads and validates a folder: config.json's fields (the special tokens must be in the vocabularies,
// the vocabulary sizes must match the tensors), the safetensors header against the config, then the
// finite weights. Errors (IoError) name the file and the field or tensor.
[[nodiscard]] LoadedSeq2Seq load_seq2seq(const std::filesystem::path& dir);

[[nodiscard]] std::string seq2seq_config_json(const Seq2SeqConfig& model, const Seq2SeqText& text);
[[nodiscard]] std::pair<Seq2SeqConfig, Seq2SeqText> parse_seq2seq_config(const std::string& json_text,
                                                                         const std::string& source);

}  // namespace recur
