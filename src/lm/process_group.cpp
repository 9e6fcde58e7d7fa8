// Which rows of a batch each process of a data-parallel run trains on.
#include "recur/lm/process_group.h"

#include <fmt/core.h>

#include "recur/core/error.h"

namespace recur {

RowShare row_share(int64_t batch, int rank, int size) {
  check(size >= 1 && static_cast<int64_t>(size) <= batch,
        fmt::format("row_share: a batch of {} rows cannot be shared by {} processes (each needs a row)",
                    batch, size));
  check(rank >= 0 && rank < size, fmt::format("row_share: rank must be in [0, {}), got {}", size, rank));
  const int64_t base = batch / size, extra = batch % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {.begin = begin, .end = begin + base + (rank < extra ? 1 : 0)};
}

}  // namespace recur
