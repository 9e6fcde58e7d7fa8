// Thread control through OpenBLAS.
#include "recur/threads.h"

#include <cblas.h>

#include <thread>

namespace recur {

void set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  openblas_set_num_threads(n);
}

int num_threads() { return openblas_get_num_threads(); }

const char* blas_core_name() { return openblas_get_corename(); }

}  // namespace recur
