// Thread count for the numeric kernels. Every command takes --threads.
//
// recur runs its own threads and keeps OpenBLAS single-threaded: the recurrent time loop, the fused
// head and the large GEMMs (kernels::gemm splits them) all run on threads recur starts. OpenBLAS's
// own pool busy-waits (sched_yield) for a long while after each call, and on a 2-core machine
// those spinning workers took a quarter of the samples from recur's threads running right after.
#pragma once

namespace recur {

// Sets the number of threads recur's kernels use; n <= 0 means "all cores". Process-wide.
void set_num_threads(int n);
// The current setting (all cores until set_num_threads is called).
[[nodiscard]] int num_threads();
// Name of the BLAS core (kernel set) OpenBLAS selected, e.g. "Haswell" or "SkylakeX".
[[nodiscard]] const char* blas_core_name();

}  // namespace recur
