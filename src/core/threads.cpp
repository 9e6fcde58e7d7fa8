// OpenBLAS kept on one thread (see threads.h).
#include "recur/core/threads.h"

#include <cblas.h>

namespace recur {

void keep_blas_single_threaded() {
  // A function-local static: thread-safe one-time initialization, never changed afterwards.
  static const bool done = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

const char* blas_core_name() {
  keep_blas_single_threaded();
  return openblas_get_corename();
}

const char* blas_config() {
  keep_blas_single_threaded();
  return openblas_get_config();
}

}  // namespace recur
