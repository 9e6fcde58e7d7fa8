// Lag windows, the series scaler, error metrics, baselines and series loading, against values
// worked out by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/timeseries/baselines.h"
#include "recur/timeseries/forecast_metrics.h"
#include "recur/timeseries/series_features.h"
#include "recur/timeseries/time_series.h"
#include "test_support.h"

using namespace recur;

TEST(LagExamples, WindowsAndLabels) {
  const std::vector<double> x = {10, 11, 12, 13, 14, 15};
  LagExamples ex = make_lag_examples(x, 2, 3, 6);  // labels at 3, 4, 5
  ASSERT_EQ(ex.features.shape(), (Shape{3, 2}));
  ASSERT_EQ(ex.labels.shape(), (Shape{3, 1}));
  EXPECT_EQ(std::vector<float>(ex.features.span().begin(), ex.features.span().end()),
            (std::vector<float>{11, 12, 12, 13, 13, 14}));
  EXPECT_EQ(std::vector<float>(ex.labels.span().begin(), ex.labels.span().end()),
            (std::vector<float>{13, 14, 15}));
}

TEST(LagExamples, BadRangesThrow) {
  const std::vector<double> x = {1, 2, 3};
  EXPECT_THROW((void)make_lag_examples(x, 0, 1, 3), ValueError);
  EXPECT_THROW((void)make_lag_examples(x, 2, 1, 3), ValueError);  // first < lags
  EXPECT_THROW((void)make_lag_examples(x, 2, 2, 4), ValueError);  // end past the series
  EXPECT_THROW((void)make_lag_examples(x, 2, 3, 3), ValueError);  // empty
}

TEST(SeriesScaler, StandardizesAndInverts) {
  const std::vector<double> x = {1, 2, 3, 4};
  SeriesScaler s = SeriesScaler::fit(x, false);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.scale, std::sqrt(1.25));
  EXPECT_DOUBLE_EQ(s.transform(2.5), 0.0);
  EXPECT_NEAR(s.inverse(s.transform(7.0)), 7.0, 1e-12);

  SeriesScaler l = SeriesScaler::fit(std::vector<double>{1.0, std::exp(2.0)}, true);
  EXPECT_DOUBLE_EQ(l.mean, 1.0);
  EXPECT_DOUBLE_EQ(l.scale, 1.0);
  EXPECT_NEAR(l.transform(std::exp(3.0)), 2.0, 1e-12);
  EXPECT_NEAR(l.inverse(2.0), std::exp(3.0), 1e-9);

  EXPECT_DOUBLE_EQ(SeriesScaler::fit(std::vector<double>{5, 5, 5}, false).scale, 1.0);  // constant series
  try {
    (void)SeriesScaler::fit(std::vector<double>{1, 0, 2}, true);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("position 2"), std::string::npos) << e.what();
  }
}

// The plain sum of squares of 1e300 is infinite; the scaler works in units of the largest value.
TEST(SeriesScaler, HugeValuesScaleInDouble) {
  const std::vector<double> x = {1e300, -1e300, 1e300, -1e300};
  const SeriesScaler s = SeriesScaler::fit(x, false);
  EXPECT_DOUBLE_EQ(s.mean, 0.0);
  EXPECT_DOUBLE_EQ(s.scale, 1e300);
  EXPECT_EQ(s.transform_all(x, "x.csv"), (std::vector<double>{1, -1, 1, -1}));
  EXPECT_THROW((void)SeriesScaler::fit(std::vector<double>{1.0, INFINITY}, false), NumericError);
  const SeriesScaler unit = SeriesScaler::fit(std::vector<double>{0, 2}, false);
  test::expect_error_words<NumericError>(
      [&] {
        (void)unit.transform_all(std::vector<double>{1, 2, 1e300}, "x.csv, column 'v'");
      },
      {"x.csv, column 'v': data row 3: value 1e+300"});
  const SeriesScaler logged = SeriesScaler::fit(std::vector<double>{1, 10}, true);
  EXPECT_THROW((void)logged.inverse_all(std::vector<double>{1e10}, "forecasts"), NumericError);
}

TEST(ForecastMetrics, MseAndMape) {
  const std::vector<double> actual = {1, 2, 0, 4};
  const std::vector<double> predicted = {2, 2, 1, 2};
  EXPECT_DOUBLE_EQ(mean_squared_error(actual, predicted), (1.0 + 0 + 1 + 4) / 4);
  EXPECT_DOUBLE_EQ(mean_absolute_percentage_error(actual, predicted),
                   100.0 * (1.0 + 0 + 0.5) / 3);  // zero skipped
  EXPECT_TRUE(std::isnan(mean_absolute_percentage_error(std::vector<double>{0}, std::vector<double>{1})));
  EXPECT_THROW((void)mean_squared_error(actual, std::vector<double>{1}), ShapeError);
  EXPECT_THROW((void)mean_squared_error(std::vector<double>{}, std::vector<double>{}), ValueError);
}

TEST(Baselines, NaiveAndSeasonalNaive) {
  const std::vector<double> y = {1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(naive_forecast(y, 3), (std::vector<double>{7, 7, 7}));
  // S = 3: the last cycle is 5, 6, 7, repeated.
  EXPECT_EQ(seasonal_naive_forecast(y, 3, 7), (std::vector<double>{5, 6, 7, 5, 6, 7, 5}));
  EXPECT_EQ(seasonal_naive_forecast(y, 1, 2), (std::vector<double>{7, 7}));
  EXPECT_THROW((void)naive_forecast(y, 0), ValueError);
  EXPECT_THROW((void)seasonal_naive_forecast(y, 8, 1), ValueError);
  EXPECT_THROW((void)seasonal_naive_forecast(y, 0, 1), ValueError);
}

TEST(TimeSeries, FromCsvWithDatesAndSeason) {
  CsvTable t = read_csv(test::test_data_dir() / "timeseries" / "monthly_small.csv");
  TimeSeries s = make_time_series(t, "sales", "month");
  EXPECT_EQ(s.size(), 48);
  EXPECT_EQ(s.spacing, DateSpacing::monthly);
  EXPECT_EQ(s.lines[0], 2);
  EXPECT_EQ(choose_season(s, std::nullopt).season, 12);
  EXPECT_EQ(choose_season(s, 4).season, 4);
  EXPECT_EQ(choose_season(make_time_series(t, "sales"), std::nullopt).source, "default");
  EXPECT_THROW((void)choose_season(s, -1), ValueError);
}

TEST(TimeSeries, BadDatesNameRowAndColumn) {
  CsvTable bad = parse_csv("d,v\n2000-01,1\n2000-13,2\n", "b.csv");
  try {
    (void)make_time_series(bad, "v", "d");
    FAIL();
  } catch (const ValueError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("b.csv: data row 2 (line 3), column 'd': '2000-13' is not a date"), std::string::npos)
        << msg;
  }
  CsvTable backwards = parse_csv("d,v\n2000-02,1\n2000-01,2\n", "b.csv");
  EXPECT_THROW((void)make_time_series(backwards, "v", "d"), ValueError);
  EXPECT_THROW((void)make_time_series(parse_csv("d,v\n", "h.csv"), "v"), ValueError);  // no rows
}
