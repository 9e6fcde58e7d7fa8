// SVG line charts: axis ranges and ticks (linear "nice" numbers after Heckbert, Graphics Gems 1990;
// log10 decades), one <path> per series, a legend, and an atomic file write.
#include "recur/io/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <system_error>

#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "xml_escape.h"

namespace recur {

namespace {

// Tableau 10, the matplotlib default cycle: distinct for up to ten series.
constexpr std::array<std::string_view, 10> kPalette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                       "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr double kMarginLeft = 72, kMarginRight = 24, kMarginTop = 44, kMarginBottom = 56;
constexpr int kMinWidth = 240, kMinHeight = 180;

struct Tick {
  double value;       // in data units
  std::string label;  // empty for a minor tick; may hold SVG markup (escaped already)
  bool is_major;
};

// Where one axis maps data to pixels: [lo, hi] in data units, transformed by log10 on a log axis.
struct AxisLayout {
  AxisScale scale = AxisScale::kLinear;
  double lo = 0, hi = 1;  // data range shown (both > 0 on a log axis)
  std::vector<Tick> ticks;

  [[nodiscard]] double transform(double v) const { return scale == AxisScale::kLog10 ? std::log10(v) : v; }
  // Fraction of the axis length, 0 at lo and 1 at hi.
  [[nodiscard]] double fraction(double v) const {
    return (transform(v) - transform(lo)) / (transform(hi) - transform(lo));
  }
};

// 1, 2 or 5 times a power of ten, at least `raw`.
double nice_step(double raw) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  const double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nice * magnitude;
}

std::string format_linear_label(double v, double step) {
  if (v == 0) return "0";
  const double magnitude = std::max(std::abs(v), step);
  if (magnitude >= 1e6 || step < 1e-5) return fmt::format("{:g}", v);
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  return fmt::format("{:.{}f}", v, decimals);
}

AxisLayout layout_linear(double lo, double hi) {
  AxisLayout axis;
  if (!(lo <= hi)) lo = 0, hi = 1;  // no finite data
  if (lo == hi) {
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step((hi - lo) / 6.0);  // about six intervals
  const auto first = static_cast<int64_t>(std::floor(lo / step + 1e-9));
  const auto last = static_cast<int64_t>(std::ceil(hi / step - 1e-9));
  axis.lo = static_cast<double>(first) * step;
  axis.hi = static_cast<double>(last) * step;
  for (int64_t k = first; k <= last; ++k) {
    const double v = static_cast<double>(k) * step;  // from k, not accumulated, so 0 is exactly 0
    axis.ticks.push_back({v, format_linear_label(v, step), true});
  }
  return axis;
}

std::string format_decade_label(int exponent) {
  if (exponent >= -3 && exponent <= 4) return fmt::format("{:g}", std::pow(10.0, exponent));
  return fmt::format("10<tspan dy=\"-6\" font-size=\"9\">{}</tspan>", exponent);
}

AxisLayout layout_log(double lo, double hi) {
  AxisLayout axis;
  axis.scale = AxisScale::kLog10;
  if (!(lo <= hi)) lo = 1, hi = 10;  // no finite data
  auto first = static_cast<int>(std::floor(std::log10(lo) + 1e-12));
  auto last = static_cast<int>(std::ceil(std::log10(hi) - 1e-12));
  if (last <= first) last = first + 1;
  axis.lo = std::pow(10.0, first);
  axis.hi = std::pow(10.0, last);
  const int decades = last - first;
  const int label_every = (decades + 9) / 10;  // at most about ten labels
  for (int e = first; e <= last; ++e) {
    const bool is_labeled = (e - first) % label_every == 0;
    axis.ticks.push_back({std::pow(10.0, e), is_labeled ? format_decade_label(e) : std::string(), true});
    if (decades <= 6 && e < last)
      for (int m = 2; m <= 9; ++m) axis.ticks.push_back({m * std::pow(10.0, e), std::string(), false});
  }
  return axis;
}

// A point with a non-finite coordinate is not drawn.
bool is_finite_point(const Series& s, size_t i) { return std::isfinite(s.x[i]) && std::isfinite(s.y[i]); }

// Range of the finite coordinates of one axis over all series; rejects non-positive values on a log axis.
AxisLayout layout_axis(const Chart& chart, const Axis& axis, bool is_x) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (const Series& s : chart.series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!is_finite_point(s, i)) continue;
      const double v = is_x ? s.x[i] : s.y[i];
      if (axis.scale == AxisScale::kLog10 && v <= 0)
        throw ValueError(
            fmt::format("render_svg_chart: series '{}' has {}[{}] = {}, but the {} axis is log-scaled "
                        "and needs values > 0",
                        s.name, is_x ? "x" : "y", i, v, is_x ? "x" : "y"));
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  return axis.scale == AxisScale::kLog10 ? layout_log(lo, hi) : layout_linear(lo, hi);
}

std::string dash_array(LineStyle style) {
  return style == LineStyle::kDashed ? " stroke-dasharray=\"7 4\"" : "";
}

void check_chart(const Chart& chart) {
  if (chart.width < kMinWidth || chart.height < kMinHeight)
    throw ValueError(fmt::format("render_svg_chart: size must be at least {}x{} pixels, got {}x{}", kMinWidth,
                                 kMinHeight, chart.width, chart.height));
  for (const Series& s : chart.series)
    if (s.x.size() != s.y.size())
      throw ValueError(fmt::format("render_svg_chart: series '{}' has {} x values but {} y values", s.name,
                                   s.x.size(), s.y.size()));
}

// The plot rectangle in pixels and the two axes that map data into it.
struct PlotFrame {
  AxisLayout x_axis, y_axis;
  double left = kMarginLeft, top = kMarginTop;
  double width = 0, height = 0;  // of the plot rectangle
  double right = 0, bottom = 0;

