// Training options: enum names, parsing at the edges, and the checks that name the bad field.
#include "recur/lm/train_options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <cmath>

namespace recur {

namespace {
constexpr std::array<std::string_view, 2> kPartitionNames = {"sequential", "random"};
constexpr std::array<std::string_view, 3> kOptimizerNames = {"sgd", "adam", "adamw"};

// The enum value whose name (in enum order) is `name`.
template <typename Enum, size_t N>
Enum parse_named(const std::array<std::string_view, N>& names, std::string_view name,
                 std::string_view field) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == name) return static_cast<Enum>(i);
  throw OptionError(std::string(field),
                    fmt::format("train: unknown {} '{}' (expected {})", field, name, fmt::join(names, ", ")));
}
}  // namespace

void check_option(bool ok, std::string_view context, std::string_view field, std::string_view domain,
                  double value) {
  if (!ok)
    throw OptionError(std::string(field),
                      fmt::format("{}: {} must be {}, got {}", context, field, domain, value));
}

std::string_view partition_name(Partition partition) {
  return kPartitionNames[static_cast<size_t>(partition)];
}
Partition parse_partition(std::string_view name) {
  return parse_named<Partition>(kPartitionNames, name, "partition");
}
std::string_view optimizer_kind_name(OptimizerKind kind) {
  return kOptimizerNames[static_cast<size_t>(kind)];
}
OptimizerKind parse_optimizer_kind(std::string_view name) {
  return parse_named<OptimizerKind>(kOptimizerNames, name, "optimizer");
}

void validate(const TrainOptions& o) {
  constexpr std::string_view kContext = "train";
  // The partitions count rows and steps in 32 bits.
  check_option(o.batch >= 1 && o.batch <= INT32_MAX, kContext, "batch", "in [1, 2^31)",
               static_cast<double>(o.batch));
  check_option(o.steps >= 1 && o.steps <= INT32_MAX, kContext, "steps", "in [1, 2^31)",
               static_cast<double>(o.steps));
  check_option(std::isfinite(o.lr) && o.lr > 0, kContext, "lr", "positive", o.lr);
  check_option(std::isfinite(o.clip) && o.clip >= 0, kContext, "clip", ">= 0", o.clip);
  check_option(o.truncation_keep > 0 && o.truncation_keep <= 1, kContext, "truncation_keep", "in (0, 1]",
               o.truncation_keep);
  check_option(o.momentum >= 0 && o.momentum < 1, kContext, "momentum", "in [0, 1)", o.momentum);
  check_option(o.lr_gamma > 0 && o.lr_gamma <= 1, kContext, "lr_gamma", "in (0, 1]", o.lr_gamma);
  check_option(o.epochs >= 1 && o.epochs <= kMaxEpochs, kContext, "epochs", "in [1, 1e9]",
               static_cast<double>(o.epochs));
  check_option(std::isfinite(o.time_budget_s) && o.time_budget_s >= 0, kContext, "time_budget_s", ">= 0",
               o.time_budget_s);
  check_option(o.patience >= 0, kContext, "patience", ">= 0", static_cast<double>(o.patience));
  check_option(o.threads >= 1 && o.threads <= kMaxThreads, kContext, "threads", "in [1, 256]",
               static_cast<double>(o.threads));
  if (o.out_dir.empty()) throw OptionError("out_dir", "train: an output folder (out_dir) is required");
}

LrSchedule epoch_lr_schedule(const TrainOptions& o) {
  // d2l's per-epoch schedules: step multiplies by gamma every epoch; cosine reaches 0 after `epochs`.
  return LrSchedule({.kind = o.lr_schedule,
                     .lr = o.lr,
                     .step_size = 1,
                     .gamma = o.lr_gamma,
                     .total_steps = o.epochs,
                     .lr_min = 0.0});
}

}  // namespace recur
