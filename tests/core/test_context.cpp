// make_compute_context: --threads 0 means all hardware threads, large counts are capped, negative
// ones are refused with a message naming `threads` and the value; check_compute_context and a
// Graph refuse a context outside [1, kMaxThreads].
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "recur/autograd/graph.h"
#include "recur/core/context.h"
#include "recur/core/error.h"

namespace recur {
namespace {

int cap() { return std::min(kMaxThreads, 4 * hardware_threads()); }

TEST(ComputeContext, DefaultIsOneThread) { EXPECT_EQ(ComputeContext{}.threads, 1); }

TEST(ComputeContext, ZeroMeansAllHardwareThreads) {
  EXPECT_GE(hardware_threads(), 1);
  EXPECT_EQ(make_compute_context(0).threads, std::min(hardware_threads(), kMaxThreads));
}

TEST(ComputeContext, KeepsCountsUpToTheCap) {
  EXPECT_EQ(make_compute_context(1).threads, 1);
  EXPECT_EQ(make_compute_context(cap()).threads, cap());
  if (cap() >= 3) {
    EXPECT_EQ(make_compute_context(3).threads, 3);
  }
}

TEST(ComputeContext, CapsLargeCounts) {
  EXPECT_EQ(make_compute_context(cap() + 1).threads, cap());
  EXPECT_EQ(make_compute_context(100000).threads, cap());
  EXPECT_LE(make_compute_context(1 << 30).threads, kMaxThreads);
}

TEST(ComputeContext, RefusesNegativeCounts) {
  try {
    (void)make_compute_context(-3);
    FAIL() << "no error for -3 threads";
  } catch (const ValueError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("threads"), std::string::npos) << message;
    EXPECT_NE(message.find("-3"), std::string::npos) << message;
  }
}

TEST(ComputeContext, GraphRefusesContextsOutOfRange) {
  for (int threads : {0, -1, kMaxThreads + 1}) {
    try {
      Graph<float> g(ComputeContext{.threads = threads});
      FAIL() << "no error for " << threads << " threads";
    } catch (const ValueError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("threads"), std::string::npos) << message;
      EXPECT_NE(message.find(std::to_string(threads)), std::string::npos) << message;
    }
  }
  Graph<float> g;
  EXPECT_EQ(g.context().threads, 1);
  EXPECT_THROW(g.set_context({.threads = 0}), ValueError);
  EXPECT_EQ(g.context().threads, 1);  // unchanged by the refused context
  g.set_context({.threads = kMaxThreads});
  EXPECT_EQ(g.context().threads, kMaxThreads);
}

}  // namespace
}  // namespace recur
