// The launcher's processes as one MPI job (MPI_COMM_WORLD): sums with MPI_Allreduce in place.
#include <fmt/core.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>

#include "launched_job.h"
#include "recur/core/error.h"

namespace recur::cli {

namespace {

class MpiJob final : public LaunchedJob {
 public:
  MpiJob() {
    // recur's own threads never call MPI: only the thread that trains does.
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local = MPI_COMM_NULL;  // the processes that share this machine's memory
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
  }
  ~MpiJob() override { MPI_Finalize(); }
  MpiJob(const MpiJob&) = delete;
  MpiJob& operator=(const MpiJob&) = delete;

  [[nodiscard]] int rank() const override { return rank_; }
  [[nodiscard]] int size() const override { return size_; }
  void all_reduce_sum(std::span<float> values) override { sum(values.data(), values.size(), MPI_FLOAT, 4); }
  void all_reduce_sum(std::span<double> values) override { sum(values.data(), values.size(), MPI_DOUBLE, 8); }
  [[nodiscard]] double all_reduce_seconds() const override { return seconds_; }
  [[nodiscard]] int64_t all_reduce_bytes() const override { return bytes_; }
  [[nodiscard]] int local_size() const override { return local_size_; }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::abort();  // MPI_Abort does not return; the compiler cannot know
  }

 private:
  void sum(void* data, size_t count, MPI_Datatype type, size_t element_bytes) {
    const auto start = std::chrono::steady_clock::now();
    auto* bytes = static_cast<char*>(data);
    // MPI counts are int: larger buffers go in pieces.
    for (size_t done = 0; done < count;) {
      const size_t piece = std::min<size_t>(count - done, INT_MAX);
      MPI_Allreduce(MPI_IN_PLACE, bytes + done * element_bytes, static_cast<int>(piece), type, MPI_SUM,
                    MPI_COMM_WORLD);
      done += piece;
    }
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bytes_ += static_cast<int64_t>(count * element_bytes);
  }

  int rank_ = 0, size_ = 1, local_size_ = 1;
  double seconds_ = 0;
  int64_t bytes_ = 0;
};

}  // namespace

std::unique_ptr<LaunchedJob> join_launched_job() {
  const LauncherWorld world = launcher_world();
  if (world.size <= 1) return nullptr;  // alone: no MPI start-up at all
  auto job = std::make_unique<MpiJob>();
  if (job->size() == 1)
    throw ValueError(fmt::format(
        "started as one of {} processes ({} is set) but MPI finds this process alone (srun without an "
        "MPI plugin? try srun --mpi=pmix), so each would train its own copy of the model",
        world.size, world.source));
  return job;
}

}  // namespace recur::cli
