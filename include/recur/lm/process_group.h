// The processes that train one model together (data parallelism, as PyTorch's DDP): each has a
// rank in [0, size), takes its share of every batch's rows, and the gradients are summed across all
// of them once per step. The library sees only this interface, so it needs no MPI: the command-line
// tool implements it over MPI (tools/recur/launched_job_mpi.cpp), a test over threads.
#pragma once

#include <cstdint>
#include <span>

namespace recur {

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;

  [[nodiscard]] virtual int rank() const = 0;  // in [0, size)
  [[nodiscard]] virtual int size() const = 0;  // >= 1
  // Replaces `values` on every process by their elementwise sum over all processes, which every
  // process receives bit for bit the same. Every process must call it, in the same order, with
  // spans of the same length: it is how they stay in step.
  virtual void all_reduce_sum(std::span<float> values) = 0;
  virtual void all_reduce_sum(std::span<double> values) = 0;

  // Rank 0 alone writes files (checkpoints, metrics, charts) and speaks.
  [[nodiscard]] bool is_root() const { return rank() == 0; }
};

// One process on its own: the sums are the values themselves.
class SingleProcess final : public ProcessGroup {
 public:
  [[nodiscard]] int rank() const override { return 0; }
  [[nodiscard]] int size() const override { return 1; }
  void all_reduce_sum(std::span<float>) override {}
  void all_reduce_sum(std::span<double>) override {}
};

// The rows [begin, end) of a batch of `batch` rows that process `rank` of `size` trains on:
// contiguous and in rank order, the first batch % size ranks taking one row more than the others.
// Throws ValueError unless 1 <= size <= batch and 0 <= rank < size.
struct RowShare {
  int64_t begin = 0;
  int64_t end = 0;
  [[nodiscard]] int64_t rows() const { return end - begin; }
};
[[nodiscard]] RowShare row_share(int64_t batch, int rank, int size);

}  // namespace recur
