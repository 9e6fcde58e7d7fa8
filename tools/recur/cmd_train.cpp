// `recur train`: train a character- or word-level recurrent language model.
#include "commands.h"
#include "lm_run.h"

namespace recur::cli {

void add_train_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("train", "Train a recurrent language model on a text");
  auto flags = std::make_shared<TrainFlags>();
  flags->settings.train.out_dir = "runs/lm";
  add_train_options(*cmd, *flags);
  cmd->footer(
      "Examples:\n"
      "  recur train --data timemachine --cell gru --hidden 256 --epochs 20 --out runs/tm\n"
      "  recur train --data wikitext-2/valid.txt --valid wikitext-2/test.txt --level word --mode raw \\\n"
      "      --cell lstm --layers 2 --embed 200 --hidden 200 --dropout 0.2 --batch 20 --lr 20 --clip 0.25 "
      "--out runs/wt2\n"
      "  recur train --resume runs/tm --epochs 40     # continue a run (Ctrl-C saves a checkpoint)");
  cmd->callback([cmd, flags, &common] {
    flags->settings.train.threads = apply_common(common).threads;
    note_resume_overrides(*cmd, *flags);
    if (int code = run_training(*flags); code != 0) std::exit(code);
  });
}

}  // namespace recur::cli
