// How many processes a launcher started, read from the variables mpirun and srun set.
#include <charconv>
#include <cstdlib>
#include <string_view>

#include "launched_job.h"

namespace recur::cli {

namespace {
// The variable's value as a positive count, or 0 when unset or not a number.
int env_count(const char* name) {
  const char* text = std::getenv(name);
  if (!text) return 0;
  const std::string_view s(text);
  int value = 0;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  return error == std::errc() && end == s.data() + s.size() ? value : 0;
}
}  // namespace

LauncherWorld launcher_world() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"})
    if (const int size = env_count(name); size > 1) return {.size = size, .source = name};
  // A rank above 0 means there are at least two processes, however many.
  for (const char* name : {"PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const int rank = env_count(name); rank > 0) return {.size = rank + 1, .source = name};
  return {};
}

}  // namespace recur::cli
