// `recur demo`: the main job of `make demo`: a character-level GRU on The Time Machine for about two
// minutes (d2l 9.5's setting), then its validation perplexity and a continuation of "time traveller ".
#include "commands.h"
#include "lm_run.h"

namespace recur::cli {

void add_demo_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("demo", "Train a character-level GRU on The Time Machine for about two minutes");
  auto seconds = std::make_shared<double>(120);
  auto out = std::make_shared<std::string>("runs/demo");
  cmd->add_option("--seconds", *seconds, "Training time budget")->capture_default_str();
  cmd->add_option("--out", *out, "Output folder")->capture_default_str();
  cmd->footer("Example:\n  recur demo --seconds 60");
  cmd->callback([seconds, out, &common] {
    apply_common(common);
    RunSpec spec;  // d2l 9.5: one-hot characters, GRU 256, batch 32 x 35 steps, SGD lr 1, clip 1
    spec.data = "timemachine";
    spec.train.epochs = 1000;
    spec.train.time_budget_s = *seconds;
    spec.train.patience = 10;  // it overfits after about 40 epochs (best/ keeps the best model)
    spec.train.out_dir = *out;
    spec.sample_length = 150;
    if (int code = run_training(spec); code != 0) std::exit(code);
  });
}

}  // namespace recur::cli
