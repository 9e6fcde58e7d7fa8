// Translation training at library level (Seq2SeqTrainer, TranslationRun) on a toy task, reversing
// 3-5 words of 8: the loss falls, the run folder fills, an interrupted run resumes to the same bits,
// a resume of another run is refused, run.json round-trips, a NaN stops cleanly, and the data split.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <limits>
#include <random>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/seq2seq/translation_run.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {

constexpr const char* kWords[] = {"a", "b", "c", "d", "e", "f", "g", "h"};

// `count` lines "w1 w2 w3<TAB>w3 w2 w1" (3 to 5 words), the same for the same seed; `extra`
// replaces the first word of the last `extra_lines` sources (a word only those pairs have).
fs::path write_reverse_pairs(const fs::path& path, int count, uint32_t seed = 1,
                             const std::string& extra = "", int extra_lines = 0) {
  std::mt19937 gen(seed);
  std::ofstream out(path);
  for (int i = 0; i < count; ++i) {
    const int length = 3 + static_cast<int>(gen() % 3);
    std::vector<std::string> words;
    for (int k = 0; k < length; ++k) words.emplace_back(kWords[gen() % 8]);
    if (i >= count - extra_lines) words[0] = extra;
    for (int k = 0; k < length; ++k) out << (k ? " " : "") << words[static_cast<size_t>(k)];
    out << '\t';
    for (int k = length - 1; k >= 0; --k) out << words[static_cast<size_t>(k)] << (k ? " " : "");
    out << '\n';
  }
  return path;
}

// GRU 1 x 16, embedding 8, batch 16, 6 steps (5 words + <eos>), Adam 0.02, 3 epochs.
TranslationSettings toy_settings(const fs::path& data, const fs::path& out) {
  TranslationSettings s = default_translation_settings();
  s.data = data.string();
  s.valid_pairs = 20;
  s.min_freq = 1;
  s.model = {.cell = CellType::kGru, .num_layers = 1, .hidden_size = 16, .embedding_size = 8, .dropout = 0};
  s.train.batch = 16;
  s.train.steps = 6;
  s.train.lr = 0.02;
  s.train.epochs = 3;
  s.train.seed = 5;
  s.train.out_dir = out;
  return s;
}

std::vector<float> weights_of(TranslationRun& run) {
  const auto v = run.model().parameters().values();
  return {v.begin(), v.end()};
}

// Every field of the epoch rows but tokens/s (a timing).
void expect_same_history(const std::vector<EpochMetrics>& a, const std::vector<EpochMetrics>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].epoch, b[i].epoch) << "row " << i;
    EXPECT_EQ(a[i].step, b[i].step) << "row " << i;
    EXPECT_EQ(a[i].train_perplexity, b[i].train_perplexity) << "row " << i;
    EXPECT_EQ(a[i].valid_perplexity, b[i].valid_perplexity) << "row " << i;
    EXPECT_EQ(a[i].lr, b[i].lr) << "row " << i;
    EXPECT_EQ(a[i].grad_norm, b[i].grad_norm) << "row " << i;
  }
}

// The run's pairs and its vocabularies as a model folder holds them (tokens only, no counts), for
// a Seq2SeqTrainer without TranslationRun. (Vocabularies with build()'s counts cannot resume: see
// TranslationRun.ResumesAnInterruptedRunFromItsFolderAlone.)
struct ToyData {
  Seq2SeqText text;
  Seq2SeqTrainData pairs;
};
ToyData toy_data(const TranslationSettings& s) {
  const TranslationRunData d = load_translation_data(s);
  return {.text = {.source = Vocab::from_tokens(d.text.source.tokens()),
                   .target = Vocab::from_tokens(d.text.target.tokens()),
                   .steps = d.text.steps},
          .pairs = d.pairs};
}

struct TrainerRun {
  std::vector<float> weights;
  TrainSummary summary;
};

// A model of `s` initialized from its seed, trained by a Seq2SeqTrainer into s.train.out_dir,
// first resumed from there when `resume`, stopped after step `stop_step` when that is > 0.
TrainerRun run_trainer(const TranslationSettings& s, const ToyData& data, bool resume = false,
                       int64_t stop_step = 0) {
  Seq2SeqConfig config = s.model;
  config.source_vocab_size = data.text.source.size();
  config.target_vocab_size = data.text.target.size();
  Seq2SeqModel model(config);
  Rng rng(s.train.seed);
  model.reset_parameters(rng);
  Seq2SeqTrainer trainer(model, data.text, data.pairs, s.train);
  if (resume) trainer.resume();
  std::atomic<bool> stop{false};
  TrainCallbacks callbacks;
  callbacks.on_step = [&](const TrainProgress& p) {
    if (p.step == stop_step) stop = true;
  };
  TrainSummary summary = trainer.run(&stop, callbacks);
  const auto v = model.parameters().values();
  return {{v.begin(), v.end()}, std::move(summary)};
}

