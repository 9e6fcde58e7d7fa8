// RFC 4180 CSV parsing as a character-level state machine, and typed column access.
#include "recur/timeseries/csv.h"

#include <fmt/core.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "recur/core/error.h"

namespace recur {

namespace {

// Appends the finished record when it has any content; an empty line (one empty field and no
// quotes) is not a record.
void finish_record(CsvTable& table, std::vector<std::string>& fields, std::string& field, bool& record_has_content,
                   int64_t record_line, bool& have_header) {
  fields.push_back(std::move(field));
  field.clear();
  if (!record_has_content) {
    fields.clear();
    return;
  }
  if (!have_header) {
    table.header = std::move(fields);
    have_header = true;
  } else {
    if (static_cast<int64_t>(fields.size()) != table.num_columns()) {
      throw IoError(fmt::format("{}: line {}: expected {} fields as in the header, got {}", table.source,
                                record_line, table.num_columns(), fields.size()));
    }
    table.rows.push_back(std::move(fields));
    table.row_lines.push_back(record_line);
  }
  fields.clear();
  record_has_content = false;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string list_columns(const CsvTable& table) {
  std::string names;
  for (const auto& h : table.header) names += (names.empty() ? "'" : ", '") + h + "'";
  return names;
}

}  // namespace

CsvTable parse_csv(std::string_view text, std::string_view source) {
  CsvTable table;
  table.source = std::string(source);
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);

  enum class State { field_start, unquoted, quoted, after_quote };
  State state = State::field_start;
  std::vector<std::string> fields;
  std::string field;
  bool record_has_content = false;  // any character or quote seen in this record
  bool have_header = false;
  int64_t line = 1;         // current physical line
  int64_t record_line = 1;  // line where the current record started
  int64_t quote_line = 1;   // line where the open quoted field started

  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    // A record ends at LF, CRLF or a lone CR outside quotes.
    const bool is_break = c == '\n' || c == '\r';
    if (is_break && state != State::quoted) {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      finish_record(table, fields, field, record_has_content, record_line, have_header);
      state = State::field_start;
      ++line;
      record_line = line;
      continue;
    }
    switch (state) {
      case State::field_start:
        if (c == '"') {
          state = State::quoted;
          quote_line = line;
          record_has_content = true;
          break;
        }
        state = State::unquoted;
        [[fallthrough]];
      case State::unquoted:
        record_has_content = true;
        if (c == ',') {
          fields.push_back(std::move(field));
          field.clear();
          state = State::field_start;
        } else {
          field += c;  // a quote inside an unquoted field is kept as is (lenient, like Python's csv)
        }
        break;
      case State::quoted:
        if (c == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            ++i;
          } else {
            state = State::after_quote;
          }
        } else {
          if (c == '\n' || (c == '\r' && !(i + 1 < text.size() && text[i + 1] == '\n'))) ++line;
          field += c;
        }
        break;
      case State::after_quote:
        if (c == ',') {
          fields.push_back(std::move(field));
          field.clear();
          state = State::field_start;
        } else {
          throw IoError(fmt::format("{}: line {}: unexpected character '{}' after a closing quote (a quote inside a "
                                    "quoted field must be doubled: \"\")",
                                    table.source, line, c));
        }
        break;
    }
  }
  if (state == State::quoted) {
    throw IoError(
        fmt::format("{}: line {}: quoted field is not closed before the end of the file", table.source, quote_line));
  }
  finish_record(table, fields, field, record_has_content, record_line, have_header);  // no final line break
  if (!have_header) throw IoError(fmt::format("{}: the file is empty (expected a header line)", table.source));
  return table;
}

CsvTable read_csv(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: cannot open for reading: {}", path.string(), std::strerror(errno)));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw IoError(fmt::format("{}: read failed", path.string()));
  return parse_csv(buffer.str(), path.string());
}

int64_t csv_column_index(const CsvTable& table, std::string_view name) {
  for (int64_t c = 0; c < table.num_columns(); ++c) {
    if (table.header[static_cast<size_t>(c)] == name) return c;
  }
  const std::string wanted = lower(trim(name));
  int64_t found = -1;
  int matches = 0;
  for (int64_t c = 0; c < table.num_columns(); ++c) {
    if (lower(trim(table.header[static_cast<size_t>(c)])) == wanted) {
      found = c;
      ++matches;
    }
  }
  if (matches == 1) return found;
  throw ValueError(
      fmt::format("{}: no column named '{}'; the columns are {}", table.source, name, list_columns(table)));
}

std::vector<double> csv_numeric_column(const CsvTable& table, std::string_view name) {
  const auto column = static_cast<size_t>(csv_column_index(table, name));
  const std::string& column_name = table.header[column];
  std::vector<double> values;
  values.reserve(table.rows.size());
  for (size_t r = 0; r < table.rows.size(); ++r) {
    std::string cell = trim(table.rows[r][column]);
    std::string_view digits = cell;
    if (digits.starts_with('+')) digits.remove_prefix(1);
    double value = 0.0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    const bool parsed = !digits.empty() && ec == std::errc() && end == digits.data() + digits.size();
    if (!parsed || !std::isfinite(value)) {
      const char* what = cell.empty() ? "is empty" : (parsed ? "is not finite" : "is not a number");
      throw ValueError(fmt::format("{}: data row {} (line {}), column '{}': value '{}' {}", table.source, r + 1,
                                   table.row_lines[r], column_name, table.rows[r][column], what));
    }
    values.push_back(value);
  }
  return values;
}

std::vector<std::string> csv_text_column(const CsvTable& table, std::string_view name) {
  const auto column = static_cast<size_t>(csv_column_index(table, name));
  std::vector<std::string> values;
  values.reserve(table.rows.size());
  for (const auto& row : table.rows) values.push_back(row[column]);
  return values;
}

}  // namespace recur
