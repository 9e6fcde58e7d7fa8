// XML escaping for the SVG writers (svg_plot.cpp, svg_heatmap.cpp).
#pragma once

#include <string>
#include <string_view>

namespace recur {

// Text for XML content and attribute values. Control characters that XML 1.0 forbids become '?'.
inline std::string escape_xml(std::string_view text) {
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

}  // namespace recur
