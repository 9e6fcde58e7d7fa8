// Run-time choice of the kernels' SIMD target (see simd.h). Highway dispatches every
// HWY_DYNAMIC_DISPATCH call to the best target among those compiled (HWY_TARGETS, the same in
// every translation unit: the definitions come from CMakeLists.txt) and those "supported"; a
// narrower choice is made by narrowing what counts as supported.
#include "recur/core/simd.h"

#include <hwy/targets.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "recur/core/error.h"

namespace recur {

namespace {

// Highway's target bits for one recur name (0 when the name is unknown). avx512 covers AVX3_DL
// too, should a build enable it.
int64_t target_bits(std::string_view name) {
  if (name == "avx512") return HWY_AVX3 | HWY_AVX3_DL;
  if (name == "avx2") return HWY_AVX2;
  if (name == "sse4") return HWY_SSE4;
  if (name == "neon") return HWY_NEON;
  if (name == "scalar") return HWY_SCALAR | HWY_EMU128;
  return 0;
}

const char* target_name(int64_t bit) {
  if (bit & (HWY_AVX3 | HWY_AVX3_DL)) return "avx512";
  if (bit & HWY_AVX2) return "avx2";
  if (bit & HWY_SSE4) return "sse4";
  if (bit & HWY_NEON) return "neon";
  if (bit & (HWY_SCALAR | HWY_EMU128)) return "scalar";
  return "unknown";
}

// What the CPU supports among the compiled targets, before any narrowing (captured on first use,
// since narrowing changes what Highway reports).
int64_t cpu_targets() {
  static const int64_t targets = [] {
    hwy::SetSupportedTargetsForTest(0);
    return static_cast<int64_t>(hwy::SupportedTargets() & HWY_TARGETS) | HWY_STATIC_TARGET;
  }();
  return targets;
}

std::string supported_list() {
  std::string list;
  for (const std::string& name : supported_simd_targets()) list += (list.empty() ? "" : ", ") + name;
  return list;
}

// The targets the kernels may run on now, as narrow_to left them, so that simd_target() need not ask
// Highway: SupportedTargets() runs CPUID, which a virtual machine traps (about 14 us a call on a
// KVM guest, 0.6% of a bench layer run that asked once per layer call).
std::atomic<int64_t> g_running{0};

void narrow_to(std::string_view name, const std::string& what) {
  const int64_t available = cpu_targets();
  if (name.empty() || name == "best") {
    hwy::SetSupportedTargetsForTest(0);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
    g_running.store(available, std::memory_order_relaxed);
    return;
  }
  const int64_t bits = target_bits(name) & available;
  check<ValueError>(bits != 0, what + ": '" + std::string(name) +
                                   "' is not a SIMD target this build and CPU " +
                                   "can run; supported: " + supported_list() + " (or best)");
  const int64_t chosen = bits & -bits;  // the best bit of the name
  // Everything at or below the chosen target (a lower bit value is a better target).
  const int64_t mask = available & ~(chosen - 1);
  hwy::SetSupportedTargetsForTest(mask);
  hwy::GetChosenTarget().Update(mask);
  g_running.store(mask, std::memory_order_relaxed);
}

std::once_flag environment_applied;

}  // namespace

std::vector<std::string> supported_simd_targets() {
  std::vector<std::string> names;
  for (int64_t rest = cpu_targets(); rest != 0; rest &= rest - 1) {
    const std::string name = target_name(rest & -rest);
    if (names.empty() || names.back() != name) names.push_back(name);
  }
  return names;
}

void apply_simd_environment() {
  std::call_once(environment_applied, [] {
    const char* value = std::getenv("RECUR_SIMD");
    narrow_to(value != nullptr ? value : "", "RECUR_SIMD");
  });
}

void set_simd_target(std::string_view name) {
  apply_simd_environment();
  narrow_to(name, "SIMD target");
}

std::string simd_target() {
  apply_simd_environment();
  const int64_t running = g_running.load(std::memory_order_relaxed);
  return target_name(running & -running);
}

}  // namespace recur
