// Learning-rate schedules as pure functions of the step index t = 0, 1, 2, ... (count steps or epochs,
// whichever the caller updates the rate on). Closed forms of PyTorch's StepLR and CosineAnnealingLR,
// after an optional linear warmup:
//
//   warmup (t < W):  lr * (t + 1) / (W + 1)            rises linearly, reaching lr at t = W
//   after, s = t - W:
//     constant:      lr
//     step:          lr * gamma^floor(s / step_size)
//     cosine:        lr_min + (lr - lr_min) * (1 + cos(pi * s / S)) / 2,  S = total_steps - W
//                    (Loshchilov and Hutter, 2017, one cycle); lr_min once s >= S, where PyTorch's
//                    closed form would rise again
//
// The rate is a double whatever the model's scalar type, so this file has no Scalar template.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace recur {

enum class LrScheduleKind { kConstant, kStep, kCosine };

struct LrScheduleOptions {
  LrScheduleKind kind = LrScheduleKind::kConstant;
  double lr = 1e-3;          // finite, >= 0: the rate after warmup (cosine's maximum)
  int64_t warmup_steps = 0;  // >= 0: W, linear warmup length
  int64_t step_size = 1;     // step: >= 1, steps between decays
  double gamma = 0.1;        // step: finite, > 0, the factor applied every step_size steps
  int64_t total_steps = 0;   // cosine: > warmup_steps, the step at which lr_min is reached
  double lr_min = 0.0;       // cosine: in [0, lr]
};

class LrSchedule {
 public:
  // Throws ValueError naming the first option outside its domain (see LrScheduleOptions).
  explicit LrSchedule(const LrScheduleOptions& options);
  // Rate for step t >= 0 (ValueError for t < 0).
  [[nodiscard]] double lr_at(int64_t step) const;
  [[nodiscard]] const LrScheduleOptions& options() const { return options_; }

 private:
  LrScheduleOptions options_;
};

// "constant", "step", "cosine".
[[nodiscard]] std::string_view lr_schedule_name(LrScheduleKind kind);
[[nodiscard]] std::span<const std::string_view> lr_schedule_names();
// Throws ValueError for an unknown name, listing the known ones.
[[nodiscard]] LrScheduleKind parse_lr_schedule_kind(std::string_view name);
// The schedule called `name`, with options.kind set from it; validated as LrSchedule's constructor does.
[[nodiscard]] LrSchedule make_lr_schedule(std::string_view name, LrScheduleOptions options);

}  // namespace recur
