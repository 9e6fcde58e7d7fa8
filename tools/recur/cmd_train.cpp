// `recur train`: train a character- or word-level recurrent language model.
#include <fmt/core.h>

#include <algorithm>
#include <exception>

#include "commands.h"
#include "launched_job.h"
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
      "  recur train --resume runs/tm --epochs 40     # continue a run (Ctrl-C saves a checkpoint)\n"
      "  mpirun -np 4 recur train --data data/big --batch 64 --out runs/big   # 4 processes, 16 rows each\n"
      "Under mpirun or srun (recur built with MPI), the processes train one model: each takes its share\n"
      "of every batch's rows and the gradients are averaged every step; rank 0 writes the run folder.");
  cmd->callback([cmd, flags, &common] {
    flags->settings.train.threads = apply_common(common).threads;
    note_resume_overrides(*cmd, *flags);
    int code = 0;
    {
      const std::unique_ptr<LaunchedJob> job = join_launched_job();
      // "All cores" for one of several processes on a machine is its share of them.
      if (job && common.threads == 0)
        flags->settings.train.threads = std::max(1, hardware_threads() / job->local_size());
      try {
        code = run_training(*flags, job.get());
      } catch (const std::exception& e) {
        if (!job) throw;
        fmt::print(stderr, "recur: error (process {} of {}): {}\n", job->rank(), job->size(), e.what());
        job->abort(1);
      }
    }  // MPI is finalized before exiting
    if (code != 0) std::exit(code);
  });
}

}  // namespace recur::cli
