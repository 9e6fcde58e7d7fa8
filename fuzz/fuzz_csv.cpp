// Fuzz target: the RFC 4180 CSV reader, then the numeric and text views of every column.
#include "fuzz_support.h"
#include "recur/timeseries/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recur::fuzz::expect_recur_errors_only([&] {
    const recur::CsvTable table = recur::parse_csv(recur::fuzz::as_text(data, size), "fuzz.csv");
    for (const std::string& name : table.header) {
      recur::fuzz::expect_recur_errors_only([&] { (void)recur::csv_numeric_column(table, name); });
      (void)recur::csv_text_column(table, name);
    }
  });
  return 0;
}
