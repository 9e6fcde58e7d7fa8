// SVG charts: the file is written atomically and is well-formed XML (checked by a small tag-balance
// parser here), one path per series, escaped text, log axes with decade ticks, and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "recur/core/error.h"
#include "recur/io/svg_plot.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

// Checks what an XML parser would: one root element, tags balanced and nested, attribute values quoted,
// '<' never in text, and '&' only starting one of the five predefined entities. Returns "" or a problem.
std::string xml_problem(const std::string& doc) {
  std::vector<std::string> open;
  int roots = 0;
  size_t i = 0;
  if (doc.rfind("<?xml", 0) == 0) i = doc.find("?>") + 2;
  while (i < doc.size()) {
    if (doc[i] == '&') {
      static const char* kEntities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
      if (std::none_of(std::begin(kEntities), std::end(kEntities),
                       [&](const char* e) { return doc.compare(i, std::strlen(e), e) == 0; }))
        return "bare '&' at offset " + std::to_string(i);
      ++i;
      continue;
    }
    if (doc[i] != '<') {
      if (doc[i] == '>') return "bare '>' at offset " + std::to_string(i);
      if (open.empty() && !std::isspace(static_cast<unsigned char>(doc[i])))
        return "text outside the root at offset " + std::to_string(i);
      ++i;
      continue;
    }
    // A tag: scan to its '>' honouring quoted attribute values.
    size_t j = i + 1;
    char quote = 0;
    for (; j < doc.size(); ++j) {
      if (quote) {
        if (doc[j] == quote)
          quote = 0;
        else if (doc[j] == '<')
          return "'<' inside an attribute value at offset " + std::to_string(j);
      } else if (doc[j] == '"' || doc[j] == '\'') {
        quote = doc[j];
      } else if (doc[j] == '>') {
        break;
      } else if (doc[j] == '<') {
        return "'<' inside a tag at offset " + std::to_string(j);
      }
    }
    if (j >= doc.size()) return "unterminated tag at offset " + std::to_string(i);
    std::string tag = doc.substr(i + 1, j - i - 1);
    i = j + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) return "closing </" + name + "> does not match";
      open.pop_back();
      continue;
    }
    const bool is_self_closing = tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (open.empty() && ++roots > 1) return "a second root element <" + name + ">";
    if (!is_self_closing) open.push_back(name);
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  return roots == 1 ? "" : "no root element";
}

Chart perplexity_chart() {
  Chart chart{.title = "Perplexity", .x_axis = {.label = "epoch"}, .y_axis = {.label = "perplexity"}};
  chart.series.push_back({.name = "train", .x = {1, 2, 3, 4}, .y = {20.5, 12.1, 9.3, 8.0}});
  chart.series.push_back(
      {.name = "valid", .x = {1, 2, 3, 4}, .y = {21.0, 13.4, 11.2, 10.9}, .style = LineStyle::kDashed});
  return chart;
}

// The value of attribute `name` in the first element that starts with `element_prefix`.
std::string attribute(const std::string& svg, const std::string& element_prefix, const std::string& name) {
  const size_t at = svg.find(element_prefix);
  if (at == std::string::npos) return "";
  const size_t end = svg.find('>', at);
  const size_t key = svg.find(" " + name + "=\"", at);
  if (key == std::string::npos || key > end) return "";
  const size_t start = key + name.size() + 3;
  return svg.substr(start, svg.find('"', start) - start);
}

}  // namespace