// A finished run of `s` (its folder holds run.json, checkpoint/, best/ afterwards).
TrainSummary train_new_run(const TranslationSettings& s) {
  TranslationRun run(s);
  run.save_settings();
  return run.train();
}

}  // namespace

TEST(Seq2SeqTrainer, LossFallsAndTheRunFolderFills) {
  const auto dir = test::make_temp_dir("s2s-train");
  TranslationSettings s = toy_settings(write_reverse_pairs(dir / "pairs.tsv", 200), dir / "run");
  s.train.epochs = 12;
  TranslationRun run(s);
  run.save_settings();
  std::vector<TrainProgress> steps;
  std::vector<EpochMetrics> epochs;
  const TrainSummary summary =
      run.train(nullptr, {.on_step = [&](const TrainProgress& p) { steps.push_back(p); },
                          .on_epoch = [&](const EpochMetrics& m) { epochs.push_back(m); }});
  EXPECT_EQ(summary.reason, StopReason::kFinished);
  ASSERT_EQ(summary.history.size(), 12u);
  ASSERT_EQ(epochs.size(), 12u);
  // 180 training pairs in batches of 16: 12 steps per epoch (the last batch holds 4).
  ASSERT_EQ(steps.size(), 144u);
  EXPECT_EQ(steps[0].batches_per_epoch, 12);
  EXPECT_EQ(steps.back().step, 144);
  EXPECT_EQ(summary.history.back().step, 144);
  // From about the vocabulary size (12 tokens) to a fraction of it.
  const EpochMetrics &first = summary.history.front(), &last = summary.history.back();
  EXPECT_GT(first.train_perplexity, 6.0);
  EXPECT_LT(last.train_perplexity, 0.35 * first.train_perplexity);
  EXPECT_LT(last.valid_perplexity, 0.6 * first.valid_perplexity);
  for (const EpochMetrics& m : summary.history) EXPECT_GE(m.valid_perplexity, summary.best_valid_perplexity);

  const fs::path out = dir / "run";
  for (const char* file : {"run.json", "checkpoint/config.json", "checkpoint/model.safetensors",
                           "checkpoint/train_state.json", "checkpoint/train_state.safetensors",
                           "best/config.json", "best/model.safetensors", "metrics.csv", "perplexity.svg"})
    EXPECT_TRUE(fs::exists(out / file)) << file;
  const std::string csv = read_file(out / "metrics.csv");
  EXPECT_EQ(csv.rfind("epoch,step,train_perplexity,valid_perplexity,tokens_per_s,lr,grad_norm\n", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 13);
  EXPECT_NE(read_file(out / "perplexity.svg").find("<svg"), std::string::npos);
  // The best model, saved with the run's vocabularies; the checkpoint is the last model.
  const LoadedSeq2Seq best = load_seq2seq(out / "best");
  EXPECT_EQ(best.text.source.tokens(), run.data().text.source.tokens());
  EXPECT_EQ(best.text.target.tokens(), run.data().text.target.tokens());
  EXPECT_EQ(best.text.steps, 6);
  const LoadedSeq2Seq checkpoint = load_seq2seq(out / "checkpoint");
  const auto saved = checkpoint.model->parameters().values();
  EXPECT_EQ(std::vector<float>(saved.begin(), saved.end()), weights_of(run));
}

// A run stopped mid-epoch (the stop flag set from on_step) and resumed from its checkpoint ends
// with the bits and the history of an uninterrupted one: weights, Adam's moments, the epoch's batch
// plan and position, the dropout generator.
TEST(Seq2SeqTrainer, ResumeMidEpochGivesIdenticalWeightsAndHistory) {
  const auto dir = test::make_temp_dir("s2s-resume");
  const fs::path data = write_reverse_pairs(dir / "pairs.tsv", 120);
  struct Variant {
    CellType cell;
    int layers;
    double dropout;
    AttentionKind attention;
  };
  for (const Variant v : {Variant{CellType::kGru, 1, 0.0, AttentionKind::kNone},
                          Variant{CellType::kLstm, 2, 0.2, AttentionKind::kBahdanau}}) {
    SCOPED_TRACE(std::string(cell_name(v.cell)) + " " + std::string(attention_name(v.attention)));
    TranslationSettings s = toy_settings(data, dir / ("a-" + std::string(cell_name(v.cell))));
    s.model.cell = v.cell;
    s.model.num_layers = v.layers;
    s.model.dropout = v.dropout;
    s.model.attention = v.attention;
    const ToyData toy = toy_data(s);
    const TrainerRun whole = run_trainer(s, toy);
    // 100 training pairs: 7 batches per epoch; stop after step 10, in the middle of epoch 2.
    s.train.out_dir = dir / ("b-" + std::string(cell_name(v.cell)));
    const TrainerRun cut = run_trainer(s, toy, false, 10);
    ASSERT_EQ(cut.summary.reason, StopReason::kInterrupted);
    ASSERT_EQ(cut.summary.history.size(), 2u);  // epoch 1, and the partial epoch 2 (not in metrics.csv)
    EXPECT_EQ(cut.summary.history.back().epoch, 2);
    EXPECT_EQ(cut.summary.history.back().step, 10);
    EXPECT_NE(cut.weights, whole.weights);
    const std::string csv = read_file(s.train.out_dir / "metrics.csv");
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2);  // the header and epoch 1
    const TrainerRun rest = run_trainer(s, toy, true);
    EXPECT_EQ(rest.summary.reason, StopReason::kFinished);
    ASSERT_EQ(rest.weights.size(), whole.weights.size());
    for (size_t i = 0; i < rest.weights.size(); ++i)
      ASSERT_EQ(rest.weights[i], whole.weights[i]) << "parameter " << i;
    expect_same_history(rest.summary.history, whole.summary.history);
    EXPECT_EQ(rest.summary.best_valid_perplexity, whole.summary.best_valid_perplexity);
    EXPECT_EQ(read_file(s.train.out_dir / "best" / "model.safetensors"),
              read_file(dir / ("a-" + std::string(cell_name(v.cell))) / "best" / "model.safetensors"));
  }
}

