// The processes a launcher (mpirun, srun) started to train one model together: the library's
// ProcessGroup over MPI when recur is built with it (launched_job_mpi.cpp), and otherwise a check
// that refuses to train N independent copies (launched_job_none.cpp).
#pragma once

#include <memory>
#include <string>

#include "recur/lm/process_group.h"

namespace recur::cli {

class LaunchedJob : public ProcessGroup {
 public:
  // Time spent in all_reduce_sum (waiting for the slowest process included), and the bytes summed.
  [[nodiscard]] virtual double all_reduce_seconds() const = 0;
  [[nodiscard]] virtual int64_t all_reduce_bytes() const = 0;
  // The job's processes on this machine (this one included).
  [[nodiscard]] virtual int local_size() const = 0;
  // Ends every process of the job with `code`: after an error on one process, the others would
  // otherwise wait for it forever in their next all-reduce.
  [[noreturn]] virtual void abort(int code) = 0;
};

// The processes the launcher says it started, from its environment: Open MPI's
// OMPI_COMM_WORLD_SIZE, PMI_SIZE (MPICH, srun --mpi=pmi2), SLURM_STEP_NUM_TASKS (srun), or a rank
// above 0 in PMIX_RANK, PMI_RANK or SLURM_PROCID. 1 when started alone. `source` names the variable.
struct LauncherWorld {
  int size = 1;
  std::string source;
};
[[nodiscard]] LauncherWorld launcher_world();

// The job this process belongs to, or null when it was started alone (or as a job of one). Throws
// ValueError when a launcher started several processes but this recur has no MPI, or MPI finds the
// process alone (srun without an MPI plugin): each would train its own copy of the model.
[[nodiscard]] std::unique_ptr<LaunchedJob> join_launched_job();

}  // namespace recur::cli
