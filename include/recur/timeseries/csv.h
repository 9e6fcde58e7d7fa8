// A small RFC 4180 CSV reader: comma-separated fields, records ended by CRLF or LF (a lone CR too),
// double-quoted fields that may hold commas, quotes ("" inside quotes) and line breaks, an optional
// UTF-8 byte order mark, and a last record with or without its final line break. The first record
// is the header. Empty lines (no characters at all) are skipped.
//
// Written here rather than taken from Debian: libfccp-dev needs the column count at compile time
// and cannot read line breaks inside quotes, and libcsv-dev (C callbacks, upstream last released
// in 2013) would still need the row/line bookkeeping that our error messages want.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace recur {

struct CsvTable {
  std::string source;                          // the path (or a name) used in error messages
  std::vector<std::string> header;             // [columns]
  std::vector<std::vector<std::string>> rows;  // [rows][columns], header excluded
  std::vector<int64_t> row_lines;              // [rows]: 1-based line where each row starts

  [[nodiscard]] int64_t num_rows() const { return static_cast<int64_t>(rows.size()); }
  [[nodiscard]] int64_t num_columns() const { return static_cast<int64_t>(header.size()); }
};

// Parses CSV text. `source` names it in messages. Throws IoError naming the source and line for an
// empty text (no header), an unterminated quoted field, a character after a closing quote, or a
// record whose field count differs from the header's.
[[nodiscard]] CsvTable parse_csv(std::string_view text, std::string_view source = "<text>");

// Reads and parses a file; an unreadable file, a directory or a device is an IoError naming the path.
[[nodiscard]] CsvTable read_csv(const std::filesystem::path& path);

// The header's names for messages: the first few, quoted, then how many more there are.
[[nodiscard]] std::string list_csv_columns(const CsvTable& table);

// Index of the column called `name` (exact match, else the unique match ignoring case and
// surrounding spaces). Throws ValueError naming the source and listing (the first few) columns when
// absent.
[[nodiscard]] int64_t csv_column_index(const CsvTable& table, std::string_view name);

// The column's cells as finite numbers (surrounding spaces allowed, a leading '+' too). Throws
// ValueError naming the source, the data row, its line, the column and the cell for an empty or
// non-numeric cell, or one that is not finite.
[[nodiscard]] std::vector<double> csv_numeric_column(const CsvTable& table, std::string_view name);

// The column's cells as text.
[[nodiscard]] std::vector<std::string> csv_text_column(const CsvTable& table, std::string_view name);

}  // namespace recur