// A time budget that runs out inside epoch 1 in two sessions in a row leaves one row for epoch 1
// (each replacing the last, in metrics.csv too) and a checkpoint that resumes to the weights and
// history of a run never stopped.
TEST(Seq2SeqTrainer, TimeBudgetStopsInsideOneEpochKeepOneRowEach) {
  const auto dir = test::make_temp_dir("s2s-budget");
  TranslationSettings s = toy_settings(write_reverse_pairs(dir / "pairs.tsv", 120), dir / "whole");
  const ToyData toy = toy_data(s);
  const TrainerRun whole = run_trainer(s, toy);
  s.train.out_dir = dir / "budgeted";
  s.train.time_budget_s = 1e-9;  // stops after the first step of each session
  const TrainerRun first = run_trainer(s, toy);
  ASSERT_EQ(first.summary.reason, StopReason::kTimeBudget);
  ASSERT_EQ(first.summary.history.size(), 1u);
  const TrainerRun second = run_trainer(s, toy, true);
  ASSERT_EQ(second.summary.reason, StopReason::kTimeBudget);
  ASSERT_EQ(second.summary.history.size(), 1u);
  EXPECT_EQ(second.summary.history[0].epoch, 1);
  EXPECT_EQ(second.summary.history[0].step, 2);
  const std::string csv = read_file(s.train.out_dir / "metrics.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2);  // the header and epoch 1 so far
  s.train.time_budget_s = 0;
  const TrainerRun rest = run_trainer(s, toy, true);
  EXPECT_EQ(rest.summary.reason, StopReason::kFinished);
  EXPECT_EQ(rest.weights, whole.weights);
  expect_same_history(rest.summary.history, whole.summary.history);
}

// A finished run resumed with more epochs continues as if it had been asked for them at first.
TEST(Seq2SeqTrainer, ResumeAfterTheLastEpochAddsEpochs) {
  const auto dir = test::make_temp_dir("s2s-more");
  TranslationSettings s = toy_settings(write_reverse_pairs(dir / "pairs.tsv", 60), dir / "four");
  const ToyData toy = toy_data(s);
  s.train.epochs = 4;
  const TrainerRun four = run_trainer(s, toy);
  s.train.out_dir = dir / "three";
  s.train.epochs = 3;
  (void)run_trainer(s, toy);
  s.train.epochs = 4;
  const TrainerRun resumed = run_trainer(s, toy, true);
  EXPECT_EQ(resumed.summary.history.size(), 4u);
  EXPECT_EQ(resumed.weights, four.weights);
  // Nothing left to do: the run ends at once with its history.
  const TrainerRun done = run_trainer(s, toy, true);
  EXPECT_EQ(done.summary.reason, StopReason::kFinished);
  EXPECT_EQ(done.summary.history.size(), 4u);
  EXPECT_EQ(done.weights, four.weights);
}

TEST(Seq2SeqTrainer, ResumeRefusesAnotherRunsCheckpoint) {
  const auto dir = test::make_temp_dir("s2s-refuse");
  TranslationSettings s = toy_settings(write_reverse_pairs(dir / "pairs.tsv", 60), dir / "run");
  s.train.epochs = 1;
  const ToyData toy = toy_data(s);
  (void)run_trainer(s, toy);
  const fs::path checkpoint = dir / "run" / "checkpoint";
  const std::string before = read_file(checkpoint / "model.safetensors");
  auto expect_refused = [&](const TranslationSettings& other, const ToyData& other_data,
                            std::initializer_list<std::string> words) {
    test::expect_error_words<Error>([&] { (void)run_trainer(other, other_data, true); }, words);
  };
  // Another vocabulary: "zebra" starts the last 25 sources, 5 of them training pairs.
  TranslationSettings vocab = s;
  vocab.data = write_reverse_pairs(dir / "other.tsv", 60, 1, "zebra", 25).string();
  expect_refused(vocab, toy_data(vocab), {"vocabularies", "config.json", "differ"});
  TranslationSettings hidden = s;
  hidden.model.hidden_size = 12;
  expect_refused(hidden, toy, {"model (config.json) differs"});
  TranslationSettings attention = s;
  attention.model.attention = AttentionKind::kBahdanau;
  expect_refused(attention, toy, {"model (config.json) differs"});
  TranslationSettings batch = s;
  batch.train.batch = 8;
  expect_refused(batch, toy,
                 {"train_state.json", "\"options.batch\"", "is 16 in the checkpoint, 8 in this run"});
  TranslationSettings optimizer = s;
  optimizer.train.optimizer = OptimizerKind::kSgd;
  expect_refused(optimizer, toy, {"train_state.json", "\"options.optimizer\"", "sgd in this run"});
  // Seq2SeqTrainer::resume documents ValueError for another vocabulary or model (and for another
  // batch, steps or optimizer, which come from train_state.json as IoError).
  EXPECT_THROW((void)run_trainer(hidden, toy, true), ValueError);
  // Nothing to resume from.
  TranslationSettings fresh = s;
  fresh.train.out_dir = dir / "fresh";
  test::expect_error_words<IoError>([&] { (void)run_trainer(fresh, toy, true); },
                                    {"checkpoint", "does not exist"});
  // None of this touched the checkpoint.
  EXPECT_EQ(read_file(checkpoint / "model.safetensors"), before);
}

// `recur translate train --resume` at library level: run.json, the data read again, the vocabularies
// built again, the checkpoint. Ends with the weights of an uninterrupted run.
TEST(TranslationRun, ResumesAnInterruptedRunFromItsFolderAlone) {
  const auto dir = test::make_temp_dir("s2s-run-resume");
  const fs::path data = write_reverse_pairs(dir / "pairs.tsv", 120);
  std::vector<float> uninterrupted;
  {
    TranslationRun run(toy_settings(data, dir / "a"));
    run.save_settings();
    (void)run.train();
    uninterrupted = weights_of(run);
  }
  {
    TranslationRun run(toy_settings(data, dir / "b"));
    run.save_settings();
    std::atomic<bool> stop{false};
    TrainCallbacks callbacks;
    callbacks.on_step = [&](const TrainProgress& p) {
      if (p.step == 10) stop = true;
    };
    ASSERT_EQ(run.train(&stop, callbacks).reason, StopReason::kInterrupted);
  }
  TranslationRun resumed(resume_translation_settings(dir / "b", {}));
  // Fails while Seq2SeqTrainer::resume compares the vocabularies with Vocab's operator==, which
  // includes the training counts: build() has them, the config.json it reads back has none.
  ASSERT_NO_THROW(resumed.resume());
  EXPECT_EQ(resumed.train().reason, StopReason::kFinished);
  EXPECT_EQ(weights_of(resumed), uninterrupted);
}

TEST(TranslationRun, ANewRunKeepsAnEarlierOneUnlessReplacing) {
  const auto dir = test::make_temp_dir("s2s-exists");
  const fs::path data = write_reverse_pairs(dir / "pairs.tsv", 40);
  TranslationSettings s = toy_settings(data, dir / "run");
  s.train.epochs = 1;
  (void)train_new_run(s);
  {
    TranslationRun again(s);
    EXPECT_THROW(again.save_settings(), RunExistsError);
    EXPECT_TRUE(fs::exists(dir / "run" / "checkpoint"));
  }
  TranslationRun replace(s);
  replace.save_settings(ExistingRun::kReplace);
  EXPECT_FALSE(fs::exists(dir / "run" / "checkpoint"));
  EXPECT_FALSE(fs::exists(dir / "run" / "metrics.csv"));
  EXPECT_TRUE(fs::exists(dir / "run" / "run.json"));
  // The folder is locked while a run holds it.
  test::expect_error_words<IoError>([&] { TranslationRun second(s); }, {"in use"});
}

TEST(TranslationSettings, RunJsonRoundTripKeepsEveryField) {
  TranslationSettings s = default_translation_settings();
  s.data = "pairs.tsv";
  s.valid = "valid.tsv";
  s.valid_pairs = 7;
  s.valid_fraction = 0.25;
  s.max_pairs = 300;
  s.min_freq = 3;
  s.vocab_with_valid = true;
  s.long_sequences = LongSequences::kDrop;
  s.model = {.cell = CellType::kRnnRelu,
             .num_layers = 3,
             .hidden_size = 24,
             .embedding_size = 12,
             .dropout = 0.125,
             .bidirectional = true,
             .attention = AttentionKind::kBahdanau};
  s.bucket_pool = 7;
  s.train.batch = 64;
  s.train.steps = 11;
  s.train.optimizer = OptimizerKind::kAdamW;
  s.train.lr = 0.003;
  s.train.momentum = 0.5;
  s.train.weight_decay = 0.01;
  s.train.clip = 2.5;
  s.train.lr_schedule = LrScheduleKind::kStep;
  s.train.lr_gamma = 0.75;
  s.train.epochs = 17;
  s.train.time_budget_s = 90;
  s.train.patience = 4;
  s.train.seed = 18446744073709551615ull;
  const std::string json = translation_settings_json(s);
  const TranslationSettings back = parse_translation_settings(json, "run.json");
  EXPECT_EQ(translation_settings_json(back), json);
  EXPECT_EQ(back.data, "pairs.tsv");
  EXPECT_EQ(back.valid, "valid.tsv");
  EXPECT_EQ(back.valid_pairs, 7);
  EXPECT_EQ(back.valid_fraction, 0.25);
  EXPECT_EQ(back.max_pairs, 300);
  EXPECT_EQ(back.min_freq, 3);
  EXPECT_TRUE(back.vocab_with_valid);
  EXPECT_EQ(back.long_sequences, LongSequences::kDrop);
  EXPECT_EQ(back.bucket_pool, 7);
  EXPECT_EQ(back.model.cell, CellType::kRnnRelu);
  EXPECT_EQ(back.model.num_layers, 3);
  EXPECT_EQ(back.model.hidden_size, 24);
  EXPECT_EQ(back.model.embedding_size, 12);
  EXPECT_EQ(back.model.dropout, 0.125);
  EXPECT_TRUE(back.model.bidirectional);
  EXPECT_EQ(back.model.attention, AttentionKind::kBahdanau);
  EXPECT_EQ(back.train.batch, 64);
  EXPECT_EQ(back.train.steps, 11);
  EXPECT_EQ(back.train.optimizer, OptimizerKind::kAdamW);
  EXPECT_EQ(back.train.lr, 0.003);
  EXPECT_EQ(back.train.momentum, 0.5);
  EXPECT_EQ(back.train.weight_decay, 0.01);
  EXPECT_EQ(back.train.clip, 2.5);
  EXPECT_EQ(back.train.lr_schedule, LrScheduleKind::kStep);
  EXPECT_EQ(back.train.lr_gamma, 0.75);
  EXPECT_EQ(back.train.epochs, 17);
  EXPECT_EQ(back.train.time_budget_s, 90);
  EXPECT_EQ(back.train.patience, 4);
  EXPECT_EQ(back.train.seed, 18446744073709551615ull);
  for (const char* key : {"\"kind\": \"translate\"", "\"long\": \"drop\"", "\"cell\": \"rnn\"",
                          "\"nonlinearity\": \"relu\"", "\"attention\": \"bahdanau\"", "\"hidden\": 24"})
    EXPECT_NE(json.find(key), std::string::npos) << key << "\n" << json;
  // The defaults are d2l 10.7's recipe and round-trip too.
  const std::string defaults = translation_settings_json(default_translation_settings());
  EXPECT_EQ(translation_settings_json(parse_translation_settings(defaults, "d.json")), defaults);
  for (const char* key : {"\"hidden\": 256", "\"embed\": 256", "\"layers\": 2", "\"dropout\": 0.2",
                          "\"batch\": 128", "\"steps\": 9", "\"lr\": 0.005", "\"epochs\": 30"})
    EXPECT_NE(defaults.find(key), std::string::npos) << key << "\n" << defaults;
}

TEST(TranslationSettings, RunJsonErrorsNameTheFileAndField) {
  const std::string good = translation_settings_json(default_translation_settings());
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string json = good;
    const size_t at = json.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) json.replace(at, from.size(), to);
    return json;
  };
  auto expect_io_error = [](const std::string& json, std::initializer_list<std::string> words) {
    test::expect_error_words<IoError>([&] { (void)parse_translation_settings(json, "runs/x/run.json"); },
                                      words);
  };
  expect_io_error(edited("\"kind\": \"translate\"", "\"kind\": \"language-model\""),
                  {"runs/x/run.json", "\"kind\"", "must be \"translate\"", "language-model"});
  expect_io_error(edited("\"kind\": \"translate\",", ""), {"runs/x/run.json", "missing field \"kind\""});
  expect_io_error(edited("\"hidden\": 256", "\"hidden\": 0"), {"runs/x/run.json", "\"hidden\""});
  expect_io_error(edited("\"hidden\": 256", "\"hidden\": \"256\""), {"runs/x/run.json", "\"hidden\""});
  expect_io_error(edited("\"batch\": 128", "\"batch\": 12.5"), {"runs/x/run.json", "\"batch\""});
  expect_io_error(edited("\"vocab_with_valid\": false", "\"vocab_with_valid\": 0"),
                  {"runs/x/run.json", "\"vocab_with_valid\"", "true or false"});
  expect_io_error(edited("\"attention\": \"none\"", "\"attention\": \"luong\""),
                  {"runs/x/run.json", "luong"});
  expect_io_error(edited("\"long\": \"truncate\"", "\"long\": \"wrap\""), {"runs/x/run.json", "wrap"});
  expect_io_error(edited("\"cell\": \"gru\"", "\"cell\": \"mamba\""), {"runs/x/run.json", "mamba"});
  expect_io_error(edited("\"seed\": 42", "\"seed\": -1"), {"runs/x/run.json", "\"seed\""});
  expect_io_error(edited("\"bucket_pool\": 1", "\"bucket_pool\": 0"), {"runs/x/run.json", "\"bucket_pool\""});
  // Runs written before the key existed used pools of 50.
  EXPECT_EQ(parse_translation_settings(edited("\"bucket_pool\": 1,", ""), "old/run.json").bucket_pool, 50);
  expect_io_error("{\"kind\": \"translate\"", {"runs/x/run.json", "not valid JSON"});
  expect_io_error("[]", {"runs/x/run.json"});
  // A language model's run.json is not a translation run's.
  expect_io_error("{\"data\": \"timemachine\", \"cell\": \"gru\"}", {"runs/x/run.json", "\"kind\""});
}