  [[nodiscard]] double px(double x) const { return left + x_axis.fraction(x) * width; }
  [[nodiscard]] double py(double y) const { return bottom - y_axis.fraction(y) * height; }
};

PlotFrame layout_frame(const Chart& chart) {
  PlotFrame f{.x_axis = layout_axis(chart, chart.x_axis, true),
              .y_axis = layout_axis(chart, chart.y_axis, false)};
  f.width = chart.width - kMarginLeft - kMarginRight;
  f.height = chart.height - kMarginTop - kMarginBottom;
  f.right = f.left + f.width;
  f.bottom = f.top + f.height;
  return f;
}

void append_document_start(std::string& svg, const Chart& chart) {
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n",
      chart.width, chart.height);
  svg += fmt::format("<title>{}</title>\n", escape_xml(chart.title));
  svg += fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"white\"/>\n", chart.width, chart.height);
}

// Grid lines at the major ticks, the plot border with tick marks, and the tick labels.
void append_axes(std::string& svg, const PlotFrame& f) {
  svg += "<g class=\"grid\" stroke=\"#e5e5e5\" stroke-width=\"1\">\n";
  for (const Tick& t : f.x_axis.ticks)
    if (t.is_major)
      svg += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\"/>\n",
                         f.px(t.value), f.top, f.bottom);
  for (const Tick& t : f.y_axis.ticks)
    if (t.is_major)
      svg += fmt::format("<line x1=\"{1:.2f}\" y1=\"{0:.2f}\" x2=\"{2:.2f}\" y2=\"{0:.2f}\"/>\n",
                         f.py(t.value), f.left, f.right);
  svg += "</g>\n";
  svg += "<g class=\"axes\" stroke=\"#333\" stroke-width=\"1\">\n";
  svg += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"none\"/>\n",
                     f.left, f.top, f.width, f.height);
  for (const Tick& t : f.x_axis.ticks)
    svg += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\"/>\n", f.px(t.value),
                       f.bottom, f.bottom + (t.is_major ? 5 : 3));
  for (const Tick& t : f.y_axis.ticks)
    svg += fmt::format("<line x1=\"{1:.2f}\" y1=\"{0:.2f}\" x2=\"{2:.2f}\" y2=\"{0:.2f}\"/>\n", f.py(t.value),
                       f.left - (t.is_major ? 5 : 3), f.left);
  svg += "</g>\n";
  svg += "<g class=\"tick-labels\" fill=\"#333\">\n";
  for (const Tick& t : f.x_axis.ticks)
    if (!t.label.empty())
      svg += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\">{}</text>\n", f.px(t.value),
                         f.bottom + 18, t.label);
  for (const Tick& t : f.y_axis.ticks)
    if (!t.label.empty())
      svg += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"end\">{}</text>\n", f.left - 8,
                         f.py(t.value) + 4, t.label);
  svg += "</g>\n";
}

void append_titles(std::string& svg, const Chart& chart, const PlotFrame& f) {
  svg += fmt::format(
      "<text class=\"title\" x=\"{:.2f}\" y=\"26\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
      f.left + f.width / 2, escape_xml(chart.title));
  svg += fmt::format(
      "<text class=\"x-label\" x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\" font-size=\"12\">{}</text>\n",
      f.left + f.width / 2, static_cast<double>(chart.height) - 12, escape_xml(chart.x_axis.label));
  svg += fmt::format(
      "<text class=\"y-label\" x=\"0\" y=\"0\" transform=\"translate(16 {:.2f}) rotate(-90)\" "
      "text-anchor=\"middle\" "
      "font-size=\"12\">{}</text>\n",
      f.top + f.height / 2, escape_xml(chart.y_axis.label));
}

