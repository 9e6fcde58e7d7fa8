// OpenBLAS kept on one thread. The thread count itself is no global: it travels in a
// ComputeContext (recur/core/context.h), which every command fills from --threads.
//
// recur runs its own threads and keeps OpenBLAS single-threaded: the recurrent time loop, the fused
// head and the large GEMMs (kernels::gemm splits them) all run on threads recur starts. OpenBLAS's
// own pool busy-waits (sched_yield) for a long while after each call, and on a 2-core machine
// those spinning workers took a quarter of the samples from recur's threads running right after.
#pragma once

namespace recur {

// Sets OpenBLAS to one thread, once per process (a one-time library setup, not a setting; later
// calls do nothing). kernels::gemm calls it before its first BLAS call.
void keep_blas_single_threaded();
// Name of the BLAS core (kernel set) OpenBLAS selected, e.g. "Haswell" or "SkylakeX".
[[nodiscard]] const char* blas_core_name();
// OpenBLAS's build configuration, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
[[nodiscard]] const char* blas_config();

}  // namespace recur
