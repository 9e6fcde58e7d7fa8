// `recur forecast` end to end: the synthetic table, the airline comparison, and bad input.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "test_support.h"

using namespace recur;

namespace {

std::string fixture(const std::string& name) {
  return (test::test_data_dir() / "timeseries" / name).string();
}

// The numbers after `label` on its line of `output`.
std::vector<double> numbers_after(const std::string& output, const std::string& label) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(label, 0) != 0) continue;
    std::istringstream rest(line.substr(label.size()));
    std::vector<double> values;
    double v;
    while (rest >> v) values.push_back(v);
    return values;
  }
  ADD_FAILURE() << "no line starting with '" << label << "' in:\n" << output;
  return {};
}

void expect_failure(const std::string& args, const std::vector<std::string>& parts) {
  auto r = test::run_cli(args);
  EXPECT_NE(r.exit_code, 0) << args << "\n" << r.output;
  for (const auto& p : parts)
    EXPECT_NE(r.output.find(p), std::string::npos) << "'" << p << "' missing:\n" << r.output;
}

}  // namespace

TEST(ForecastCli, SyntheticPrintsTheErrorTable) {
  auto dir = test::make_temp_dir("forecast");
  auto r = test::run_cli("forecast --synthetic --plot '" + (dir / "syn.svg").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto one = numbers_after(r.output, "1-step, all t");
  auto k1 = numbers_after(r.output, "1-step-ahead");
  auto k64 = numbers_after(r.output, "64-step-ahead");
  ASSERT_EQ(one.size(), 2u);  // linear, mlp
  ASSERT_EQ(k64.size(), 2u);
  for (size_t m = 0; m < 2; ++m) {
    EXPECT_NEAR(one[m], 0.05, 0.02);
    EXPECT_GT(k64[m], 3 * k1[m]);
  }
  for (const char* name : {"syn.svg", "syn-ksteps.svg"}) {
    std::ifstream svg(dir / name);
    std::string text((std::istreambuf_iterator<char>(svg)), {});
    EXPECT_NE(text.find("<svg"), std::string::npos) << name;
  }
}

TEST(ForecastCli, AirlineByNameBeatsNaive) {
  ::setenv("RECUR_DATA", test::shared_data_dir().c_str(), 1);
  auto dir = test::make_temp_dir("forecast");
  auto r = test::run_cli(
      "forecast --csv airline-passengers --column Passengers --date-column Month --lags 12 "
      "--horizon 12 --log --plot '" +
      (dir / "air.svg").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("season 12 (monthly dates)"), std::string::npos) << r.output;
  auto model = numbers_after(r.output, "1-step  model");
  auto naive = numbers_after(r.output, "1-step  naive (last value)");
  auto model_h = numbers_after(r.output, "12-step model (recursive)");
  auto naive_h = numbers_after(r.output, "12-step naive");
  ASSERT_EQ(model.size(), 2u);
  EXPECT_LT(model[0], naive[0]);  // MSE
  EXPECT_LT(model[1], naive[1]);  // MAPE
  EXPECT_LT(model_h[0], naive_h[0]);
  EXPECT_NE(r.output.find("1961-12"), std::string::npos) << r.output;  // the forecast's last date
  EXPECT_TRUE(std::filesystem::exists(dir / "air.svg"));
}

TEST(ForecastCli, DailyTemperaturesWithMlp) {
  auto r = test::run_cli(
      "forecast --csv '" + (test::shared_data_dir() / "timeseries" / "daily-min-temperatures.csv").string() +
      "' --column Temp --date-column Date --lags 7 --horizon 7 --model mlp --epochs 5 --plot ''");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("season 365 (daily dates)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1991-01-07"), std::string::npos) << r.output;
  EXPECT_LT(numbers_after(r.output, "1-step  model")[0],
            numbers_after(r.output, "1-step  naive (last value)")[0]);
}

TEST(ForecastCli, GruRuns) {
  auto r = test::run_cli("forecast --csv '" + fixture("monthly_small.csv") +
                         "' --column sales --lags 6 --horizon 3 --model gru --hidden 4 --epochs 3 --plot ''");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("model gru"), std::string::npos);
}

TEST(ForecastCli, QuotedCrlfFixtureWorks) {
  auto r = test::run_cli("forecast --csv '" + fixture("crlf_quoted.csv") +
                         "' --column Value --lags 1 --horizon 1 --test-fraction 0.25 --epochs 1 --plot ''");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("4 values of 'Value'"), std::string::npos) << r.output;
}

