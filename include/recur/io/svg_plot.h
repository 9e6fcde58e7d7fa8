// A small, dependency-free SVG line-chart writer for the commands' figures: Zipf plots (log-log),
// perplexity curves (train vs valid by epoch), time-series forecasts.
//
//   Chart chart{.title = "Zipf's law", .x_axis = {.label = "rank", .scale = AxisScale::kLog10},
//               .y_axis = {.label = "frequency", .scale = AxisScale::kLog10}};
//   chart.series.push_back({.name = "unigram", .x = ranks, .y = counts});
//   write_svg_chart(chart, "zipf.svg");
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace recur {

enum class AxisScale { kLinear, kLog10 };
enum class LineStyle { kSolid, kDashed };

struct Axis {
  std::string label = {};
  // kLinear: "nice" ticks (1, 2 or 5 times a power of ten). kLog10: a tick per decade (minor ticks at
  // 2..9 when few decades show); every finite value on the axis must then be > 0.
  AxisScale scale = AxisScale::kLinear;
};

struct Series {
  std::string name = {};       // legend text; the legend is drawn when any series has a name
  std::vector<double> x = {};  // [n]
  std::vector<double> y = {};  // [n]; a point with a non-finite coordinate is skipped and breaks the line
  LineStyle style = LineStyle::kSolid;
  std::string color = {};    // any SVG color, e.g. "#1f77b4"; empty = the next color of a 10-color palette
  bool has_markers = false;  // a dot at every point (always for a series of one point)
};

struct Chart {
  std::string title = {};
  Axis x_axis = {};
  Axis y_axis = {};
  std::vector<Series> series = {};  // each becomes one <path class="series">, in this order
  int width = 720;                  // pixels, >= 240
  int height = 450;                 // pixels, >= 180
};

// The SVG document. Throws ValueError for x/y of different lengths, a non-positive value on a log
// axis (naming the series, index and value), or a size below the minimum. Text is XML-escaped.
[[nodiscard]] std::string render_svg_chart(const Chart& chart);

// Renders and writes atomically (a temporary file beside `path`, then rename), so readers never see a
// half-written file. Throws IoError naming the path when it cannot be written.
void write_svg_chart(const Chart& chart, const std::filesystem::path& path);

}  // namespace recur
