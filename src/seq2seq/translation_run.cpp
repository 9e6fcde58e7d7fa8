// A translation training run: settings and run.json, pairs and their split, model and trainer.
#include "recur/seq2seq/translation_run.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "lm/json_fields.h"
#include "lm/run_settings.h"
#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "recur/data/dataset.h"
#include "recur/io/atomic_file.h"
#include "recur/lm/memory_estimate.h"

namespace recur {

namespace fs = std::filesystem;

TranslationSettings default_translation_settings() {
  TranslationSettings s;
  s.model = {
      .cell = CellType::kGru, .num_layers = 2, .hidden_size = 256, .embedding_size = 256, .dropout = 0.2};
  s.train.batch = 128;
  s.train.steps = 9;
  s.train.optimizer = OptimizerKind::kAdam;
  s.train.lr = 0.005;
  s.train.clip = 1;
  s.train.epochs = 30;
  return s;
}

void validate(const TranslationSettings& s) {
  constexpr std::string_view kContext = "translate train";
  check_option(s.valid_fraction >= 0 && s.valid_fraction <= 0.9, kContext, "valid_fraction", "in [0, 0.9]",
               s.valid_fraction);
  check_option(s.max_pairs >= 0, kContext, "max_pairs", ">= 0", static_cast<double>(s.max_pairs));
  check_option(s.min_freq >= 0, kContext, "min_freq", ">= 0", static_cast<double>(s.min_freq));
  const Seq2SeqConfig& m = s.model;
  check_option(s.bucket_pool >= 1, kContext, "bucket_pool", ">= 1", static_cast<double>(s.bucket_pool));
  check_option(m.num_layers >= 1 && m.num_layers <= kMaxLayers, kContext, "num_layers", "in [1, 256]",
               m.num_layers);
  check_option(m.hidden_size >= 1 && m.hidden_size <= kMaxModelWidth, kContext, "hidden_size", "in [1, 2^24]",
               static_cast<double>(m.hidden_size));
  check_option(m.embedding_size >= 1 && m.embedding_size <= kMaxModelWidth, kContext, "embedding_size",
               "in [1, 2^24]", static_cast<double>(m.embedding_size));
  check_option(m.dropout >= 0 && m.dropout < 1, kContext, "dropout", "in [0, 1)", m.dropout);
  check_option(s.train.steps <= (int64_t{1} << 20), kContext, "steps", "<= 2^20",
               static_cast<double>(s.train.steps));
  validate(s.train);
}

std::string translation_settings_json(const TranslationSettings& s) {
  const TrainOptions& t = s.train;
  const auto [cell, nonlinearity] = run_cell_names(s.model.cell);
  nlohmann::ordered_json j = {{"kind", "translate"},
                              {"data", s.data},
                              {"valid", s.valid},
                              {"valid_pairs", s.valid_pairs},
                              {"valid_fraction", s.valid_fraction},
                              {"max_pairs", s.max_pairs},
                              {"min_freq", s.min_freq},
                              {"vocab_with_valid", s.vocab_with_valid},
                              {"long", long_sequences_name(s.long_sequences)},
                              {"bucket_pool", s.bucket_pool},
                              {"cell", cell},
                              {"nonlinearity", nonlinearity},
                              {"layers", s.model.num_layers},
                              {"hidden", s.model.hidden_size},
                              {"embed", s.model.embedding_size},
                              {"dropout", s.model.dropout},
                              {"bidirectional", s.model.bidirectional},
                              {"attention", attention_name(s.model.attention)},
                              {"batch", t.batch},
                              {"steps", t.steps}};
  add_training_loop_settings(t, j);
  return j.dump(1) + "\n";
}

TranslationSettings parse_translation_settings(const std::string& json_text, const std::string& source) {
  const nlohmann::json j = parse_json_file_text(json_text, source);
  const JsonFields f(j, source);
  if (f.string("kind") != "translate")
    f.fail("kind", "must be \"translate\" (a translation run), got \"" + f.string("kind") + "\"");
  TranslationSettings s = default_translation_settings();
  TrainOptions& t = s.train;
  s.data = f.string("data");
  s.valid = f.string("valid");
  s.valid_pairs = f.integer("valid_pairs", -1, INT64_MAX);
  s.valid_fraction = f.number("valid_fraction");
  s.max_pairs = f.integer("max_pairs", 0, INT64_MAX);
  s.min_freq = f.integer("min_freq", 0, INT64_MAX);
  if (!f.at("vocab_with_valid").is_boolean()) f.fail("vocab_with_valid", "must be true or false");
  s.vocab_with_valid = f.at("vocab_with_valid").get<bool>();
  // Absent in runs written before it existed, which all used pools of 50.
  s.bucket_pool =
      f.has("bucket_pool") ? f.integer("bucket_pool", 1, INT64_MAX) : TranslationBatcher::kPoolBatches;
  s.model.num_layers = static_cast<int>(f.integer("layers", 1, kMaxLayers));
  s.model.hidden_size = f.integer("hidden", 1, kMaxModelWidth);
  s.model.embedding_size = f.integer("embed", 1, kMaxModelWidth);
  s.model.dropout = f.number("dropout");
  if (!f.at("bidirectional").is_boolean()) f.fail("bidirectional", "must be true or false");
  s.model.bidirectional = f.at("bidirectional").get<bool>();
  t.batch = f.integer("batch", 1, INT32_MAX);
  t.steps = f.integer("steps", 1, INT32_MAX);
  read_training_loop_settings(f, t);
  f.parse([&] {
    s.long_sequences = parse_long_sequences(f.string("long"));
    s.model.cell = run_cell_type(f.string("cell"), f.string("nonlinearity"));
    s.model.attention = parse_attention(f.string("attention"));
  });
  return s;
}

TranslationSettings resume_translation_settings(const fs::path& run_dir, const ResumeOverrides& overrides) {
  const fs::path file = resumable_run_settings(run_dir);
  TranslationSettings s = parse_translation_settings(read_file(file), file.string());
  apply_resume_overrides(run_dir, overrides, s.train);
  return s;
}

TranslationRunData load_translation_data(const TranslationSettings& s) {
  TranslationRunData run;
  run.data_path = resolve_dataset(s.data);
  std::vector<TranslationPair> pairs = read_translation_pairs(run.data_path, s.max_pairs);
  run.pairs_read = static_cast<int64_t>(pairs.size());
  std::vector<TranslationPair> valid;
  if (!s.valid.empty()) {
    valid = read_translation_pairs(resolve_dataset(s.valid));
  } else {
    const auto n = static_cast<int64_t>(pairs.size());
    const int64_t n_valid = s.valid_pairs >= 0
                                ? std::min(s.valid_pairs, n)
                                : static_cast<int64_t>(static_cast<double>(n) * s.valid_fraction);
    valid.assign(std::make_move_iterator(pairs.end() - n_valid), std::make_move_iterator(pairs.end()));
    pairs.resize(static_cast<size_t>(n - n_valid));
  }
  if (pairs.empty())
    throw ValueError(
        fmt::format("translate train: no training pairs left in '{}' ({} read, {} for validation)",
                    run.data_path.string(), run.pairs_read, valid.size()));
  std::vector<TranslationPair> vocab_pairs;
  if (s.vocab_with_valid) {
    vocab_pairs = pairs;
    vocab_pairs.insert(vocab_pairs.end(), valid.begin(), valid.end());
  }
  TranslationVocabs vocabs = build_translation_vocabs(s.vocab_with_valid ? vocab_pairs : pairs, s.min_freq,
                                                      s.train.steps, s.long_sequences);
  EncodedPairs train = encode_translation_pairs(pairs, vocabs, s.train.steps, s.long_sequences);
  EncodedPairs encoded_valid = encode_translation_pairs(valid, vocabs, s.train.steps, s.long_sequences);
  if (train.pairs.empty())
    throw ValueError(fmt::format(
        "translate train: every training pair is longer than --steps {} (--long drop)", s.train.steps));
  run.dropped = train.dropped + encoded_valid.dropped;
  run.pairs = {
      .train = std::move(train.pairs), .valid = std::move(encoded_valid.pairs), .bucket_pool = s.bucket_pool};
  run.valid_raw = std::move(valid);
  run.text = {.source = std::move(vocabs.source), .target = std::move(vocabs.target), .steps = s.train.steps};
  return run;
}

void check_translation_fits(const TranslationSettings& s, int64_t source_vocab, int64_t target_vocab) {
  // Counted in double from the settings alone (nothing allocated yet): weights, gradients and
  // Adam's two moments; per layer and direction the saved gates and states of the encoder and the
  // decoder for batch x steps; the head's logits block and its gradient.
  Seq2SeqConfig config = s.model;
  config.source_vocab_size = source_vocab;
  config.target_vocab_size = target_vocab;
  double parameters = 0, embeddings = 0;
  for (const auto& [name, shape] : seq2seq_parameter_shapes(config)) {
    parameters += static_cast<double>(shape.numel());
    if (name.find("embedding") != std::string::npos) embeddings += static_cast<double>(shape.numel());
  }
  const double rows = static_cast<double>(s.train.batch) * static_cast<double>(s.train.steps);
  const double hd = static_cast<double>(s.model.hidden_size) * (s.model.bidirectional ? 2 : 1);
  MemoryEstimate e;
  e.parameter_bytes = 4 * parameters;
  e.state_bytes = 3 * 4 * parameters;
  e.activation_bytes =
      2 * 4 * rows * static_cast<double>(s.model.num_layers) * (gate_count(s.model.cell) + 4) * hd;
  e.logits_bytes = 2 * 4 * rows * static_cast<double>(target_vocab);
  std::string field = "hidden_size";
  std::string setting = fmt::format("hidden_size {} (x{} layers)", s.model.hidden_size, s.model.num_layers);
  if (embeddings > parameters / 2) {
    field = "embedding_size";
    setting = fmt::format("embedding_size {} (vocabularies {} and {})", s.model.embedding_size, source_vocab,
                          target_vocab);
  }
  if (e.activation_bytes + e.logits_bytes > e.parameter_bytes + e.state_bytes) {
    field = "batch";
    setting =
        fmt::format("batch {} x steps {} (target vocabulary {})", s.train.batch, s.train.steps, target_vocab);
  }
  e.largest_field = field;
  const std::string message = memory_shortfall(e, physical_memory_bytes(), "translate train", setting);
  if (!message.empty()) throw OptionError(field, message);
}

TranslationRun::TranslationRun(TranslationSettings settings) : settings_(std::move(settings)) {
  validate(settings_);
  data_ = load_translation_data(settings_);
  check_translation_fits(settings_, data_.text.source.size(), data_.text.target.size());
  std::error_code ec;
  fs::create_directories(settings_.train.out_dir, ec);
  if (ec || !fs::is_directory(settings_.train.out_dir))
    throw IoError("cannot create output folder '" + settings_.train.out_dir.string() + "'" +
                  (ec ? ": " + ec.message() : ""));
  lock_ = std::make_unique<RunFolderLock>(settings_.train.out_dir);
  repairs_ = recover_run_folder(settings_.train.out_dir);
  Seq2SeqConfig config = settings_.model;
  config.source_vocab_size = data_.text.source.size();
  config.target_vocab_size = data_.text.target.size();
  settings_.model = config;
  model_ = std::make_unique<Seq2SeqModel>(config);
  Rng init_rng(settings_.train.seed);
  model_->reset_parameters(init_rng);
  trainer_ = std::make_unique<Seq2SeqTrainer>(*model_, data_.text, data_.pairs, settings_.train);
}

void TranslationRun::save_settings(ExistingRun existing) {
  write_run_settings(settings_.train.out_dir, translation_settings_json(settings_), existing);
}

void TranslationRun::resume() { trainer_->resume(); }

TrainSummary TranslationRun::train(const std::atomic<bool>* stop, const TrainCallbacks& callbacks) {
  return trainer_->run(stop, callbacks);
}

}  // namespace recur
