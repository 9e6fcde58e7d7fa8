// Learning-rate schedules: values worked by hand for constant, step, cosine and warmup, and the checks.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>

#include "recur/core/error.h"
#include "recur/optim/lr_schedule.h"

using namespace recur;

namespace {
void expect_value_error(const LrScheduleOptions& options, std::initializer_list<std::string> words) {
  try {
    LrSchedule schedule(options);
    ADD_FAILURE() << "expected ValueError";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    for (const auto& w : words) EXPECT_NE(msg.find(w), std::string::npos) << "'" << w << "' not in: " << msg;
  }
}
}  // namespace

TEST(LrSchedule, ConstantIsConstant) {
  LrSchedule schedule({.lr = 0.3});
  for (int64_t t : {0, 1, 10, 1000000}) EXPECT_EQ(schedule.lr_at(t), 0.3);
}

TEST(LrSchedule, StepMultipliesByGammaEveryStepSize) {
  LrSchedule schedule({.kind = LrScheduleKind::kStep, .lr = 1.0, .step_size = 3, .gamma = 0.5});
  const double expected[] = {1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125};
  for (int t = 0; t < 10; ++t) EXPECT_DOUBLE_EQ(schedule.lr_at(t), expected[t]) << "t = " << t;
}

TEST(LrSchedule, CosineGoesFromLrToLrMinAndStays) {
  LrSchedule schedule({.kind = LrScheduleKind::kCosine, .lr = 1.0, .total_steps = 10, .lr_min = 0.1});
  EXPECT_DOUBLE_EQ(schedule.lr_at(0), 1.0);
  EXPECT_DOUBLE_EQ(schedule.lr_at(5), 0.55);  // halfway: the mean of lr and lr_min
  EXPECT_NEAR(schedule.lr_at(2), 0.1 + 0.9 * (1 + std::cos(std::numbers::pi * 0.2)) / 2, 1e-15);
  EXPECT_DOUBLE_EQ(schedule.lr_at(10), 0.1);
  EXPECT_DOUBLE_EQ(schedule.lr_at(25), 0.1);  // clamped, unlike PyTorch's periodic closed form
  for (int t = 1; t <= 12; ++t) EXPECT_LE(schedule.lr_at(t), schedule.lr_at(t - 1)) << "t = " << t;
}

TEST(LrSchedule, LinearWarmupThenTheSchedule) {
  LrSchedule constant({.lr = 1.0, .warmup_steps = 4});
  const double ramp[] = {0.2, 0.4, 0.6, 0.8, 1.0, 1.0};
  for (int t = 0; t < 6; ++t) EXPECT_DOUBLE_EQ(constant.lr_at(t), ramp[t]) << "t = " << t;

  // Cosine over the steps after warmup: [W, total] carries lr down to lr_min.
  LrSchedule cosine(
      {.kind = LrScheduleKind::kCosine, .lr = 2.0, .warmup_steps = 2, .total_steps = 12, .lr_min = 0});
  EXPECT_DOUBLE_EQ(cosine.lr_at(0), 2.0 / 3);
  EXPECT_DOUBLE_EQ(cosine.lr_at(1), 4.0 / 3);
  EXPECT_DOUBLE_EQ(cosine.lr_at(2), 2.0);
  EXPECT_NEAR(cosine.lr_at(7), 1.0, 1e-15);
  EXPECT_DOUBLE_EQ(cosine.lr_at(12), 0.0);

  // Step decays count from the end of warmup.
  LrSchedule step(
      {.kind = LrScheduleKind::kStep, .lr = 1.0, .warmup_steps = 1, .step_size = 2, .gamma = 0.1});
  EXPECT_DOUBLE_EQ(step.lr_at(0), 0.5);
  EXPECT_DOUBLE_EQ(step.lr_at(1), 1.0);
  EXPECT_DOUBLE_EQ(step.lr_at(2), 1.0);
  EXPECT_DOUBLE_EQ(step.lr_at(3), 0.1);
}

TEST(LrSchedule, RejectsBadOptionsNamingTheValue) {
  expect_value_error({.lr = -1}, {"lr", "-1"});
  expect_value_error({.lr = std::nan("")}, {"lr", "nan"});
  expect_value_error({.warmup_steps = -2}, {"warmup_steps", "-2"});
  expect_value_error({.kind = LrScheduleKind::kStep, .step_size = 0}, {"step_size", "0"});
  expect_value_error({.kind = LrScheduleKind::kStep, .gamma = -0.5}, {"gamma", "-0.5"});
  expect_value_error({.kind = LrScheduleKind::kCosine, .total_steps = 0}, {"total_steps", "0"});
  expect_value_error({.kind = LrScheduleKind::kCosine, .warmup_steps = 5, .total_steps = 5},
                     {"total_steps", "5"});
  expect_value_error({.kind = LrScheduleKind::kCosine, .lr = 0.1, .total_steps = 10, .lr_min = 0.2},
                     {"lr_min", "0.2"});
  LrSchedule ok(LrScheduleOptions{});
  EXPECT_THROW((void)ok.lr_at(-1), ValueError);
}

TEST(LrSchedule, ParsesNames) {
  for (auto name : lr_schedule_names()) EXPECT_EQ(lr_schedule_name(parse_lr_schedule_kind(name)), name);
  EXPECT_EQ(parse_lr_schedule_kind("cosine"), LrScheduleKind::kCosine);
  const auto step = make_lr_schedule("step", {.lr = 1.0, .step_size = 1, .gamma = 0.5});
  EXPECT_EQ(step.options().kind, LrScheduleKind::kStep);
  EXPECT_DOUBLE_EQ(step.lr_at(2), 0.25);
  try {
    (void)parse_lr_schedule_kind("linear");
    ADD_FAILURE() << "expected ValueError";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'linear'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("constant, step, cosine"), std::string::npos) << msg;
  }
  // make_lr_schedule validates as the constructor does.
  EXPECT_THROW((void)make_lr_schedule("cosine", {.total_steps = 0}), ValueError);
}
