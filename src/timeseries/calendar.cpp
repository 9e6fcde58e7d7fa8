// Date stamps: parsing, spacing, season length and the next stamps.
#include "recur/timeseries/calendar.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace recur {

namespace {

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level
// Date Algorithms").
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// The inverse of days_from_civil.
void civil_from_days(int64_t z, int& y, int& m, int& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (m <= 2));
}

int days_in_month(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// Reads exactly `width` digits at `pos`.
bool read_digits(std::string_view s, size_t& pos, size_t width, int& out) {
  if (pos + width > s.size()) return false;
  for (size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  std::from_chars(s.data() + pos, s.data() + pos + width, out);
  pos += width;
  return true;
}

bool read_separator(std::string_view s, size_t& pos) {
  if (pos < s.size() && (s[pos] == '-' || s[pos] == '/')) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

double DateStamp::days() const {
  return static_cast<double>(
             days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day))) +
         seconds_of_day / 86400.0;
}

std::optional<DateStamp> parse_date(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  DateStamp date;
  size_t pos = 0;
  if (!read_digits(text, pos, 4, date.year)) return std::nullopt;
  date.form = DateForm::year;
  if (pos < text.size()) {
    if (!read_separator(text, pos) || !read_digits(text, pos, 2, date.month)) return std::nullopt;
    date.form = DateForm::month;
  }
  if (pos < text.size()) {
    if (!read_separator(text, pos) || !read_digits(text, pos, 2, date.day)) return std::nullopt;
    date.form = DateForm::day;
  }
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != ' ') return std::nullopt;
    ++pos;
    int hour = 0, minute = 0, second = 0;
    if (!read_digits(text, pos, 2, hour) || pos >= text.size() || text[pos++] != ':' ||
        !read_digits(text, pos, 2, minute)) {
      return std::nullopt;
    }
    if (pos < text.size() && (text[pos] != ':' || !read_digits(text, ++pos, 2, second))) return std::nullopt;
    if (pos != text.size() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    date.seconds_of_day = hour * 3600 + minute * 60 + second;
    date.form = DateForm::day_time;
  }
  if (date.month < 1 || date.month > 12 || date.day < 1 || date.day > days_in_month(date.year, date.month)) {
    return std::nullopt;
  }
  return date;
}

std::string_view date_spacing_name(DateSpacing spacing) {
  switch (spacing) {
    case DateSpacing::irregular:
      return "irregular";
    case DateSpacing::sub_daily:
      return "sub-daily";
    case DateSpacing::daily:
      return "daily";
    case DateSpacing::weekly:
      return "weekly";
    case DateSpacing::monthly:
      return "monthly";
    case DateSpacing::quarterly:
      return "quarterly";
    case DateSpacing::yearly:
      return "yearly";
  }
  return "irregular";
}

namespace {
double median_gap_days(std::span<const DateStamp> dates) {
  std::vector<double> gaps;
  for (size_t i = 1; i < dates.size(); ++i) gaps.push_back(dates[i].days() - dates[i - 1].days());
  std::nth_element(gaps.begin(), gaps.begin() + static_cast<std::ptrdiff_t>(gaps.size() / 2), gaps.end());
  return gaps[gaps.size() / 2];
}
}  // namespace

DateSpacing infer_date_spacing(std::span<const DateStamp> dates) {
  if (dates.size() < 2) return DateSpacing::irregular;
  const double gap = median_gap_days(dates);
  if (gap <= 0.0) return DateSpacing::irregular;
  if (gap < 1.0 - 1e-9) return DateSpacing::sub_daily;
  if (std::abs(gap - 1.0) < 1e-9) return DateSpacing::daily;
  if (std::abs(gap - 7.0) < 1e-9) return DateSpacing::weekly;
  if (gap >= 28.0 && gap <= 31.0) return DateSpacing::monthly;
  if (gap >= 89.0 && gap <= 92.0) return DateSpacing::quarterly;
  if (gap >= 365.0 && gap <= 366.0) return DateSpacing::yearly;
  return DateSpacing::irregular;
}

std::optional<int> season_for_spacing(DateSpacing spacing, std::span<const DateStamp> dates) {
  switch (spacing) {
    case DateSpacing::daily:
      return 365;
    case DateSpacing::weekly:
      return 52;
    case DateSpacing::monthly:
      return 12;
    case DateSpacing::quarterly:
      return 4;
    case DateSpacing::yearly:
      return 1;
    case DateSpacing::sub_daily: {
      const double gap_seconds = median_gap_days(dates) * 86400.0;
      const double per_day = 86400.0 / gap_seconds;
      if (gap_seconds < 1.0 || std::abs(per_day - std::round(per_day)) > 1e-6) return std::nullopt;
      return static_cast<int>(std::round(per_day));
    }
    case DateSpacing::irregular:
      return std::nullopt;
  }
  return std::nullopt;
}

std::string format_date(const DateStamp& date) {
  switch (date.form) {
    case DateForm::year:
      return fmt::format("{:04}", date.year);
    case DateForm::month:
      return fmt::format("{:04}-{:02}", date.year, date.month);
    case DateForm::day:
      return fmt::format("{:04}-{:02}-{:02}", date.year, date.month, date.day);
    case DateForm::day_time: {
      const int s = date.seconds_of_day;
      if (s % 60 == 0)
        return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}", date.year, date.month, date.day, s / 3600,
                           s / 60 % 60);
      return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", date.year, date.month, date.day, s / 3600,
                         s / 60 % 60, s % 60);
    }
  }
  return {};
}

std::vector<std::string> next_date_labels(std::span<const DateStamp> dates, DateSpacing spacing, int count) {
  std::vector<std::string> labels;
  if (dates.empty() || spacing == DateSpacing::irregular) return labels;
  const DateStamp last = dates.back();
  for (int step = 1; step <= count; ++step) {
    DateStamp next = last;
    const int months = spacing == DateSpacing::monthly     ? 1
                       : spacing == DateSpacing::quarterly ? 3
                       : spacing == DateSpacing::yearly    ? 12
                                                           : 0;
    if (months > 0) {
      const int index = last.year * 12 + (last.month - 1) + months * step;
      next.year = index / 12;
      next.month = index % 12 + 1;
      next.day = std::min(last.day, days_in_month(next.year, next.month));
    } else {
      const double gap = spacing == DateSpacing::sub_daily ? median_gap_days(dates)
                         : spacing == DateSpacing::weekly  ? 7.0
                                                           : 1.0;
      const double total_seconds = std::round((last.days() + gap * step) * 86400.0);
      const auto whole_days = static_cast<int64_t>(std::floor(total_seconds / 86400.0));
      civil_from_days(whole_days, next.year, next.month, next.day);
      next.seconds_of_day = static_cast<int>(total_seconds - static_cast<double>(whole_days) * 86400.0);
    }
    labels.push_back(format_date(next));
  }
  return labels;
}

}  // namespace recur
