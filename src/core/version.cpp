// The build's version and what it runs on (see version.h).
#include "recur/core/version.h"

#include "recur/core/simd.h"
#include "recur/core/threads.h"

namespace recur {

const char* version() { return RECUR_VERSION; }

std::string version_report() {
  std::string supported;
  for (const std::string& name : supported_simd_targets())
    supported += (supported.empty() ? "" : ", ") + name;
  std::string report = std::string("recur ") + version() + "\n";
  report += "simd: " + simd_target() + " (supported: " + supported + "; RECUR_SIMD chooses)\n";
  report += std::string("blas: ") + blas_config() + ", core " + blas_core_name();
  return report;
}

}  // namespace recur
