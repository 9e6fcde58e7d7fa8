// A corpus tokenized once (`recur prepare`) into a folder that training and evaluation map instead
// of reading the text: memory is bounded by the vocabulary and its counts, not by the corpus.
//
// Folder:
//   train.bin      the training ids (recur/text/token_file.h: "RECURTOK", version, width, count)
//   valid.bin      the validation ids, when a validation text or a validation fraction gave any
//   vocab          the vocabulary in recur's vocabulary file form (Vocab::save: "recur-vocab 1",
//                  index order, counts), built exactly as load_lm_corpus builds it from the text
//   prepared.json  {"format": "recur-prepared", "version": 1, "level", "mode", "min_freq", "source",
//                  "valid_source", "valid_fraction", "vocab_size", "counted_tokens", "train_tokens",
//                  "valid_tokens", "valid_unknown", "width"}
// The ids equal those `recur train` gets from the same text and flags (the validation split too),
// so a run on the folder gives the same bits as a run on the text.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "recur/lm/corpus.h"
#include "recur/text/token_ids.h"
#include "recur/text/vocab.h"

namespace recur {

struct PrepareProgress {
  int pass = 1;             // 1: reading and counting the training text, 2: writing the ids
  std::string file;         // the text being read
  int64_t bytes_done = 0;   // of this file (pass 2: of the spool)
  int64_t bytes_total = 0;  // this file's size (pass 2: the spool's)
  int64_t tokens = 0;       // tokens read so far in this pass
};

struct PrepareOptions {
  std::filesystem::path data;   // training text (a resolved path)
  std::filesystem::path valid;  // validation text; empty = the last valid_fraction of the data
  double valid_fraction = 0.1;  // in [0, 0.9], as `recur train --valid-fraction`
  TextEncoding encoding;
  int64_t min_freq = 0;
  std::filesystem::path out_dir;
  int64_t chunk_bytes = int64_t{4} << 20;                        // bytes read at a time (tests make it tiny)
  std::function<void(const PrepareProgress&)> on_progress = {};  // every chunk
};

struct PrepareSummary {
  int64_t vocab_size = 0;
  int width = 1;  // bytes per id
  int64_t train_tokens = 0;
  int64_t valid_tokens = 0;
  int64_t valid_unknown = 0;  // validation tokens outside the vocabulary (written as <unk>)
  int64_t bytes_read = 0;     // text bytes read (training and validation)
};

// Reads the training text once, streaming: counts the tokens while spooling each one's number to a
// temporary file in the folder (LEB128, about 1 to 2 bytes a token), then writes the ids from the
// spool; reads the validation text once. Writes the folder. The texts get read_text_file's checks (empty,
// blank, NUL, invalid UTF-8, with the byte offset). Throws IoError naming the file, ValueError (fewer than 2
// tokens, min_freq).
PrepareSummary prepare_corpus(const PrepareOptions& options);

// A prepared folder, mapped.
struct PreparedCorpus {
  TextEncoding encoding;
  int64_t min_freq = 0;
  Vocab vocab;
  TokenIds train;
  TokenIds valid;             // empty when the folder has no valid.bin
  int64_t valid_unknown = 0;  // as prepared.json says
};

// Whether `dir` is a folder holding prepared.json.
[[nodiscard]] bool is_prepared_folder(const std::filesystem::path& dir);

// Maps the folder's token files after checking them against prepared.json and the vocabulary
// (sizes, counts, ids below the vocabulary size). Throws IoError naming the file at fault.
[[nodiscard]] PreparedCorpus load_prepared_corpus(const std::filesystem::path& dir);

}  // namespace recur
