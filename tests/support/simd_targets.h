// Kernel tests run once per SIMD target this CPU and build support (Highway's per-target test
// pattern): derive the fixture from SimdTargetTest, write TEST_P, and instantiate it with
// RECUR_INSTANTIATE_SIMD_TARGETS(Fixture); the cases are then named e.g. Simd/GemvTest.Matches/avx2.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "recur/core/simd.h"

namespace recur {

class SimdTargetTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    set_simd_target(GetParam());
    ASSERT_EQ(simd_target(), GetParam());
  }
  // Back to what the environment asked for (RECUR_SIMD), or the best target.
  void TearDown() override {
    const char* env = std::getenv("RECUR_SIMD");
    set_simd_target(env != nullptr ? env : "best");
  }
};

}  // namespace recur

#define RECUR_INSTANTIATE_SIMD_TARGETS(Fixture)                                                   \
  INSTANTIATE_TEST_SUITE_P(Simd, Fixture, ::testing::ValuesIn(::recur::supported_simd_targets()), \
                           [](const ::testing::TestParamInfo<std::string>& info) { return info.param; })
