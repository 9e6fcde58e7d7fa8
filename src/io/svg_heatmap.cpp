// SVG heat maps: one <rect> per cell, white (0) to dark blue (1), labels on both axes.
#include "recur/io/svg_heatmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "xml_escape.h"

namespace recur {

namespace {
constexpr double kCell = 36, kLeft = 140, kTop = 60, kBottom = 110;

// White to matplotlib's "Blues" darkest (#08306b), linear in each channel.
std::string cell_color(double v) {
  const double t = std::clamp(v, 0.0, 1.0);
  auto channel = [&](int from, int to) { return static_cast<int>(std::lround(from + (to - from) * t)); };
  return fmt::format("#{:02x}{:02x}{:02x}", channel(255, 8), channel(255, 48), channel(255, 107));
}
}  // namespace

std::string render_svg_heatmap(const Heatmap& m) {
  check(m.values.size() == m.rows.size(),
        fmt::format("heat map: {} rows of values for {} row labels", m.values.size(), m.rows.size()));
  for (size_t r = 0; r < m.values.size(); ++r) {
    check(m.values[r].size() <= m.columns.size(), fmt::format("heat map: row {} has {} values for {} columns",
                                                              r, m.values[r].size(), m.columns.size()));
    for (size_t c = 0; c < m.values[r].size(); ++c)
      check(std::isfinite(m.values[r][c]), fmt::format("heat map: value ({}, {}) is not finite", r, c));
  }
  const double width = kLeft + kCell * static_cast<double>(m.columns.size()) + 40;
  const double height = kTop + kCell * static_cast<double>(m.rows.size()) + kBottom;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" viewBox=\"0 0 {:.0f} "
      "{:.0f}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height, width, height);
  svg += fmt::format("<text x=\"{:.1f}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
                     width / 2, escape_xml(m.title));
  for (size_t r = 0; r < m.values.size(); ++r)
    for (size_t c = 0; c < m.values[r].size(); ++c) {
      const double v = m.values[r][c];
      svg += fmt::format(
          "<rect class=\"cell\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.0f}\" height=\"{:.0f}\" fill=\"{}\" "
          "stroke=\"#ddd\"><title>{:.4f}</title></rect>\n",
          kLeft + kCell * static_cast<double>(c), kTop + kCell * static_cast<double>(r), kCell, kCell,
          cell_color(v), v);
    }
  for (size_t r = 0; r < m.rows.size(); ++r)
    svg += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>\n",
        kLeft - 6, kTop + kCell * (static_cast<double>(r) + 0.5), escape_xml(m.rows[r]));
  const double below = kTop + kCell * static_cast<double>(m.rows.size()) + 8;
  for (size_t c = 0; c < m.columns.size(); ++c) {
    const double x = kLeft + kCell * (static_cast<double>(c) + 0.5);
    svg += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" transform=\"rotate(-60 {:.1f} "
        "{:.1f})\">{}</text>\n",
        x, below, x, below, escape_xml(m.columns[c]));
  }
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                     kLeft + kCell * static_cast<double>(m.columns.size()) / 2, height - 10,
                     escape_xml(m.x_label));
  svg += fmt::format(
      "<text x=\"16\" y=\"{:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {:.1f})\">{}</text>\n",
      kTop + kCell * static_cast<double>(m.rows.size()) / 2,
      kTop + kCell * static_cast<double>(m.rows.size()) / 2, escape_xml(m.y_label));
  svg += "</svg>\n";
  return svg;
}

void write_svg_heatmap(const Heatmap& map, const std::filesystem::path& path) {
  write_file_atomically(path, render_svg_heatmap(map));
}

}  // namespace recur