TEST(ForecastCli, BadInput) {
  const std::string small = "forecast --csv '" + fixture("monthly_small.csv") + "' --plot '' --epochs 1";
  expect_failure(small + " --column revenue", {"no column named 'revenue'", "'month', 'sales'"});
  expect_failure(small, {"--column is required", "'month', 'sales'"});
  expect_failure("forecast --csv '" + fixture("non_numeric.csv") + "' --column value --plot ''",
                 {"data row 3 (line 4)", "column 'value'", "'abc' is not a number"});
  expect_failure("forecast --csv '" + fixture("empty.csv") + "' --column value", {"empty.csv", "empty"});
  expect_failure("forecast --csv '" + fixture("header_only.csv") + "' --column value", {"no data rows"});
  expect_failure(small + " --column sales --lags 48", {"48 values, fewer than lags + 1 = 49"});
  expect_failure(small + " --column sales --horizon 0", {"horizon must be >= 1, got 0"});
  expect_failure(small + " --column sales --model arima", {"linear, mlp, gru"});
  expect_failure(small + " --column sales --date-column sales", {"is not a date"});
  expect_failure("forecast --csv no-such-dataset --column x", {"no-such-dataset"});
  expect_failure("forecast --csv '" + fixture("ragged.csv") + "' --column value",
                 {"line 3", "expected 2 fields"});
  expect_failure("forecast", {"--synthetic or --csv"});
  expect_failure("forecast --synthetic --csv x.csv", {"excludes"});
  expect_failure("forecast --synthetic --horizon 3", {"excludes"});  // --csv options do not apply
}

TEST(ForecastCli, CommandLineErrorsExitWithTwoAndBadDataWithOne) {
  // The documented codes (tools/recur/main.cpp): 2 for the command line, whatever CLI11's own
  // code for the kind of mistake; 1 for input that cannot be used; 0 for --help.
  EXPECT_EQ(test::run_cli("forecast --synthetic --csv x.csv").exit_code, 2);
  EXPECT_EQ(test::run_cli("forecast --no-such-flag").exit_code, 2);
  EXPECT_EQ(test::run_cli("forecast --synthetic --epochs notanumber").exit_code, 2);
  EXPECT_EQ(test::run_cli("forecast --csv '" + fixture("empty.csv") + "' --column value").exit_code, 1);
  EXPECT_EQ(test::run_cli("forecast --help").exit_code, 0);
}

TEST(ForecastCli, LogNeedsPositiveValuesAndNamesTheLine) {
  expect_failure("forecast --csv '" + fixture("crlf_quoted.csv") +
                     "' --column Value --lags 1 --horizon 1 --log --plot ''",
                 {"data row 3 (line 4)", "--log needs positive values"});
}

// Issue #12: flags sized without bound, a 1e300 cell giving NaN with exit 0, endless column lists.
TEST(ForecastCli, HardenedInputs) {
  const std::string small = "forecast --csv '" + fixture("monthly_small.csv") + "' --plot '' --epochs 1";
  expect_failure("forecast --synthetic --plot '' --lags 2147483647",
                 {"--lags must be <= 10000, got 2147483647"});
  expect_failure(small + " --column sales --lags 2147483647", {"--lags must be <= 10000, got 2147483647"});
  expect_failure(small + " --column sales --horizon 2147483647", {"--horizon must be <= 100000"});
  expect_failure("forecast --synthetic --plot '' --hidden 2147483647", {"--hidden must be <= 4096"});

  const auto dir = test::make_temp_dir("forecast-hard");
  {
    std::ofstream csv(dir / "huge.csv");
    csv << "t,v\n";
    for (int i = 0; i < 40; ++i) csv << i << "," << (i == 37 ? "1e300" : std::to_string(10 + i % 5)) << "\n";
  }
  const auto r = test::run_cli("forecast --csv '" + (dir / "huge.csv").string() +
                               "' --column v --lags 2 --horizon 2 "
                               "--plot '' --epochs 1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  for (const char* part : {"huge.csv, column 'v'", "data row 38", "1e+300"})
    EXPECT_NE(r.output.find(part), std::string::npos) << part << "\n" << r.output;
  EXPECT_EQ(r.output.find("nan"), std::string::npos) << r.output;

  {
    std::ofstream csv(dir / "wide.csv");
    for (int c = 0; c < 100'000; ++c) csv << (c ? "," : "") << "column" << c;
    csv << "\n";
    for (int c = 0; c < 100'000; ++c) csv << (c ? "," : "") << c;
    csv << "\n";
  }
  const auto wide = test::run_cli("forecast --csv '" + (dir / "wide.csv").string() + "' --plot ''");
  EXPECT_EQ(wide.exit_code, 1) << wide.output.substr(0, 500);
  EXPECT_NE(wide.output.find("and 99990 more"), std::string::npos) << wide.output.substr(0, 500);
  EXPECT_LT(wide.output.size(), 1000u);
  expect_failure("forecast --csv '" + dir.string() + "' --column v", {"is a directory"});
}
