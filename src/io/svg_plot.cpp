// SVG line charts: axis ranges and ticks (linear "nice" numbers after Heckbert, Graphics Gems 1990;
// log10 decades), one <path> per series, a legend, and an atomic file write.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <system_error>

#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/io/svg_plot.h"

namespace recur {

namespace {

// Tableau 10, the matplotlib default cycle: distinct for up to ten series.
constexpr std::array<std::string_view, 10> kPalette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                       "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr double kMarginLeft = 72, kMarginRight = 24, kMarginTop = 44, kMarginBottom = 56;
constexpr int kMinWidth = 240, kMinHeight = 180;

// Text for XML content and attribute values. Control characters that XML 1.0 forbids become '?'.
std::string escape_xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
          out += '?';
        else
          out += c;
    }
  }
  return out;
}

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

// Range of the finite coordinates of one axis over all series; rejects non-positive values on a log axis.
AxisLayout layout_axis(const Chart& chart, const Axis& axis, bool is_x) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (const Series& s : chart.series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
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

}  // namespace

std::string render_svg_chart(const Chart& chart) {
  if (chart.width < kMinWidth || chart.height < kMinHeight)
    throw ValueError(fmt::format("render_svg_chart: size must be at least {}x{} pixels, got {}x{}", kMinWidth,
                                 kMinHeight, chart.width, chart.height));
  for (const Series& s : chart.series)
    if (s.x.size() != s.y.size())
      throw ValueError(fmt::format("render_svg_chart: series '{}' has {} x values but {} y values", s.name,
                                   s.x.size(), s.y.size()));
  const AxisLayout x_axis = layout_axis(chart, chart.x_axis, true);
  const AxisLayout y_axis = layout_axis(chart, chart.y_axis, false);

  const double left = kMarginLeft, top = kMarginTop;
  const double plot_width = chart.width - kMarginLeft - kMarginRight;
  const double plot_height = chart.height - kMarginTop - kMarginBottom;
  const double right = left + plot_width, bottom = top + plot_height;
  auto px = [&](double x) { return left + x_axis.fraction(x) * plot_width; };
  auto py = [&](double y) { return bottom - y_axis.fraction(y) * plot_height; };

  std::string svg;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n",
      chart.width, chart.height);
  svg += fmt::format("<title>{}</title>\n", escape_xml(chart.title));
  svg += fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"white\"/>\n", chart.width, chart.height);

  // Grid and ticks.
  svg += "<g class=\"grid\" stroke=\"#e5e5e5\" stroke-width=\"1\">\n";
  for (const Tick& t : x_axis.ticks)
    if (t.is_major)
      svg += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\"/>\n", px(t.value),
                         top, bottom);
  for (const Tick& t : y_axis.ticks)
    if (t.is_major)
      svg += fmt::format("<line x1=\"{1:.2f}\" y1=\"{0:.2f}\" x2=\"{2:.2f}\" y2=\"{0:.2f}\"/>\n", py(t.value),
                         left, right);
  svg += "</g>\n";
  svg += "<g class=\"axes\" stroke=\"#333\" stroke-width=\"1\">\n";
  svg += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"none\"/>\n",
                     left, top, plot_width, plot_height);
  for (const Tick& t : x_axis.ticks)
    svg += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\"/>\n", px(t.value),
                       bottom, bottom + (t.is_major ? 5 : 3));
  for (const Tick& t : y_axis.ticks)
    svg += fmt::format("<line x1=\"{1:.2f}\" y1=\"{0:.2f}\" x2=\"{2:.2f}\" y2=\"{0:.2f}\"/>\n", py(t.value),
                       left - (t.is_major ? 5 : 3), left);
  svg += "</g>\n";
  svg += "<g class=\"tick-labels\" fill=\"#333\">\n";
  for (const Tick& t : x_axis.ticks)
    if (!t.label.empty())
      svg += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\">{}</text>\n", px(t.value),
                         bottom + 18, t.label);
  for (const Tick& t : y_axis.ticks)
    if (!t.label.empty())
      svg += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"end\">{}</text>\n", left - 8,
                         py(t.value) + 4, t.label);
  svg += "</g>\n";

  // Title and axis labels.
  svg += fmt::format(
      "<text class=\"title\" x=\"{:.2f}\" y=\"26\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
      left + plot_width / 2, escape_xml(chart.title));
  svg += fmt::format(
      "<text class=\"x-label\" x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\" font-size=\"12\">{}</text>\n",
      left + plot_width / 2, static_cast<double>(chart.height) - 12, escape_xml(chart.x_axis.label));
  svg += fmt::format(
      "<text class=\"y-label\" x=\"0\" y=\"0\" transform=\"translate(16 {:.2f}) rotate(-90)\" "
      "text-anchor=\"middle\" "
      "font-size=\"12\">{}</text>\n",
      top + plot_height / 2, escape_xml(chart.y_axis.label));

  // Series: one path each; a non-finite point ends a run of segments and the next finite one starts anew.
  std::vector<std::string> colors;
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const Series& s = chart.series[k];
    const std::string color =
        s.color.empty() ? std::string(kPalette[k % kPalette.size()]) : escape_xml(s.color);
    colors.push_back(color);
    std::string d;
    bool is_pen_down = false;
    size_t num_points = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        is_pen_down = false;
        continue;
      }
      d += fmt::format("{}{}{:.2f} {:.2f}", d.empty() ? "" : " ", is_pen_down ? 'L' : 'M', px(s.x[i]),
                       py(s.y[i]));
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
        if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
          svg += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"2.6\"/>\n", px(s.x[i]), py(s.y[i]));
      svg += "</g>\n";
    }
  }

  // Legend inside the plot, in the corner that hides the fewest data points (top right on a tie,
  // then top left, bottom right, bottom left); the width is estimated from the longest name.
  const bool has_legend =
      std::any_of(chart.series.begin(), chart.series.end(), [](const Series& s) { return !s.name.empty(); });
  if (has_legend) {
    size_t longest = 0;
    for (const Series& s : chart.series) longest = std::max(longest, s.name.size());
    const double row = 16;
    const double box_width = 36 + 6.5 * static_cast<double>(std::min<size_t>(longest, 40));
    const double box_height = 8 + row * static_cast<double>(chart.series.size());
    const double corners[4][2] = {{right - box_width - 8, top + 8},
                                  {left + 8, top + 8},
                                  {right - box_width - 8, bottom - box_height - 8},
                                  {left + 8, bottom - box_height - 8}};
    auto hidden_points = [&](double bx, double by) {
      size_t n = 0;
      for (const Series& s : chart.series)
        for (size_t i = 0; i < s.x.size(); ++i) {
          if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
          const double x = px(s.x[i]), y = py(s.y[i]);
          n += x >= bx - 4 && x <= bx + box_width + 4 && y >= by - 4 && y <= by + box_height + 4 ? 1 : 0;
        }
      return n;
    };
    size_t best_corner = 0, fewest = hidden_points(corners[0][0], corners[0][1]);
    for (size_t c = 1; c < 4 && fewest > 0; ++c) {
      const size_t n = hidden_points(corners[c][0], corners[c][1]);
      if (n < fewest) {
        fewest = n;
        best_corner = c;
      }
    }
    const double x0 = corners[best_corner][0], y0 = corners[best_corner][1];
    svg += "<g class=\"legend\">\n";
    svg += fmt::format(
        "<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"white\" "
        "fill-opacity=\"0.85\" "
        "stroke=\"#ccc\"/>\n",
        x0, y0, box_width, box_height);
    for (size_t k = 0; k < chart.series.size(); ++k) {
      const double y = y0 + 4 + row * (static_cast<double>(k) + 0.5);
      svg += fmt::format(
          "<line x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" stroke=\"{}\" "
          "stroke-width=\"2\"{}/>\n",
          x0 + 6, y, x0 + 28, y, colors[k], dash_array(chart.series[k].style));
      svg += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\">{}</text>\n", x0 + 32, y + 4,
                         escape_xml(chart.series[k].name));
    }
    svg += "</g>\n";
  }
  svg += "</svg>\n";
  return svg;
}

void write_svg_chart(const Chart& chart, const std::filesystem::path& path) {
  write_file_atomically(path, render_svg_chart(chart));  // IoError names the path
}

}  // namespace recur