TEST(SvgPlot, WritesAWellFormedFileWithOnePathPerSeries) {
  const auto dir = test::make_temp_dir("svg");
  const auto path = dir / "ppl.svg";
  write_svg_chart(perplexity_chart(), path);
  const std::string svg = read_all(path);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(count_of(svg, "<path class=\"series\""), 2u);
  EXPECT_EQ(count_of(svg, "<path"), 2u);
  // Series in order, the second dashed, distinct default colors, both in the legend.
  const std::string train_color = attribute(svg, "<path class=\"series\" data-name=\"train\"", "stroke");
  const std::string valid_color = attribute(svg, "<path class=\"series\" data-name=\"valid\"", "stroke");
  EXPECT_FALSE(train_color.empty());
  EXPECT_NE(train_color, valid_color);
  EXPECT_EQ(attribute(svg, "<path class=\"series\" data-name=\"train\"", "stroke-dasharray"), "");
  EXPECT_NE(attribute(svg, "<path class=\"series\" data-name=\"valid\"", "stroke-dasharray"), "");
  EXPECT_NE(svg.find(">train</text>"), std::string::npos);
  EXPECT_NE(svg.find(">valid</text>"), std::string::npos);
  EXPECT_NE(svg.find(">epoch</text>"), std::string::npos);
  // Four points: one move then three lines.
  const std::string d = attribute(svg, "<path class=\"series\" data-name=\"train\"", "d");
  EXPECT_EQ(count_of(d, "M"), 1u);
  EXPECT_EQ(count_of(d, "L"), 3u);
  // No temporary file is left beside it.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(SvgPlot, LegendGoesToTheCornerWithoutData) {
  // Where the legend box starts, as (x, y) relative to the chart's middle: -1 left/top, +1 right/bottom.
  auto legend_corner = [](const Chart& chart) {
    const std::string svg = render_svg_chart(chart);
    const std::string legend = svg.substr(svg.find("<g class=\"legend\">"));
    const double x = std::stod(attribute(legend, "<rect", "x")),
                 y = std::stod(attribute(legend, "<rect", "y"));
    return std::pair<int, int>{x < chart.width / 2.0 ? -1 : 1, y < chart.height / 2.0 ? -1 : 1};
  };
  auto line = [](double y_start, double y_end) {
    Series s{.name = "series"};
    for (int i = 0; i <= 100; ++i) {
      s.x.push_back(i);
      s.y.push_back(y_start + (y_end - y_start) * i / 100.0);
    }
    return s;
  };
  Chart falling{.title = "falling"};  // a perplexity curve: top right is empty
  falling.series.push_back(line(10, 0));
  EXPECT_EQ(legend_corner(falling), (std::pair<int, int>{1, -1}));
  Chart rising{.title = "rising"};  // growth (the airline series): top left is empty
  rising.series.push_back(line(0, 10));
  EXPECT_EQ(legend_corner(rising), (std::pair<int, int>{-1, -1}));
  Chart valley{.title = "valley"};  // high at both ends, low in the middle: bottom right is first free
  Series v{.name = "valley"};
  for (int i = 0; i <= 100; ++i) {
    v.x.push_back(i);
    v.y.push_back(std::abs(i - 50));
  }
  valley.series.push_back(v);
  EXPECT_EQ(legend_corner(valley), (std::pair<int, int>{1, 1}));
}

TEST(SvgPlot, LinearAxesGetNiceTicks) {
  Chart chart{.title = "t"};
  chart.series.push_back({.name = "", .x = {0, 10}, .y = {0.13, 0.87}});
  const std::string svg = render_svg_chart(chart);
  // y spans 0.74: step 0.2 from 0 to 1; x spans 10: step 2.
  for (const char* label :
       {">0</text>", ">0.2</text>", ">0.4</text>", ">1.0</text>", ">2</text>", ">10</text>"})
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  EXPECT_EQ(svg.find(">1.2</text>"), std::string::npos);
  EXPECT_EQ(svg.find("class=\"legend\""), std::string::npos);  // no names, no legend
  EXPECT_EQ(xml_problem(svg), "");
}

TEST(SvgPlot, LogAxesHaveDecadeTicks) {
  Chart chart{.title = "Zipf",
              .x_axis = {.label = "rank", .scale = AxisScale::kLog10},
              .y_axis = {.label = "frequency", .scale = AxisScale::kLog10}};
  Series zipf{.name = "unigrams"};
  for (int r = 1; r <= 500; ++r) {
    zipf.x.push_back(r);
    zipf.y.push_back(30000.0 / r);
  }
  chart.series.push_back(zipf);
  const std::string svg = render_svg_chart(chart);
  // x: 1..500 -> decades 1, 10, 100, 1000; y: 60..30000 -> 10 .. 100000 (superscript form past 10^4).
  for (const char* label : {">1</text>", ">10</text>", ">100</text>", ">1000</text>", ">10000</text>",
                            "10<tspan dy=\"-6\" font-size=\"9\">5</tspan></text>"})
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  EXPECT_EQ(xml_problem(svg), "");
}

