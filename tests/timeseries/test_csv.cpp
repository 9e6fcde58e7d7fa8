// RFC 4180 CSV reading: quotes, CRLF, embedded commas and line breaks, missing final newline, and
// the error messages for malformed files and cells.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/timeseries/csv.h"
#include "test_support.h"

using namespace recur;

namespace {
std::filesystem::path fixture(const std::string& name) { return test::test_data_dir() / "timeseries" / name; }

void expect_has(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in: " << text;
}
}  // namespace

TEST(Csv, QuotedCrlfFileWithoutFinalNewline) {
  CsvTable t = read_csv(fixture("crlf_quoted.csv"));
  ASSERT_EQ(t.header, (std::vector<std::string>{"Month", "Note, with comma", "Value"}));
  ASSERT_EQ(t.num_rows(), 4);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"2000-01", "said \"hi\"", "1.5"}));
  EXPECT_EQ(t.rows[2][1], "");
  EXPECT_EQ(t.rows[3], (std::vector<std::string>{"2000-04", " spaced ", " +4.25 "}));
  EXPECT_EQ(t.row_lines, (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(csv_numeric_column(t, "Value"), (std::vector<double>{1.5, 2.0, -30.0, 4.25}));
  EXPECT_EQ(csv_text_column(t, "Month")[3], "2000-04");
}

TEST(Csv, LineBreakInsideQuotesKeepsLineNumbers) {
  CsvTable t = read_csv(fixture("embedded_newline.csv"));
  ASSERT_EQ(t.num_rows(), 3);
  EXPECT_EQ(t.rows[0][1], "line one\nline two");
  EXPECT_EQ(t.row_lines, (std::vector<int64_t>{2, 4, 5}));
}

TEST(Csv, ByteOrderMarkAndBlankLinesAreSkipped) {
  CsvTable t = read_csv(fixture("bom_blank_lines.csv"));
  EXPECT_EQ(t.header, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(t.num_rows(), 2);
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"3", "4"}));
  EXPECT_EQ(t.row_lines[1], 4);
}

TEST(Csv, LineEndingsAllGiveTheSameTable) {
  for (std::string_view text : {"x,y\n1,2\n3,4\n", "x,y\r\n1,2\r\n3,4", "x,y\r1,2\r3,4\r", "x,y\n1,2\n3,4"}) {
    CsvTable t = parse_csv(text);
    ASSERT_EQ(t.num_rows(), 2) << text;
    EXPECT_EQ(t.rows[1], (std::vector<std::string>{"3", "4"}));
  }
}

TEST(Csv, EmptyFieldsAndQuotedEmptyRecord) {
  CsvTable t = parse_csv("a,b,c\n,,\n\"\",x,\"\"\"\"\n");
  ASSERT_EQ(t.num_rows(), 2);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"", "x", "\""}));
}

TEST(Csv, SharedAirlineFile) {
  CsvTable t = read_csv(test::shared_data_dir() / "timeseries" / "airline-passengers.csv");
  EXPECT_EQ(t.header, (std::vector<std::string>{"Month", "Passengers"}));
  ASSERT_EQ(t.num_rows(), 144);
  EXPECT_EQ(t.rows.front(), (std::vector<std::string>{"1949-01", "112"}));
  EXPECT_EQ(t.rows.back(), (std::vector<std::string>{"1960-12", "432"}));  // the line with no final newline
}

TEST(Csv, EmptyFileIsAnError) {
  auto msg = test::message_of_error<IoError>([] { (void)read_csv(fixture("empty.csv")); });
  expect_has(msg, "empty.csv");
  expect_has(msg, "empty");
}

TEST(Csv, MissingFileNamesThePath) {
  auto msg = test::message_of_error<IoError>([] { (void)read_csv(fixture("no-such-file.csv")); });
  expect_has(msg, "no-such-file.csv");
}

TEST(Csv, RaggedRowNamesLineAndCounts) {
  auto msg = test::message_of_error<IoError>([] { (void)read_csv(fixture("ragged.csv")); });
  expect_has(msg, "ragged.csv: line 3");
  expect_has(msg, "expected 2 fields");
  expect_has(msg, "got 3");
}

TEST(Csv, UnterminatedQuoteNamesWhereItOpened) {
  auto msg = test::message_of_error<IoError>([] { (void)read_csv(fixture("unterminated.csv")); });
  expect_has(msg, "line 2");
  expect_has(msg, "not closed");
}

TEST(Csv, CharacterAfterClosingQuoteIsAnError) {
  auto msg = test::message_of_error<IoError>([] { (void)parse_csv("a,b\n\"x\"y,1\n", "t.csv"); });
  expect_has(msg, "t.csv: line 2");
  expect_has(msg, "after a closing quote");
}

TEST(Csv, NonNumericCellNamesRowLineAndColumn) {
  CsvTable t = read_csv(fixture("non_numeric.csv"));
  auto msg = test::message_of_error<ValueError>([&] { (void)csv_numeric_column(t, "value"); });
  expect_has(msg, "non_numeric.csv");
  expect_has(msg, "data row 3 (line 4)");
  expect_has(msg, "column 'value'");
  expect_has(msg, "'abc' is not a number");
}

TEST(Csv, EmptyAndNonFiniteCells) {
  CsvTable t = parse_csv("v\n1\n \n", "t.csv");
  expect_has(test::message_of_error<ValueError>([&] { (void)csv_numeric_column(t, "v"); }), "is empty");
  CsvTable u = parse_csv("v\ninf\n", "u.csv");
  expect_has(test::message_of_error<ValueError>([&] { (void)csv_numeric_column(u, "v"); }), "is not finite");
  CsvTable w = parse_csv("v\n1.5x\n", "w.csv");
  expect_has(test::message_of_error<ValueError>([&] { (void)csv_numeric_column(w, "v"); }),
             "'1.5x' is not a number");
}

TEST(Csv, MissingColumnListsTheColumns) {
  CsvTable t = read_csv(fixture("crlf_quoted.csv"));
  auto msg = test::message_of_error<ValueError>([&] { (void)csv_column_index(t, "Passengers"); });
  expect_has(msg, "no column named 'Passengers'");
  expect_has(msg, "'Month', 'Note, with comma', 'Value'");
  EXPECT_EQ(csv_column_index(t, " value "), 2);  // case and spaces forgiven when unambiguous
}

TEST(Csv, ReadsRegularFilesOnly) {
  const auto dir = test::make_temp_dir("csv");
  test::expect_error_words<IoError>([&] { (void)read_csv(dir); }, {"is a directory, not a CSV file"});
  test::expect_error_words<IoError>([] { (void)read_csv("/dev/zero"); }, {"/dev/zero", "character device"});
}

TEST(Csv, MissingColumnListsAFewOfManyColumns) {
  std::string text;
  for (int c = 0; c < 1000; ++c) text += (c ? ",c" : "c") + std::to_string(c);
  const CsvTable table = parse_csv(text + "\n", "wide.csv");
  const std::string message = test::message_of_error<ValueError>([&] { (void)csv_column_index(table, "x"); });
  EXPECT_NE(message.find("'c0', 'c1'"), std::string::npos) << message;
  EXPECT_NE(message.find("(and 990 more)"), std::string::npos) << message;
  EXPECT_EQ(message.find("'c11'"), std::string::npos) << message;
}
