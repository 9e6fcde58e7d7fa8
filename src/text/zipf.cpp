// Least-squares fit of Zipf's exponent on log-log axes, and the rank-frequency chart.
#include "recur/text/zipf.h"

#include <cmath>

#include "recur/core/error.h"

namespace recur {

namespace {
void check_sorted_counts(std::span<const int64_t> counts, const char* operation) {
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] <= 0)
      throw ValueError(std::string(operation) + ": count at rank " + std::to_string(i + 1) + " is " +
                       std::to_string(counts[i]) + "; counts must be positive");
    if (i > 0 && counts[i] > counts[i - 1])
      throw ValueError(std::string(operation) + ": counts must be sorted highest first; rank " +
                       std::to_string(i + 1) + " has " + std::to_string(counts[i]) + " after " +
                       std::to_string(counts[i - 1]));
  }
}
}  // namespace

void validate_zipf_options(const ZipfFitOptions& options) {
  check(options.min_rank >= 1, "Zipf fit: min_rank must be >= 1, got " + std::to_string(options.min_rank));
  check(options.max_rank == 0 || options.max_rank >= options.min_rank,
        "Zipf fit: max_rank must be 0 (no limit) or >= min_rank " + std::to_string(options.min_rank) +
            ", got " + std::to_string(options.max_rank));
  check(options.min_count >= 1, "Zipf fit: min_count must be >= 1, got " + std::to_string(options.min_count));
}

ZipfFit fit_zipf(std::span<const int64_t> sorted_counts, const ZipfFitOptions& options) {
  validate_zipf_options(options);
  check_sorted_counts(sorted_counts, "fit_zipf");

  // x = log10 rank, y = log10 count; slope = cov(x, y) / var(x), accumulated around the means.
  ZipfFit fit;
  auto last = static_cast<int64_t>(sorted_counts.size());
  if (options.max_rank > 0) last = std::min(last, options.max_rank);
  while (last >= options.min_rank && sorted_counts[static_cast<size_t>(last - 1)] < options.min_count) --last;
  const int64_t n = last - options.min_rank + 1;
  if (n < 2)
    throw ValueError("fit_zipf: ranks " + std::to_string(options.min_rank) + ".." +
                     (options.max_rank > 0 ? std::to_string(options.max_rank) : std::string("end")) +
                     " with count >= " + std::to_string(options.min_count) + " leave " +
                     std::to_string(std::max<int64_t>(n, 0)) + " of " + std::to_string(sorted_counts.size()) +
                     " points; at least 2 are needed");
  double mean_x = 0, mean_y = 0;
  for (int64_t r = options.min_rank; r <= last; ++r) {
    mean_x += std::log10(static_cast<double>(r));
    mean_y += std::log10(static_cast<double>(sorted_counts[static_cast<size_t>(r - 1)]));
  }
  mean_x /= static_cast<double>(n);
  mean_y /= static_cast<double>(n);
  double sxx = 0, sxy = 0, syy = 0;
  for (int64_t r = options.min_rank; r <= last; ++r) {
    const double dx = std::log10(static_cast<double>(r)) - mean_x;
    const double dy = std::log10(static_cast<double>(sorted_counts[static_cast<size_t>(r - 1)])) - mean_y;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  const double slope = sxy / sxx;
  fit.alpha = -slope;
  fit.log10_scale = mean_y - slope * mean_x;
  fit.r_squared = syy > 0 ? (sxy * sxy) / (sxx * syy) : 1.0;
  fit.first_rank = options.min_rank;
  fit.last_rank = last;
  fit.num_points = n;
  return fit;
}

Chart make_zipf_chart(std::span<const ZipfCurve> curves, const std::string& title) {
  Chart chart;
  chart.title = title;
  chart.x_axis = {.label = "rank", .scale = AxisScale::kLog10};
  chart.y_axis = {.label = "frequency", .scale = AxisScale::kLog10};
  for (const ZipfCurve& curve : curves) {
    check_sorted_counts(curve.sorted_counts, "make_zipf_chart");
    Series series;
    series.name = curve.name;
    const auto& c = curve.sorted_counts;
    for (size_t i = 0; i < c.size(); ++i) {
      const bool starts_run = i == 0 || c[i] != c[i - 1];
      const bool ends_run = i + 1 == c.size() || c[i] != c[i + 1];
      if (!starts_run && !ends_run) continue;
      series.x.push_back(static_cast<double>(i + 1));
      series.y.push_back(static_cast<double>(c[i]));
    }
    chart.series.push_back(std::move(series));
  }
  return chart;
}

void write_zipf_chart(std::span<const ZipfCurve> curves, const std::string& title,
                      const std::filesystem::path& path) {
  write_svg_chart(make_zipf_chart(curves, title), path);
}

}  // namespace recur
