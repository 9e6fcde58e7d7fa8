// The parts of run.json that every kind of training run shares (`recur train`, `recur translate
// train`): the training loop's keys, and how a resumed run finds its settings and applies the
// command line's overrides.
#pragma once

#include <filesystem>

#include "json_fields.h"
#include "recur/lm/run.h"
#include "recur/lm/train_options.h"

namespace recur {

// Writes the training loop's keys (the ones read_training_loop_settings reads) into run.json's
// object `j`, in this order.
template <typename Json>
void add_training_loop_settings(const TrainOptions& t, Json& j) {
  j["optimizer"] = optimizer_kind_name(t.optimizer);
  j["lr"] = t.lr;
  j["momentum"] = t.momentum;
  j["weight_decay"] = t.weight_decay;
  j["clip"] = t.clip;
  j["lr_schedule"] = lr_schedule_name(t.lr_schedule);
  j["lr_gamma"] = t.lr_gamma;
  j["epochs"] = t.epochs;
  j["time_budget"] = t.time_budget_s;
  j["patience"] = t.patience;
  j["seed"] = t.seed;
}

// lr, momentum, weight_decay, clip, lr_gamma, epochs, time_budget, seed, patience (0 when absent:
// runs written before early stopping), optimizer and lr_schedule. IoError naming the file and key.
void read_training_loop_settings(const JsonFields& f, TrainOptions& t);

// run.json of the run in `run_dir`; IoError "cannot resume: ... is missing" when there is none.
[[nodiscard]] std::filesystem::path resumable_run_settings(const std::filesystem::path& run_dir);

// out_dir = run_dir, and each given override replaces the stored value (the time budget is for one
// session: none unless given again).
void apply_resume_overrides(const std::filesystem::path& run_dir, const ResumeOverrides& overrides,
                            TrainOptions& t);

}  // namespace recur
