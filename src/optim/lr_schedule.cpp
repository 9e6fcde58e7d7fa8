// Learning-rate schedules: closed forms evaluated per step, so resuming needs only the step index.
#include "recur/optim/lr_schedule.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <cmath>
#include <numbers>

#include "recur/core/error.h"

namespace recur {

namespace {
constexpr std::array<std::string_view, 3> kScheduleNames = {"constant", "step", "cosine"};

void require(bool ok, std::string_view option, std::string_view domain, double value) {
  if (!ok) throw ValueError(fmt::format("LrSchedule: {} must be {}, got {}", option, domain, value));
}
}  // namespace

LrSchedule::LrSchedule(const LrScheduleOptions& options) : options_(options) {
  const auto& o = options;
  require(std::isfinite(o.lr) && o.lr >= 0, "lr", "finite and >= 0", o.lr);
  require(o.warmup_steps >= 0, "warmup_steps", ">= 0", static_cast<double>(o.warmup_steps));
  switch (o.kind) {
    case LrScheduleKind::kConstant:
      break;
    case LrScheduleKind::kStep:
      require(o.step_size >= 1, "step_size", ">= 1", static_cast<double>(o.step_size));
      require(std::isfinite(o.gamma) && o.gamma > 0, "gamma", "finite and > 0", o.gamma);
      break;
    case LrScheduleKind::kCosine:
      if (o.total_steps <= o.warmup_steps)
        throw ValueError(fmt::format("LrSchedule: total_steps must be > warmup_steps ({}) for cosine, got {}",
                                     o.warmup_steps, o.total_steps));
      require(o.lr_min >= 0 && o.lr_min <= o.lr, "lr_min", fmt::format("in [0, lr = {}]", o.lr), o.lr_min);
      break;
  }
}

double LrSchedule::lr_at(int64_t step) const {
  if (step < 0) throw ValueError(fmt::format("LrSchedule::lr_at: step must be >= 0, got {}", step));
  const auto& o = options_;
  if (step < o.warmup_steps)
    return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps + 1);
  const int64_t s = step - o.warmup_steps;
  switch (o.kind) {
    case LrScheduleKind::kConstant:
      return o.lr;
    case LrScheduleKind::kStep:
      return o.lr * std::pow(o.gamma, static_cast<double>(s / o.step_size));
    case LrScheduleKind::kCosine: {
      const int64_t span = o.total_steps - o.warmup_steps;
      if (s >= span) return o.lr_min;
      const double phase = std::numbers::pi * static_cast<double>(s) / static_cast<double>(span);
      return o.lr_min + (o.lr - o.lr_min) * (1.0 + std::cos(phase)) / 2.0;
    }
  }
  return o.lr;  // not reached: the switch covers every kind
}

std::string_view lr_schedule_name(LrScheduleKind kind) { return kScheduleNames[static_cast<size_t>(kind)]; }

std::span<const std::string_view> lr_schedule_names() { return kScheduleNames; }

LrScheduleKind parse_lr_schedule_kind(std::string_view name) {
  for (size_t i = 0; i < kScheduleNames.size(); ++i)
    if (kScheduleNames[i] == name) return static_cast<LrScheduleKind>(i);
  throw ValueError(
      fmt::format("LrSchedule: unknown schedule '{}' (known: {})", name, fmt::join(kScheduleNames, ", ")));
}

LrSchedule make_lr_schedule(std::string_view name, LrScheduleOptions options) {
  options.kind = parse_lr_schedule_kind(name);
  return LrSchedule(options);
}

}  // namespace recur
