// The run-time SIMD target choice: every supported target can be chosen and is then the one in
// use, unknown or unsupported names are errors that list the supported ones, and RECUR_SIMD and
// `recur --version` behave as documented.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "recur/core/error.h"
#include "recur/core/simd.h"
#include "recur/core/version.h"
#include "test_support.h"

namespace recur {
namespace {

TEST(Simd, EverySupportedTargetCanBeChosen) {
  const std::vector<std::string> targets = supported_simd_targets();
  ASSERT_FALSE(targets.empty());
  EXPECT_EQ(targets.back(), "scalar");  // the fallback every CPU runs
  for (const std::string& name : targets) {
    set_simd_target(name);
    EXPECT_EQ(simd_target(), name);
  }
  set_simd_target("best");
  EXPECT_EQ(simd_target(), targets.front());
}

TEST(Simd, UnknownOrUnsupportedNamesListTheSupportedOnes) {
  const std::string best = supported_simd_targets().front();
  const std::vector<std::string> targets = supported_simd_targets();
  // Unknown names, and whichever of the known ones this CPU or build cannot run.
  for (const char* name : {"avx9", "AVX2", "sse2", "avx512", "avx2", "sse4", "neon"}) {
    if (std::find(targets.begin(), targets.end(), name) != targets.end()) continue;
    try {
      set_simd_target(name);
      FAIL() << name << " was accepted";
    } catch (const ValueError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(std::string("'") + name + "'"), std::string::npos) << what;
      EXPECT_NE(what.find("supported: " + best), std::string::npos) << what;
    }
    EXPECT_EQ(simd_target(), best) << "a failed choice changed the target";
  }
}

TEST(Simd, VersionReportNamesTargetAndBlas) {
  const std::string report = version_report();
  EXPECT_NE(report.find(std::string("recur ") + version()), std::string::npos) << report;
  EXPECT_NE(report.find("simd: " + simd_target()), std::string::npos) << report;
  EXPECT_NE(report.find("blas: OpenBLAS"), std::string::npos) << report;
}

TEST(SimdCli, VersionShowsTheTargetRecurSimdChose) {
  for (const std::string& name : supported_simd_targets()) {
    const test::CliResult result = test::run_cli("--version", "env RECUR_SIMD=" + name);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("simd: " + name + " "), std::string::npos) << result.output;
  }
}

TEST(SimdCli, BadRecurSimdIsAnErrorBeforeAnyWork) {
  const test::CliResult result = test::run_cli("stats --help", "env RECUR_SIMD=avx9");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("RECUR_SIMD: 'avx9' is not a SIMD target"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("supported: "), std::string::npos) << result.output;
}

}  // namespace
}  // namespace recur
