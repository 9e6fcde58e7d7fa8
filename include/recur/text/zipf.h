// Zipf's law (d2l 9.3): the frequency of the r-th most frequent n-gram falls as r^(-alpha). The
// exponent is fitted by least squares on log10(frequency) = c - alpha log10(rank), and the
// log-frequency vs log-rank curves of several orders are drawn on one chart, as the book's figure.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "recur/io/svg_plot.h"

namespace recur {

// Which ranks the fit uses. The defaults skip the head, which bends below the line (the most common
// words are not as frequent as the law says), and the tail of n-grams seen once, a flat plateau of
// equal counts that drags a bigram or trigram fit toward zero.
struct ZipfFitOptions {
  int64_t min_rank = 10;  // first rank used, >= 1
  int64_t max_rank = 0;   // last rank used, 0 = no limit
  int64_t min_count = 2;  // ranks whose count is below this are left out, >= 1
};

struct ZipfFit {
  double alpha = 0;        // frequency ~ rank^(-alpha)
  double log10_scale = 0;  // c: the fitted log10 frequency at rank 1
  double r_squared = 0;    // of the log-log fit
  int64_t first_rank = 0;  // the ranks used, inclusive
  int64_t last_rank = 0;
  int64_t num_points = 0;
};

// Throws ValueError naming the option: min_rank < 1, max_rank neither 0 nor >= min_rank, min_count < 1.
void validate_zipf_options(const ZipfFitOptions& options);

// `sorted_counts` is the count of each n-gram, highest first (NgramCounts::sorted_counts). Throws
// ValueError for an unsorted or non-positive count, bad options, or fewer than 2 ranks in range.
[[nodiscard]] ZipfFit fit_zipf(std::span<const int64_t> sorted_counts, const ZipfFitOptions& options = {});

struct ZipfCurve {
  std::string name;                        // legend text, e.g. "unigram"
  std::span<const int64_t> sorted_counts;  // highest first
};

// Frequency against rank on log10 axes, one series per curve. The curves are step functions, so
// only the first and last rank of each run of equal counts are kept: exact, and small for long tails.
[[nodiscard]] Chart make_zipf_chart(std::span<const ZipfCurve> curves, const std::string& title);

// make_zipf_chart written with write_svg_chart (IoError naming the path on failure).
void write_zipf_chart(std::span<const ZipfCurve> curves, const std::string& title,
                      const std::filesystem::path& path);

}  // namespace recur
