// `recur bench layer` (the recurrent stack alone, forward and backward) as the comparison scripts run
// it: a short run ends with the tokens_per_s line, and bad flags are refused by name.
#include <gtest/gtest.h>

#include <regex>

#include "test_support.h"

using namespace recur;

namespace {
std::string last_line(const std::string& out) {
  const size_t end = out.find_last_not_of('\n');
  const size_t start = out.rfind('\n', end);
  const size_t first = start == std::string::npos ? 0 : start + 1;
  return out.substr(first, end - first + 1);
}

void expect_failure(const std::string& args, const std::vector<std::string>& words) {
  const auto r = test::run_cli(args);
  EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << args << "\n" << r.output;
  for (const auto& w : words) EXPECT_NE(r.output.find(w), std::string::npos) << args << "\n" << r.output;
}
}  // namespace

TEST(BenchLayerCli, PrintsThroughputAsItsLastLine) {
  // Two layers with I != H cover the second layer's H -> H input and dx through both.
  for (const std::string cell : {"rnn", "gru", "lstm"}) {
    const auto r =
        test::run_cli("bench layer --cell " + cell +
                      " --layers 2 --hidden 8 --input 5 --batch 3 --steps 4 --seconds 0.05 --warmup 1"
                      " --threads 1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(std::regex_match(last_line(r.output), std::regex(R"(tokens_per_s=[0-9]+(\.[0-9]+)?)")))
        << r.output;
    EXPECT_NE(r.output.find("simd="), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("blas_core="), std::string::npos) << r.output;
  }
}

TEST(BenchLayerCli, RefusesBadFlags) {
  // Small sizes everywhere, so that a flag wrongly accepted costs little; each case overrides one.
  auto args = [](const std::string& flag, const std::string& value) {
    std::string line = "bench layer --seconds 0.01 --warmup 0";
    for (const auto& [f, v] : {std::pair<std::string, std::string>{"--hidden", "8"},
                               {"--input", "5"},
                               {"--batch", "3"},
                               {"--steps", "4"},
                               {"--layers", "1"},
                               {"--cell", "gru"}})
      line += " " + f + " " + (f == flag ? value : v);
    return line;
  };
  expect_failure(args("--hidden", "0"), {"--hidden", "got 0"});
  expect_failure(args("--input", "-2"), {"--input", "got -2"});
  expect_failure(args("--batch", "0"), {"--batch", "got 0"});
  expect_failure(args("--steps", "0"), {"--steps", "got 0"});
  expect_failure(args("--layers", "0"), {"--layers", "got 0"});
  expect_failure(args("--cell", "tree"), {"--cell", "tree"});
  expect_failure(args("--hidden", "10000000"), {"--hidden", "needs about", "memory"});
  expect_failure("bench layer --hidden 8 --input 5 --batch 3 --steps 4 --seconds -1",
                 {"--seconds", "got -1"});
}