// One path; a non-finite point ends a run of segments and the next finite one starts anew. Dots
// follow when asked for, or when a single point would draw no line.
void append_series(std::string& svg, const Series& s, const std::string& color, const PlotFrame& f) {
  std::string d;
  bool is_pen_down = false;
  size_t num_points = 0;
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (!is_finite_point(s, i)) {
      is_pen_down = false;
      continue;
    }
    d += fmt::format("{}{}{:.2f} {:.2f}", d.empty() ? "" : " ", is_pen_down ? 'L' : 'M', f.px(s.x[i]),
                     f.py(s.y[i]));
    is_pen_down = true;
    ++num_points;
  }
  svg += fmt::format(
      "<path class=\"series\" data-name=\"{}\" d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" "
      "stroke-linejoin=\"round\"{}/>\n",
      escape_xml(s.name), d, color, dash_array(s.style));
  if (s.has_markers || num_points == 1) {
    svg += fmt::format("<g class=\"markers\" fill=\"{}\">\n", color);
    for (size_t i = 0; i < s.x.size(); ++i)
      if (is_finite_point(s, i))
        svg += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"2.6\"/>\n", f.px(s.x[i]), f.py(s.y[i]));
    svg += "</g>\n";
  }
}

// Where the legend box goes and how big it is, in pixels.
struct LegendBox {
  double x = 0, y = 0, width = 0, height = 0;
};

constexpr double kLegendRow = 16;  // pixels per legend entry

// Number of finite data points that fall under `box` (with a 4-pixel margin).
size_t count_hidden_points(const Chart& chart, const PlotFrame& f, const LegendBox& box) {
  size_t n = 0;
  for (const Series& s : chart.series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!is_finite_point(s, i)) continue;
      const double x = f.px(s.x[i]), y = f.py(s.y[i]);
      n += x >= box.x - 4 && x <= box.x + box.width + 4 && y >= box.y - 4 && y <= box.y + box.height + 4 ? 1
                                                                                                         : 0;
    }
  return n;
}

// The corner inside the plot that hides the fewest data points (top right on a tie, then top left,
// bottom right, bottom left); the width is estimated from the longest name.
LegendBox place_legend(const Chart& chart, const PlotFrame& f) {
  size_t longest = 0;
  for (const Series& s : chart.series) longest = std::max(longest, s.name.size());
  const double width = 36 + 6.5 * static_cast<double>(std::min<size_t>(longest, 40));
  const double height = 8 + kLegendRow * static_cast<double>(chart.series.size());
  const LegendBox corners[4] = {{f.right - width - 8, f.top + 8, width, height},
                                {f.left + 8, f.top + 8, width, height},
                                {f.right - width - 8, f.bottom - height - 8, width, height},
                                {f.left + 8, f.bottom - height - 8, width, height}};
  size_t best_corner = 0, fewest = count_hidden_points(chart, f, corners[0]);
  for (size_t c = 1; c < 4 && fewest > 0; ++c) {
    const size_t n = count_hidden_points(chart, f, corners[c]);
    if (n < fewest) {
      fewest = n;
      best_corner = c;
    }
  }
  return corners[best_corner];
}

void append_legend(std::string& svg, const Chart& chart, const std::vector<std::string>& colors,
                   const LegendBox& box) {
  svg += "<g class=\"legend\">\n";
  svg += fmt::format(
      "<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"white\" "
      "fill-opacity=\"0.85\" "
      "stroke=\"#ccc\"/>\n",
      box.x, box.y, box.width, box.height);
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const double y = box.y + 4 + kLegendRow * (static_cast<double>(k) + 0.5);
    svg += fmt::format(
        "<line x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" stroke=\"{}\" "
        "stroke-width=\"2\"{}/>\n",
        box.x + 6, y, box.x + 28, y, colors[k], dash_array(chart.series[k].style));
    svg += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\">{}</text>\n", box.x + 32, y + 4,
                       escape_xml(chart.series[k].name));
  }
  svg += "</g>\n";
}

}  // namespace

std::string render_svg_chart(const Chart& chart) {
  check_chart(chart);
  const PlotFrame frame = layout_frame(chart);
  std::string svg;
  append_document_start(svg, chart);
  append_axes(svg, frame);
  append_titles(svg, chart, frame);
  std::vector<std::string> colors;  // [series]
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const Series& s = chart.series[k];
    colors.push_back(s.color.empty() ? std::string(kPalette[k % kPalette.size()]) : escape_xml(s.color));
    append_series(svg, s, colors.back(), frame);
  }
  const bool has_legend =
      std::any_of(chart.series.begin(), chart.series.end(), [](const Series& s) { return !s.name.empty(); });
  if (has_legend) append_legend(svg, chart, colors, place_legend(chart, frame));
  svg += "</svg>\n";
  return svg;
}

void write_svg_chart(const Chart& chart, const std::filesystem::path& path) {
  write_file_atomically(path, render_svg_chart(chart));  // IoError names the path
}

}  // namespace recur
