// `recur demo`: the main job of `make demo`: a character-level GRU on The Time Machine for about two
// minutes (d2l 9.5's setting), then its validation perplexity and two continuations of
// "time traveller ": greedy (which soon loops) and sampled at temperature 0.8 with the run's seed.
#include "commands.h"
#include "lm_run.h"

namespace recur::cli {

void add_demo_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd =
      app.add_subcommand("demo", "Train a character-level GRU on The Time Machine for about two minutes");
  auto seconds = std::make_shared<double>(120);
  auto out = std::make_shared<std::string>("runs/demo");
  cmd->add_option("--seconds", *seconds, "Training time budget")->capture_default_str();
  cmd->add_option("--out", *out, "Output folder")->capture_default_str();
  cmd->footer("Example:\n  recur demo --seconds 60");
  cmd->callback([seconds, out, &common] {
    const ComputeContext context = apply_common(common);
    TrainFlags flags;  // d2l 9.5: one-hot characters, GRU 256, batch 32 x 35 steps, SGD lr 1, clip 1
    flags.settings.data = "timemachine";
    flags.settings.train.epochs = 1000;
    flags.settings.train.time_budget_s = *seconds;
    flags.settings.train.patience = 10;  // it overfits after about 40 epochs (best/ keeps the best model)
    flags.settings.train.out_dir = *out;
    flags.settings.train.threads = context.threads;
    flags.force = true;  // each demo starts over in its folder (a note says so)
    flags.sample_length = 150;
    flags.sample_temperature = 0.8;
    if (int code = run_training(flags); code != 0) std::exit(code);
  });
}

}  // namespace recur::cli
