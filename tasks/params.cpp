#include "params.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>

namespace wf::params {

std::string MustBe(const char* what, const json& v) {
  return std::string("must be ") + what + ", not " + JsonTypeName(v);
}

bool IsIntIn(const json& v, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    return u >= static_cast<uint64_t>(std::max<int64_t>(lo, 0)) && u <= static_cast<uint64_t>(hi);
  }
  if (v.is_number_integer()) {
    auto i = v.get<int64_t>();
    return i >= lo && i <= hi;
  }
  return false;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

Status CheckObjectKeys(const json& params, std::initializer_list<std::string_view> known,
                       const std::string& path) {
  if (!params.is_object()) return Status::Invalid(MustBe("an object", params), path);
  for (const auto& [key, value] : params.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Status::Invalid("unknown param", JsonPathJoin(path, key));
    }
  }
  return Status::Ok();
}

std::string InvalidParamsMessage(const Status& s) {
  return "invalid params: " + s.message() + (s.path().empty() ? "" : " (at " + s.path() + ")");
}

Result<std::chrono::milliseconds> ParseDuration(const json& v, const std::string& path,
                                                std::chrono::milliseconds max) {
  const std::string too_long = "must be at most " + std::to_string(max.count() / 1000) + " seconds";
  if (v.is_number()) {
    double seconds = v.get<double>();
    if (!std::isfinite(seconds) || seconds < 0) {
      return Status::Invalid("must be a non-negative number of seconds", path);
    }
    if (seconds * 1000.0 > static_cast<double>(max.count())) return Status::Invalid(too_long, path);
    return std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000.0)));
  }
  const char* kForm =
      "must be a duration such as \"30s\", \"5m\" or \"1h30m\" (units ms, s, m, h, d)";
  if (!v.is_string()) {
    return Status::Invalid(MustBe("a number of seconds or a duration string", v), path);
  }
  const auto& text = v.get_ref<const std::string&>();
  if (text.empty()) return Status::Invalid(kForm, path);
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    if (i == start || i - start > 12) return Status::Invalid(kForm, path);
    double number = 0;
    try {
      size_t used = 0;
      number = std::stod(text.substr(start, i - start), &used);
      if (used != i - start) return Status::Invalid(kForm, path);
    } catch (const std::exception&) {
      return Status::Invalid(kForm, path);
    }
    size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit(text.data() + ustart, i - ustart);
    double factor = unit == "ms"  ? 1
                    : unit == "s" ? 1000
                    : unit == "m" ? 60000
                    : unit == "h" ? 3600000
                    : unit == "d" ? 86400000
                                  : 0;
    if (factor == 0) return Status::Invalid(kForm, path);
    total_ms += number * factor;
  }
  if (total_ms > static_cast<double>(max.count())) return Status::Invalid(too_long, path);
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

Result<int64_t> ParseRfc3339(std::string_view s, const std::string& path) {
  auto bad = [&] {
    return Status::Invalid(
        "must be an RFC 3339 date-time such as \"2026-12-01T13:00:00Z\" or "
        "\"2026-12-01T14:00:00+01:00\"",
        path);
  };
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' ||
      !Digits(s, 17, 2, &second)) {
    return bad();
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] ||
      (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 || second > 60) {
    return bad();
  }
  size_t i = 19;
  int64_t ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t start = i;
    int64_t scale = 100;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      ms += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start) return bad();
  }
  int64_t offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!Digits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !Digits(s, i + 4, 2, &om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return bad();
  }
  if (i != s.size()) return bad();
  int64_t secs =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + std::min(second, 59) - offset_min * 60;
  return secs * 1000 + ms;
}

std::string FormatRfc3339(int64_t epoch_ms) {
  auto secs = static_cast<time_t>(epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000);
  int ms = static_cast<int>(epoch_ms - static_cast<int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

int64_t NowEpochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Snippet(std::string_view text, size_t limit) {
  std::string out;
  size_t i = 0;
  while (i < text.size() && i < limit) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool valid = len > 0 && i + len <= text.size();
    for (size_t k = 1; valid && k < len; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    }
    if (valid && len == 2 && c < 0xc2) valid = false;  // overlong
    if (valid && len == 3) {
      auto c1 = static_cast<unsigned char>(text[i + 1]);
      if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0))
        valid = false;  // overlong, surrogate
    }
    if (valid && len == 4) {
      auto c1 = static_cast<unsigned char>(text[i + 1]);
      if ((c == 0xf0 && c1 < 0x90) || c > 0xf4 || (c == 0xf4 && c1 >= 0x90)) valid = false;
    }
    if (!valid) {
      out += '?';
      ++i;
      continue;
    }
    if (i + len > limit) break;
    if (len == 1 && (c < 0x20 || c == 0x7f)) {
      out += ' ';
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  if (i < text.size()) out += "...";
  return out;
}

}  // namespace wf::params