TEST(TranslationSettings, ValidateNamesTheField) {
  auto expect_field = [](const TranslationSettings& s, const std::string& field) {
    try {
      validate(s);
      ADD_FAILURE() << "expected OptionError for " << field;
    } catch (const OptionError& e) {
      EXPECT_EQ(e.field(), field) << e.what();
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  const TranslationSettings good = toy_settings("pairs.tsv", "out");
  EXPECT_NO_THROW(validate(good));
  TranslationSettings s = good;
  s.valid_fraction = 0.95;
  expect_field(s, "valid_fraction");
  s = good;
  s.max_pairs = -1;
  expect_field(s, "max_pairs");
  s = good;
  s.model.hidden_size = 0;
  expect_field(s, "hidden_size");
  s = good;
  s.model.embedding_size = 0;
  expect_field(s, "embedding_size");
  s = good;
  s.model.num_layers = 0;
  expect_field(s, "num_layers");
  s = good;
  s.model.dropout = 1;
  expect_field(s, "dropout");
  s = good;
  s.train.batch = 0;
  expect_field(s, "batch");
  s = good;
  s.train.lr = -1;
  expect_field(s, "lr");
}

TEST(TranslationSettings, ResumeReadsRunJsonWithOverrides) {
  const auto dir = test::make_temp_dir("s2s-resume-settings");
  test::expect_error_words<IoError>([&] { (void)resume_translation_settings(dir, {}); },
                                    {"cannot resume", "run.json", "missing"});
  TranslationSettings s = toy_settings("pairs.tsv", "elsewhere");
  s.train.time_budget_s = 30;
  write_file_atomically(dir / "run.json", translation_settings_json(s));
  TranslationSettings r = resume_translation_settings(dir, {});
  EXPECT_EQ(r.train.out_dir, dir);
  EXPECT_EQ(r.train.epochs, 3);
  EXPECT_EQ(r.train.time_budget_s, 0.0);  // a budget is for one session
  r = resume_translation_settings(dir, {.epochs = 9, .time_budget_s = 5.0, .patience = 2});
  EXPECT_EQ(r.train.epochs, 9);
  EXPECT_EQ(r.train.time_budget_s, 5.0);
  EXPECT_EQ(r.train.patience, 2);
}

// A NaN in the weights stops the run at its first step with NumericError; the last checkpoint is
// kept as it was and still loads.
TEST(Seq2SeqTrainer, NonFiniteLossStopsAndKeepsTheLastCheckpoint) {
  const auto dir = test::make_temp_dir("s2s-nan");
  const fs::path out = dir / "run";
  TranslationSettings s = toy_settings(write_reverse_pairs(dir / "pairs.tsv", 60), out);
  s.train.epochs = 1;
  (void)train_new_run(s);
  const std::string before = read_file(out / "checkpoint" / "model.safetensors");
  s.train.epochs = 3;
  TranslationRun run(s);
  run.model().parameters().value("decoder.dense.bias")[0] = std::numeric_limits<float>::quiet_NaN();
  test::expect_error_words<NumericError>(
      [&] { (void)run.train(); },
      {"training loss", "epoch 1, step 1", "last good checkpoint is kept in", "checkpoint"});
  EXPECT_EQ(read_file(out / "checkpoint" / "model.safetensors"), before);
  EXPECT_NO_THROW((void)load_seq2seq(out / "checkpoint"));
}

// A learning rate of 1e38: Adam's first step leaves NaN in the weights with a finite loss and
// gradient norm; the second step's loss is NaN and stops the run. The message points at the
// checkpoint as "the last good" one, so that checkpoint must load. (It fails while the trainer
// saves the end-of-epoch checkpoint without checking that the weights are finite: here every epoch
// is one step, so the first epoch's checkpoint already holds the NaN.)
// A step can leave the loss and the gradient finite and the weights not (lr near float's range):
// such weights are never written, and the last good checkpoint stays loadable and unchanged.
TEST(Seq2SeqTrainer, DivergedWeightsAreNeverSavedAsACheckpoint) {
  const auto dir = test::make_temp_dir("s2s-diverge");
  const fs::path out = dir / "run";
  TranslationSettings s = toy_settings(write_reverse_pairs(dir / "pairs.tsv", 60), out);
  s.train.batch = 64;  // 40 training pairs: one step per epoch
  s.train.epochs = 1;
  std::vector<float> good;
  {
    TranslationRun run(s);
    run.save_settings();
    (void)run.train();
    const LoadedSeq2Seq saved = load_seq2seq(out / "checkpoint");
    const auto values = saved.model->parameters().values();
    good.assign(values.begin(), values.end());
  }
  s.train.lr = 1e38;
  s.train.epochs = 3;
  {
    TranslationRun run(s);
    run.resume();
    std::vector<EpochMetrics> epochs;
    TrainCallbacks callbacks;
    callbacks.on_epoch = [&](const EpochMetrics& m) { epochs.push_back(m); };
    test::expect_error_words<NumericError>([&] { (void)run.train(nullptr, callbacks); },
                                           {"non-finite", "epoch 2", "last good checkpoint is kept in"});
    EXPECT_TRUE(epochs.empty());
  }
  const LoadedSeq2Seq after = load_seq2seq(out / "checkpoint");
  const auto kept = after.model->parameters().values();
  EXPECT_TRUE(std::equal(kept.begin(), kept.end(), good.begin(), good.end()));
  // Diverging before any checkpoint: nothing is written, and the message says so.
  const fs::path fresh = dir / "fresh";
  TranslationSettings f = toy_settings(write_reverse_pairs(dir / "pairs2.tsv", 60), fresh);
  f.train.batch = 64;
  f.train.lr = 1e38;
  TranslationRun run(f);
  run.save_settings();
  test::expect_error_words<NumericError>([&] { (void)run.train(); },
                                         {"non-finite", "no checkpoint was saved"});
  EXPECT_FALSE(fs::exists(fresh / "checkpoint"));
  EXPECT_FALSE(fs::exists(fresh / "best"));
}

TEST(TranslationRunData, ValidationSplitTakesTheLastPairs) {
  const auto dir = test::make_temp_dir("s2s-split");
  const fs::path data = write_reverse_pairs(dir / "pairs.tsv", 50);
  TranslationSettings s = toy_settings(data, dir / "out");
  s.valid_pairs = 7;
  TranslationRunData d = load_translation_data(s);
  EXPECT_EQ(d.data_path, data);
  EXPECT_EQ(d.pairs_read, 50);
  EXPECT_EQ(d.pairs.train.size(), 43u);
  ASSERT_EQ(d.pairs.valid.size(), 7u);
  ASSERT_EQ(d.valid_raw.size(), 7u);
  EXPECT_EQ(d.valid_raw.front().line, 44);
  EXPECT_EQ(d.valid_raw.back().line, 50);
  EXPECT_EQ(d.pairs.valid.front().line, 44);
  EXPECT_EQ(d.pairs.train.back().line, 43);
  EXPECT_EQ(d.dropped, 0);
  EXPECT_EQ(d.text.steps, 6);
  // < 0: the fraction, rounded down: floor(50 * 0.25) = 12.
  s.valid_pairs = -1;
  s.valid_fraction = 0.25;
  d = load_translation_data(s);
  EXPECT_EQ(d.pairs.train.size(), 38u);
  EXPECT_EQ(d.pairs.valid.size(), 12u);
  s.valid_fraction = 0;
  EXPECT_TRUE(load_translation_data(s).pairs.valid.empty());
  s.valid_pairs = 0;
  s.valid_fraction = 0.5;
  EXPECT_TRUE(load_translation_data(s).pairs.valid.empty());
  // max_pairs reads the first pairs only, before the split.
  s.valid_pairs = 5;
  s.max_pairs = 30;
  d = load_translation_data(s);
  EXPECT_EQ(d.pairs_read, 30);
  EXPECT_EQ(d.pairs.train.size(), 25u);
  EXPECT_EQ(d.valid_raw.back().line, 30);
  // Everything for validation leaves nothing to train on.
  s.max_pairs = 0;
  s.valid_pairs = 50;
  test::expect_error_words<ValueError>([&] { (void)load_translation_data(s); },
                                       {"no training pairs", "pairs.tsv", "50 read"});
  s.valid_pairs = 500;  // more than there are: all of them
  EXPECT_THROW((void)load_translation_data(s), ValueError);
  // A validation file instead of a split: all of data trains.
  s.valid_pairs = 3;
  s.valid = write_reverse_pairs(dir / "valid.tsv", 9, 2).string();
  d = load_translation_data(s);
  EXPECT_EQ(d.pairs.train.size(), 50u);
  EXPECT_EQ(d.pairs.valid.size(), 9u);
  EXPECT_EQ(d.valid_raw.front().line, 1);
}

TEST(TranslationRunData, VocabWithValidAddsTheValidationWords) {
  const auto dir = test::make_temp_dir("s2s-vocab");
  // "zebra" starts the last 4 sources, which are all validation pairs.
  TranslationSettings s = toy_settings(write_reverse_pairs(dir / "pairs.tsv", 40, 3, "zebra", 4), dir / "o");
  s.valid_pairs = 10;
  const TranslationRunData train_only = load_translation_data(s);
  EXPECT_FALSE(train_only.text.source.find("zebra").has_value());
  EXPECT_FALSE(train_only.text.target.find("zebra").has_value());
  EXPECT_EQ(train_only.text.source.size(), 4 + 8);  // <unk> <pad> <bos> <eos> and a..h
  // Its validation ids hold <unk> where "zebra" was.
  const auto& last = train_only.pairs.valid.back();
  EXPECT_EQ(last.source.front(), train_only.text.source.unk_index());
  s.vocab_with_valid = true;
  const TranslationRunData with_valid = load_translation_data(s);
  ASSERT_TRUE(with_valid.text.source.find("zebra").has_value());
  EXPECT_TRUE(with_valid.text.target.find("zebra").has_value());
  EXPECT_EQ(with_valid.text.source.size(), 13);
  EXPECT_EQ(with_valid.pairs.valid.back().source.front(), *with_valid.text.source.find("zebra"));
  // min_freq counts over the same pairs: 4 "zebra"s are kept at 4 and dropped at 5.
  s.min_freq = 5;
  EXPECT_TRUE(load_translation_data(s).text.source.find("zebra").has_value() == false);
}

TEST(TranslationRunData, LongPairsAreDroppedOrTruncated) {
  const auto dir = test::make_temp_dir("s2s-long");
  // 50 pairs of 3-5 words (4-6 tokens with <eos>); at steps 5 the 5-word ones do not fit.
  const fs::path data = write_reverse_pairs(dir / "pairs.tsv", 50);
  const auto pairs = read_translation_pairs(data);
  int64_t long_train = 0, long_valid = 0;
  for (size_t i = 0; i < pairs.size(); ++i)
    if (pairs[i].source.size() > 5) ++(i < 40 ? long_train : long_valid);
  ASSERT_GT(long_train, 0);
  ASSERT_GT(long_valid, 0);
  TranslationSettings s = toy_settings(data, dir / "o");
  s.valid_pairs = 10;
  s.train.steps = 5;
  s.long_sequences = LongSequences::kDrop;
  const TranslationRunData dropped = load_translation_data(s);
  EXPECT_EQ(dropped.dropped, long_train + long_valid);
  EXPECT_EQ(static_cast<int64_t>(dropped.pairs.train.size()), 40 - long_train);
  EXPECT_EQ(static_cast<int64_t>(dropped.pairs.valid.size()), 10 - long_valid);
  EXPECT_EQ(dropped.valid_raw.size(), 10u);  // BLEU's references are every validation pair as read
  for (const auto& p : dropped.pairs.train) {
    EXPECT_LE(p.source.size(), 5u);
    EXPECT_EQ(p.source.back(), *dropped.text.source.find("<eos>")) << "line " << p.line;
  }
  s.long_sequences = LongSequences::kTruncate;
  const TranslationRunData truncated = load_translation_data(s);
  EXPECT_EQ(truncated.dropped, 0);
  EXPECT_EQ(truncated.pairs.train.size(), 40u);
  for (const auto& p : truncated.pairs.train) EXPECT_LE(p.source.size(), 5u);
  // Every training pair too long: an error that names --steps.
  s.long_sequences = LongSequences::kDrop;
  s.train.steps = 3;
  EXPECT_THROW((void)load_translation_data(s), ValueError);
}

TEST(TranslationRunData, MissingAndMalformedFilesNameThePath) {
  const auto dir = test::make_temp_dir("s2s-files");
  TranslationSettings s = toy_settings(dir / "nowhere.tsv", dir / "o");
  test::expect_error_words<IoError>([&] { (void)load_translation_data(s); }, {"nowhere.tsv"});
  {
    std::ofstream bad(dir / "bad.tsv");
    bad << "a b\tb a\nno tab here\n";
  }
  s.data = (dir / "bad.tsv").string();
  test::expect_error_words<IoError>([&] { (void)load_translation_data(s); }, {"bad.tsv:2", "no tab"});
  s.train.patience = 2;
  s.data = write_reverse_pairs(dir / "pairs.tsv", 20).string();
  s.valid_pairs = 0;
  test::expect_error_words<OptionError>([&] { TranslationRun run(s); }, {"patience", "validation"});
}