TEST(SvgPlot, LogAxisRejectsNonPositiveValues) {
  Chart chart{.x_axis = {.label = "rank", .scale = AxisScale::kLog10}};
  chart.series.push_back({.name = "counts", .x = {1, 0, 3}, .y = {5, 4, 3}});
  try {
    (void)render_svg_chart(chart);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'counts'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("x[1] = 0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("log"), std::string::npos) << msg;
  }
  Chart negative{.y_axis = {.scale = AxisScale::kLog10}};
  negative.series.push_back({.name = "s", .x = {1}, .y = {-2}});
  EXPECT_THROW((void)render_svg_chart(negative), ValueError);
}

TEST(SvgPlot, EscapesXmlSpecialCharacters) {
  Chart chart{
      .title = "Loss <train> & \"valid\" 'ppl'", .x_axis = {.label = "a<b"}, .y_axis = {.label = "x&y"}};
  chart.series.push_back({.name = "R&D <1>", .x = {1, 2}, .y = {1, 2}, .color = "\"red"});
  chart.series.push_back({.name = "ctl\x01", .x = {1, 2}, .y = {2, 1}});
  const std::string svg = render_svg_chart(chart);
  EXPECT_NE(svg.find("Loss &lt;train&gt; &amp; &quot;valid&quot; &apos;ppl&apos;"), std::string::npos);
  EXPECT_EQ(svg.find("<train>"), std::string::npos);
  EXPECT_NE(svg.find(">a&lt;b</text>"), std::string::npos);
  EXPECT_NE(svg.find(">x&amp;y</text>"), std::string::npos);
  EXPECT_NE(svg.find(">R&amp;D &lt;1&gt;</text>"), std::string::npos);
  EXPECT_NE(svg.find(">ctl?</text>"), std::string::npos);  // control characters are not allowed in XML 1.0
  EXPECT_EQ(xml_problem(svg), "");
}

TEST(SvgPlot, NonFinitePointsBreakTheLine) {
  Chart chart;
  chart.series.push_back({.name = "forecast", .x = {0, 1, 2, 3, 4}, .y = {1, 2, NAN, 4, 5}});
  const std::string svg = render_svg_chart(chart);
  const std::string d = attribute(svg, "<path class=\"series\"", "d");
  EXPECT_EQ(count_of(d, "M"), 2u) << d;
  EXPECT_EQ(count_of(d, "L"), 2u) << d;
}

TEST(SvgPlot, EdgeCasesStillRender) {
  Chart empty{.title = "nothing yet"};
  EXPECT_EQ(xml_problem(render_svg_chart(empty)), "");
  Chart one;
  one.series.push_back({.name = "only", .x = {3}, .y = {3}});  // one point: drawn as a marker
  const std::string svg = render_svg_chart(one);
  EXPECT_EQ(count_of(svg, "<circle"), 1u);
  EXPECT_EQ(xml_problem(svg), "");
  Chart many;
  for (int k = 0; k < 12; ++k) {
    std::string name =
        "series ";  // appended, not "s" + to_string(k): GCC 12 -O3 warns falsely there (-Wrestrict)
    name += std::to_string(k);
    many.series.push_back({.name = name, .x = {0, 1}, .y = {0, 1.0 * k}});
  }
  const std::string lots = render_svg_chart(many);
  EXPECT_EQ(count_of(lots, "<path class=\"series\""), 12u);
  EXPECT_EQ(xml_problem(lots), "");
}

TEST(SvgPlot, RejectsMismatchedSeriesAndTinySizes) {
  Chart chart;
  chart.series.push_back({.name = "bad", .x = {1, 2, 3}, .y = {1, 2}});
  try {
    (void)render_svg_chart(chart);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'bad'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 x values but 2 y values"), std::string::npos) << msg;
  }
  Chart tiny{.width = 10};
  EXPECT_THROW((void)render_svg_chart(tiny), ValueError);
}

TEST(SvgPlot, WriteFailureNamesThePathAndReplacesAtomically) {
  const auto dir = test::make_temp_dir("svg");
  const auto missing = dir / "no-such-dir" / "chart.svg";
  try {
    write_svg_chart(perplexity_chart(), missing);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
  // Overwriting an existing file replaces it whole.
  const auto path = dir / "chart.svg";
  std::ofstream(path) << "old content that is longer than nothing";
  write_svg_chart(perplexity_chart(), path);
  EXPECT_EQ(read_all(path), render_svg_chart(perplexity_chart()));
}
