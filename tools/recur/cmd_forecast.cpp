// `recur forecast`: autoregressive forecasting of a series (d2l 9.1). --synthetic runs the book's
// experiment on a noisy sine; --csv trains on a real series and compares with naive baselines.
#include <fmt/core.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "commands.h"
#include "recur/core/checked_size.h"
#include "recur/core/error.h"
#include "recur/data/dataset.h"
#include "recur/io/svg_plot.h"
#include "recur/timeseries/csv.h"
#include "recur/timeseries/forecast_charts.h"
#include "recur/timeseries/forecast_evaluation.h"
#include "recur/timeseries/synthetic_experiment.h"
#include "recur/timeseries/time_series.h"

namespace recur::cli {

namespace {

struct ForecastCliOptions {
  bool synthetic = false;
  std::string csv;
  std::string column;
  std::string date_column;
  int lags = 12;
  int horizon = 12;
  std::string model = "linear";
  bool log = false;
  double test_fraction = 0.2;
  int season = 12;
  std::string plot = "forecast.svg";
  int epochs = 50;
  int batch_size = 16;
  double lr = 0.01;
  std::string optimizer = "adam";
  int hidden = 10;
  uint64_t seed = 0;
  int threads = 1;  // from --threads (compute_context)
};

std::string format_mape(double mape) { return std::isnan(mape) ? "n/a" : fmt::format("{:.2f}", mape); }

// PATH with `suffix` before its extension: forecast.svg -> forecast-ksteps.svg.
std::filesystem::path with_suffix(const std::filesystem::path& path, const std::string& suffix) {
  std::filesystem::path out = path;
  out.replace_filename(path.stem().string() + suffix + path.extension().string());
  return out;
}

ForecastTrainOptions train_options(const ForecastCliOptions& o) {
  return {.epochs = o.epochs,
          .batch_size = o.batch_size,
          .optimizer = o.optimizer,
          .lr = o.lr,
          .threads = o.threads};
}

void run_synthetic(const ForecastCliOptions& o, bool lags_given) {
  SyntheticExperimentOptions options;
  options.lags = lags_given ? o.lags : 4;
  options.hidden_size = o.hidden;
  options.train = train_options(o);
  options.seed = o.seed;
  const ForecastModel charted = parse_forecast_model(o.model);
  if (charted == ForecastModel::kGru) options.models.push_back(ForecastModel::kGru);
  const SyntheticExperiment ex = run_synthetic_experiment(options);

  fmt::print(
      "d2l 9.1: x_t = sin(0.01 t) + N(0, {}^2), t = 1..{}, tau = {}, trained on the first {} examples "
      "(seed {})\n",
      options.noise_std, options.length, options.lags, options.train_examples, options.seed);
  fmt::print("noise variance {:.4f}; errors are mean squared errors\n\n",
             options.noise_std * options.noise_std);
  fmt::print("{:<30}", "prediction");
  for (const auto& r : ex.results) fmt::print(" {:>11}", forecast_model_name(r.model));
  fmt::print("\n");
  auto row = [&](const std::string& label, auto get) {
    fmt::print("{:<30}", label);
    for (const auto& r : ex.results) fmt::print(" {:>11.4f}", get(r));
    fmt::print("\n");
  };
  row("1-step, all t", [](const SyntheticModelResult& r) { return r.one_step_mse; });
  row(fmt::format("1-step, t >= {}", ex.multi_step_origin + 1),
      [](const SyntheticModelResult& r) { return r.one_step_test_mse; });
  row(fmt::format("multi-step from t = {}", ex.multi_step_origin + 1),
      [](const SyntheticModelResult& r) { return r.multi_step_mse; });
  for (size_t k = 0; k < options.k_steps.size(); ++k) {
    row(fmt::format("{}-step-ahead", options.k_steps[k]),
        [k](const SyntheticModelResult& r) { return r.k_step_mse[k]; });
  }
  fmt::print("\ntraining (final epoch loss, standardized units):");
  for (const auto& r : ex.results) {
    fmt::print(" {} {:.4f}", forecast_model_name(r.model), r.training.epoch_losses.back());
  }
  fmt::print(" ({} epochs, {} steps each)\n", o.epochs, ex.results.front().training.steps);

  if (!o.plot.empty()) {
    size_t index = 0;
    while (ex.results[index].model != charted) ++index;
    const std::filesystem::path k_path = with_suffix(o.plot, "-ksteps");
    write_svg_chart(synthetic_predictions_chart(ex, index), o.plot);
    write_svg_chart(synthetic_k_step_chart(ex, index), k_path);
    fmt::print("charts ({}): {}, {}\n", o.model, o.plot, k_path.string());
  }
}

void run_csv(const ForecastCliOptions& o, bool season_given) {
  const std::filesystem::path path = resolve_dataset(o.csv);
  const CsvTable table = read_csv(path);
  if (o.column.empty()) {
    throw ValueError(fmt::format("--column is required with --csv; the columns of {} are {}", path.string(),
                                 list_csv_columns(table)));
  }
  const TimeSeries series = make_time_series(
      table, o.column, o.date_column.empty() ? std::nullopt : std::optional<std::string_view>(o.date_column));
  if (o.log) {
    for (int64_t i = 0; i < series.size(); ++i) {
      if (!(series.values[static_cast<size_t>(i)] > 0.0)) {
        throw ValueError(
            fmt::format("{}: data row {} (line {}), column '{}': --log needs positive values, got {}",
                        series.source, i + 1, series.lines[static_cast<size_t>(i)], series.value_column,
                        series.values[static_cast<size_t>(i)]));
      }
    }
  }
  const SeasonChoice season =
      choose_season(series, season_given ? std::optional<int>(o.season) : std::nullopt);

  ForecastEvaluationOptions options;
  options.lags = o.lags;
  options.horizon = o.horizon;
  options.test_fraction = o.test_fraction;
  options.log = o.log;
  options.season = season.season;
  options.model = {.model = parse_forecast_model(o.model), .lags = o.lags, .hidden_size = o.hidden};
  options.train = train_options(o);
  options.seed = o.seed;
  options.series_name = fmt::format("{}, column '{}'", path.string(), series.value_column);
  const ForecastEvaluation ev = evaluate_forecaster(series.values, options);

  fmt::print("{}: {} values of '{}'", path.string(), series.size(), series.value_column);
  if (!series.dates.empty()) {
    fmt::print(" ({} .. {}, {})", format_date(series.dates.front()), format_date(series.dates.back()),
               date_spacing_name(series.spacing));
  }
  fmt::print("\ntrain {} values, test {}; model {}, lags {}{}, season {} ({})\n", ev.train_size, ev.test_size,
             o.model, o.lags, o.log ? ", log transform" : "", season.season, season.source);
  fmt::print(
      "training: {} epochs, {} steps, final loss {:.5f} (standardized units), last gradient norm {:.4f}\n\n",
      o.epochs, ev.training.steps, ev.training.epoch_losses.back(), ev.training.last_grad_norm);

  fmt::print("test errors (in the series' units)\n");
  fmt::print("{:<34} {:>13} {:>9}\n", "forecast", "MSE", "MAPE %");
  auto row = [](const std::string& label, const ForecastErrors& e) {
    fmt::print("{:<34} {:>13.4f} {:>9}\n", label, e.mse, format_mape(e.mape));
  };
  row("1-step  model", ev.model_one_step);
  row("1-step  naive (last value)", ev.naive_one_step);
  if (ev.has_seasonal)
    row(fmt::format("1-step  seasonal naive (S = {})", season.season), ev.seasonal_one_step);
  const std::string h = fmt::format("{}-step", o.horizon);
  row(fmt::format("{} model (recursive)", h), ev.model_multi_step);
  row(fmt::format("{} naive", h), ev.naive_multi_step);
  if (ev.has_seasonal) row(fmt::format("{} seasonal naive", h), ev.seasonal_multi_step);
  fmt::print("({}-step errors: steps 1..{} from each of {} rolling origins in the test part", o.horizon,
             o.horizon, ev.num_origins);
  if (!ev.has_seasonal && season.season > 0)
    fmt::print("; no seasonal naive: season longer than the training part");
  fmt::print(")\n\n");

  const std::vector<std::string> dates = next_date_labels(series.dates, series.spacing, o.horizon);
  fmt::print("forecast after the end of the data\n");
  fmt::print("{:>6}  {:<12} {:>13} {:>13} {:>15}\n", "step", "date", "model", "naive", "seasonal naive");
  for (int i = 0; i < o.horizon; ++i) {
    const auto k = static_cast<size_t>(i);
    fmt::print("{:>6}  {:<12} {:>13.4f} {:>13.4f} {:>15}\n", i + 1, dates.empty() ? "-" : dates[k],
               ev.future[k], ev.future_naive[k],
               ev.future_seasonal.empty() ? "-" : fmt::format("{:.4f}", ev.future_seasonal[k]));
  }
  if (!o.plot.empty()) {
    const std::string title =
        fmt::format("{} ({}, lags {}{})", path.filename().string(), o.model, o.lags, o.log ? ", log" : "");
    write_svg_chart(evaluation_chart(series.values, ev, title, series.value_column, o.horizon), o.plot);
    fmt::print("chart: {}\n", o.plot);
  }
}

}  // namespace

void add_forecast_command(CLI::App& app, const CommonOptions& common) {
  auto o = std::make_shared<ForecastCliOptions>();
  auto* cmd = app.add_subcommand("forecast", "Autoregressive forecasts of a series (d2l 9.1)");
  cmd->option_defaults()->always_capture_default();
  auto* synthetic = cmd->add_flag("--synthetic", o->synthetic,
                                  "Run d2l 9.1's experiment on a noisy sine and print the table of errors");
  auto* csv = cmd->add_option("--csv", o->csv,
                              "CSV file (RFC 4180, with a header) or dataset name, e.g. airline-passengers");
  synthetic->excludes(csv);
  auto* column = cmd->add_option("--column", o->column, "Column holding the values (required with --csv)");
  auto* date_column = cmd->add_option("--date-column", o->date_column,
                                      "Column of dates (YYYY-MM[-DD]); sets the season and forecast dates");
  auto* lags =
      cmd->add_option("--lags", o->lags, "Previous values the model sees (default 12; 4 with --synthetic)");
  auto* horizon = cmd->add_option("--horizon", o->horizon, "Steps of the recursive forecast");
  cmd->add_option("--model", o->model, "Model: linear, mlp or gru (with --synthetic: the one charted)");
  auto* log = cmd->add_flag("--log", o->log,
                            "Model the log of the values (positive series with a multiplicative trend)");
  auto* test_fraction = cmd->add_option("--test-fraction", o->test_fraction,
                                        "Fraction of the series, at its end, held out for testing");
  auto* season =
      cmd->add_option("--season", o->season,
                      "Season length for the seasonal-naive baseline; 0 = none (default: from the date "
                      "column's spacing, 12 monthly, 365 daily, 52 weekly, 4 quarterly; else 12)");
  for (CLI::Option* csv_only : {column, date_column, horizon, log, test_fraction, season})
    synthetic->excludes(csv_only);
  cmd->add_option("--plot", o->plot,
                  "SVG chart to write ('' = none); --synthetic also writes <name>-ksteps.svg");
  cmd->add_option("--epochs", o->epochs, "Training epochs");
  cmd->add_option("--batch-size", o->batch_size, "Minibatch size");
  cmd->add_option("--lr", o->lr, "Learning rate");
  cmd->add_option("--optimizer", o->optimizer, "Optimizer: sgd, adam or adamw");
  cmd->add_option("--hidden", o->hidden, "Hidden units of the mlp and gru models");
  cmd->add_option("--seed", o->seed, "Random seed (data of --synthetic, initialization, shuffling)");
  cmd->footer(
      "Examples:\n"
      "  recur forecast --synthetic\n"
      "  recur forecast --csv airline-passengers --column Passengers --date-column Month --lags 12 --horizon "
      "12 --log\n"
      "  recur forecast --csv daily-min-temperatures --column Temp --date-column Date --lags 7 --horizon 7 "
      "--model mlp\n"
      "Test errors compare the model with the naive (last value) and seasonal-naive (value one season back)\n"
      "forecasts on the last --test-fraction of the series; the model is trained on the rest.");
  cmd->callback([o, &common, lags, season, synthetic, csv] {
    o->threads = apply_common(common).threads;
    check_size_range(o->lags, 1, kMaxForecastLags, "--lags");  // before anything is sized from them
    check_size_range(o->horizon, 1, kMaxForecastHorizon, "--horizon");
    check_size_range(o->hidden, 1, kMaxForecastHidden, "--hidden");
    if (synthetic->count() > 0) {
      run_synthetic(*o, lags->count() > 0);
    } else if (csv->count() > 0) {
      run_csv(*o, season->count() > 0);
    } else {
      throw ValueError("forecast: give --synthetic or --csv FILE (see recur forecast --help)");
    }
  });
}

}  // namespace recur::cli
