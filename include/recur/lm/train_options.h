// The options of a training run (what Trainer reads), their closed sets as enums with the names
// command lines and run.json use, and their checks. Errors name the option's field (e.g.
// "train: batch must be in [1, 2^31), got 0") and carry it, so a front end can name its own flag instead.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "recur/core/context.h"
#include "recur/core/error.h"
#include "recur/optim/lr_schedule.h"

namespace recur {

// A bad option: field() is the options struct's field ("hidden_size"); the message names it too.
class OptionError : public ValueError {
 public:
  OptionError(std::string field, const std::string& message)
      : ValueError(message), field_(std::move(field)) {}
  [[nodiscard]] const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// Throws OptionError "<context>: <field> must be <domain>, got <value>" unless `ok`.
void check_option(bool ok, std::string_view context, std::string_view field, std::string_view domain,
                  double value);

enum class Partition {
  kSequential,  // rows continue each other batch to batch; the recurrent state is carried
  kRandom,      // rows start anywhere; the state is reset every batch
};
enum class OptimizerKind { kSgd, kAdam, kAdamW };

// "sequential", "random"; "sgd", "adam", "adamw" (make_optimizer's names). parse_* throw
// OptionError (field "partition" or "optimizer") listing the known names.
[[nodiscard]] std::string_view partition_name(Partition partition);
[[nodiscard]] Partition parse_partition(std::string_view name);
[[nodiscard]] std::string_view optimizer_kind_name(OptimizerKind kind);
[[nodiscard]] OptimizerKind parse_optimizer_kind(std::string_view name);

// The most epochs a run may ask for (epochs and the saved epoch are checked against it).
inline constexpr int64_t kMaxEpochs = 1'000'000'000;

struct TrainOptions {
  int64_t batch = 32;  // rows per minibatch
  int64_t steps = 35;  // time steps per row (truncated BPTT length)
  Partition partition = Partition::kSequential;
  OptimizerKind optimizer = OptimizerKind::kSgd;
  double lr = 1.0;
  double momentum = 0.0;     // sgd only
  double weight_decay = -1;  // < 0: the optimizer's default
  double clip = 1.0;         // max global gradient norm; 0 = no clipping
  // Randomized truncation (d2l 9.7): < 1 keeps the gradient between adjacent steps with this
  // probability pi, scaled by 1/pi, and cuts it otherwise; 1 = plain truncated BPTT over `steps`.
  double truncation_keep = 1.0;
  // Per epoch: constant; step (x lr_gamma each epoch); cosine (from lr to 0 over `epochs`).
  LrScheduleKind lr_schedule = LrScheduleKind::kConstant;
  double lr_gamma = 0.5;  // step schedule factor
  int64_t epochs = 10;
  double time_budget_s = 0;  // > 0: stop after this many seconds (checkpoint kept)
  // > 0: early stopping: stop after this many epochs in a row without a new best validation
  // perplexity (best/ holds the model of the best epoch). Needs validation data.
  int64_t patience = 0;
  uint64_t seed = 42;
  std::filesystem::path out_dir;
  // Threads for training and validation (a ComputeContext's), in [1, kMaxThreads]. How the run
  // uses the machine, not what it computes: not saved in run.json, a resumed run takes it anew
  // (the CLI's --threads, all cores by default).
  int threads = 1;
};

// Throws OptionError naming the first bad field.
void validate(const TrainOptions& options);

// The learning rate of each epoch (the schedule's step index is the 0-based epoch).
[[nodiscard]] LrSchedule epoch_lr_schedule(const TrainOptions& options);

}  // namespace recur
