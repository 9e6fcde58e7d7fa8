// Entry point of the `recur` command-line tool: registers the subcommands and maps library
// errors to messages and exit codes (1 = bad input or failure, 2 = bad command line).
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <new>

#include "commands.h"
#include "recur/core/error.h"
#include "recur/core/simd.h"
#include "recur/core/version.h"

namespace recur::cli {
ComputeContext compute_context(const CommonOptions& common) {
  const ComputeContext context = make_compute_context(common.threads);
  if (common.threads > context.threads) {
    fmt::print(stderr, "note: --threads {} is more than 4 x the {} hardware threads (at most {}); using {}\n",
               common.threads, hardware_threads(), kMaxThreads, context.threads);
  }
  return context;
}
}  // namespace recur::cli

int main(int argc, char** argv) {
  CLI::App app{"recur: recurrent neural networks and sequence models on the CPU"};
  // At most one subcommand; none is checked after parsing, so that --version works alone.
  app.require_subcommand(0, 1);
  app.set_version_flag(
      "--version", [] { return recur::version_report(); },
      "Print the version, the SIMD target in use and the BLAS library, and exit");
  recur::cli::CommonOptions common;
  app.add_option("--threads", common.threads, "Threads for the numeric kernels (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  app.fallthrough();

  recur::cli::add_demo_command(app, common);
  recur::cli::add_prepare_command(app, common);
  recur::cli::add_train_command(app, common);
  recur::cli::add_generate_command(app, common);
  recur::cli::add_eval_command(app, common);
  recur::cli::add_data_command(app, common);
  recur::cli::add_forecast_command(app, common);
  recur::cli::add_stats_command(app, common);
  recur::cli::add_ngram_command(app, common);
  recur::cli::add_translate_command(app, common);
  recur::cli::add_bench_command(app, common);

  try {
    // A bad RECUR_SIMD is reported before any work (and before --version, which shows the target).
    recur::apply_simd_environment();
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {
      fmt::print(stderr, "A subcommand is required\nRun with --help for more information.\n");
      return 2;
    }
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or the help); its own codes (105, 108, ...) become the documented 2.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const recur::Error& e) {
    fmt::print(stderr, "recur: error: {}\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    // A backstop: sizes from flags and files are checked against the machine's memory first.
    fmt::print(stderr,
               "recur: error: out of memory (a size on the command line or in a file is too large)\n");
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "recur: internal error: {}\n", e.what());
    return 1;
  }
  return 0;
}
