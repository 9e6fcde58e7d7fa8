// RFC 4180 CSV parsing as a character-level state machine, and typed column access.
#include "recur/timeseries/csv.h"

#include <fmt/core.h>

#include <cctype>
#include <charconv>
#include <cmath>

#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "recur/core/name_list.h"

namespace recur {

namespace {

// The state machine, one character at a time: a field starts, runs unquoted, or runs quoted until
// a closing quote; a record ends at LF, CRLF or a lone CR outside quotes.
class CsvParser {
 public:
  CsvParser(std::string_view text, std::string_view source) : text_(text) {
    table_.source = std::string(source);
  }

  CsvTable parse() {
    for (size_t i = 0; i < text_.size(); ++i) {
      const char c = text_[i];
      if ((c == '\n' || c == '\r') && state_ != State::quoted) {
        if (c == '\r' && is_followed_by(i, '\n')) ++i;
        end_line();
        continue;
      }
      if (state_ == State::quoted)
        read_quoted(i);
      else if (state_ == State::after_quote)
        read_after_quote(c);
      else
        read_outside_quotes(c);
    }
    if (state_ == State::quoted) {
      throw IoError(fmt::format("{}: line {}: quoted field is not closed before the end of the file",
                                table_.source, quote_line_));
    }
    end_record();  // no final line break
    if (!have_header_)
      throw IoError(fmt::format("{}: the file is empty (expected a header line)", table_.source));
    return std::move(table_);
  }

 private:
  enum class State { field_start, unquoted, quoted, after_quote };

  [[nodiscard]] bool is_followed_by(size_t i, char c) const {
    return i + 1 < text_.size() && text_[i + 1] == c;
  }

  void end_field() {
    fields_.push_back(std::move(field_));
    field_.clear();
    state_ = State::field_start;
  }

  // Appends the finished record when it has any content; an empty line (one empty field and no
  // quotes) is not a record.
  void end_record() {
    end_field();
    if (!record_has_content_) {
      fields_.clear();
      return;
    }
    if (!have_header_) {
      table_.header = std::move(fields_);
      have_header_ = true;
    } else {
      if (static_cast<int64_t>(fields_.size()) != table_.num_columns()) {
        throw IoError(fmt::format("{}: line {}: expected {} fields as in the header, got {}", table_.source,
                                  record_line_, table_.num_columns(), fields_.size()));
      }
      table_.rows.push_back(std::move(fields_));
      table_.row_lines.push_back(record_line_);
    }
    fields_.clear();
    record_has_content_ = false;
  }

  void end_line() {
    end_record();
    ++line_;
    record_line_ = line_;
  }

  // At a field's start a quote opens a quoted field; anywhere else a quote is kept as is (lenient,
  // like Python's csv).
  void read_outside_quotes(char c) {
    record_has_content_ = true;
    if (state_ == State::field_start && c == '"') {
      state_ = State::quoted;
      quote_line_ = line_;
    } else if (c == ',') {
      end_field();
    } else {
      field_ += c;
      state_ = State::unquoted;
    }
  }

  // A doubled quote is one literal quote; a single one closes the field.
  void read_quoted(size_t& i) {
    const char c = text_[i];
    if (c == '"') {
      if (is_followed_by(i, '"')) {
        field_ += '"';
        ++i;
      } else {
        state_ = State::after_quote;
      }
      return;
    }
    if (c == '\n' || (c == '\r' && !is_followed_by(i, '\n'))) ++line_;
    field_ += c;
  }

  void read_after_quote(char c) {
    if (c != ',') {
      throw IoError(
          fmt::format("{}: line {}: unexpected character '{}' after a closing quote (a quote inside a "
                      "quoted field must be doubled: \"\")",
                      table_.source, line_, c));
    }
    end_field();
  }

  std::string_view text_;
  CsvTable table_;
  State state_ = State::field_start;
  std::vector<std::string> fields_;  // finished fields of the current record
  std::string field_;                // the field being read
  bool record_has_content_ = false;  // any character or quote seen in this record
  bool have_header_ = false;
  int64_t line_ = 1;         // current physical line
  int64_t record_line_ = 1;  // line where the current record started
  int64_t quote_line_ = 1;   // line where the open quoted field started
};

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

}  // namespace

CsvTable parse_csv(std::string_view text, std::string_view source) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  return CsvParser(text, source).parse();
}

CsvTable read_csv(const std::filesystem::path& path) {
  return parse_csv(read_file_bounded(path, kMaxTextFileBytes, "a CSV file"), path.string());
}

std::string list_csv_columns(const CsvTable& table) {
  return list_names(table.header.size(), [&](size_t i) { return table.header[i]; });
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
  throw ValueError(fmt::format("{}: no column named '{}'; the columns are {}", table.source, name,
                               list_csv_columns(table)));
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
      throw ValueError(fmt::format("{}: data row {} (line {}), column '{}': value '{}' {}", table.source,
                                   r + 1, table.row_lines[r], column_name, table.rows[r][column], what));
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
