// Each subcommand of the `recur` tool lives in its own cmd_*.cpp and registers itself here.
// The tool is thin: parse options, call the library, print, map errors to exit codes.
#pragma once

#include <CLI/CLI.hpp>

#include "recur/core/context.h"

namespace recur::cli {

// Options every command shares (set on the top-level app, accepted after the subcommand too).
struct CommonOptions {
  int threads = 0;  // 0 = all cores
};

// The context of --threads N (0 = all cores), capped at 4x the hardware threads and at most 256
// (each thread has its own buffers; make_compute_context), with a note on stderr when it is capped.
[[nodiscard]] ComputeContext compute_context(const CommonOptions& common);

// Every command's callback starts with this (callbacks run after the whole command line is parsed);
// commands that compute pass the context it returns on (nothing is set process-wide).
inline ComputeContext apply_common(const CommonOptions& common) { return compute_context(common); }

void add_demo_command(CLI::App& app, const CommonOptions& common);
void add_data_command(CLI::App& app, const CommonOptions& common);
void add_train_command(CLI::App& app, const CommonOptions& common);
void add_prepare_command(CLI::App& app, const CommonOptions& common);
void add_generate_command(CLI::App& app, const CommonOptions& common);
void add_eval_command(CLI::App& app, const CommonOptions& common);
void add_forecast_command(CLI::App& app, const CommonOptions& common);
void add_stats_command(CLI::App& app, const CommonOptions& common);
void add_ngram_command(CLI::App& app, const CommonOptions& common);
void add_bench_command(CLI::App& app, const CommonOptions& common);
void add_translate_command(CLI::App& app, const CommonOptions& common);
// `recur bench translate` (cmd_bench_translate.cpp), under `recur bench`.
void add_bench_translate_command(CLI::App& bench, const CommonOptions& common);

}  // namespace recur::cli
