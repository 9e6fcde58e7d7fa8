// An SVG heat map of a matrix with labelled rows and columns: attention weights of a translation
// (rows = produced tokens, columns = source tokens; d2l 11.4's figure), darker = larger.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace recur {

struct Heatmap {
  std::string title = {};
  std::string x_label = {};                      // under the columns
  std::string y_label = {};                      // beside the rows
  std::vector<std::string> columns = {};         // [C] labels
  std::vector<std::string> rows = {};            // [R] labels
  std::vector<std::vector<double>> values = {};  // [R][<= C] in [0, 1]; a short row leaves cells blank
};

// The SVG document. Throws ValueError when values has a row count other than rows' or a row longer
// than columns, or a value that is not finite. Labels are XML-escaped.
[[nodiscard]] std::string render_svg_heatmap(const Heatmap& map);
// Renders and writes atomically; IoError names the path.
void write_svg_heatmap(const Heatmap& map, const std::filesystem::path& path);

}  // namespace recur
