// Built without MPI: a launcher's several processes are refused rather than each training a copy.
#include <fmt/core.h>

#include "launched_job.h"
#include "recur/core/error.h"

namespace recur::cli {

std::unique_ptr<LaunchedJob> join_launched_job() {
  const LauncherWorld world = launcher_world();
  if (world.size > 1)
    throw ValueError(fmt::format(
        "started as one of {} processes ({} is set) but this recur was built without MPI, so each "
        "would train its own copy of the model; rebuild with MPI (Debian: libopenmpi-dev, then cmake "
        "-DRECUR_WITH_MPI=ON) or run one process",
        world.size, world.source));
  return nullptr;
}

}  // namespace recur::cli
