#include "format.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace wfctl {

void Table::Print(std::ostream& out, size_t indent) const {
  std::vector<size_t> widths(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(headers_);
  for (const auto& row : rows_) measure(row);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line(indent, ' ');
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      line += cell;
      if (i + 1 < widths.size()) line += std::string(widths[i] - DisplayWidth(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  print(headers_);
  for (const auto& row : rows_) print(row);
}

void PrintFields(std::ostream& out,
                 const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (const auto& [key, _] : fields) width = std::max(width, DisplayWidth(key));
  for (const auto& [key, value] : fields) {
    out << key << std::string(width - DisplayWidth(key) + 2, ' ') << value << "\n";
  }
}

size_t DisplayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string Truncate(const std::string& s, size_t width) {
  if (DisplayWidth(s) <= width) return s;
  if (width == 0) return "";
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80 && ++n == width) break;
    out += s[i];
  }
  return out + "…";
}

std::string OneLine(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return out;
}

std::string Text(const json& v) {
  if (v.is_null() || v.is_discarded()) return "-";
  if (v.is_string()) return OneLine(v.get<std::string>());
  return v.dump();
}

std::string Field(const json& obj, const std::string& key) {
  if (!obj.is_object()) return "-";
  auto it = obj.find(key);
  return it == obj.end() ? "-" : Text(*it);
}

std::optional<std::chrono::system_clock::time_point> ParseTime(const std::string& s) {
  int year, month, day, hour, minute, second, used = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &used) != 6 ||
      used != 19) {
    return std::nullopt;
  }
  double fraction = 0;
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    double scale = 0.1;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
      fraction += (s[i] - '0') * scale;
      scale /= 10;
    }
  }
  if (s.substr(i) != "Z" && s.substr(i) != "+00:00" && s.substr(i) != "+00") return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t t = timegm(&tm);
  return std::chrono::system_clock::from_time_t(t) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             std::chrono::duration<double>(fraction));
}

std::string ShortTime(const json& v) {
  if (!v.is_string()) return Text(v);
  std::string s = v.get<std::string>();
  if (!ParseTime(s)) return s;
  if (s.size() > 23 && s[19] == '.') {
    s = s.substr(0, 23);  // milliseconds
  } else {
    s = s.substr(0, 19);
  }
  s[10] = ' ';
  return s;
}

std::string FormatDuration(std::chrono::duration<double> d) {
  const double s = std::max(0.0, d.count());
  char buf[32];
  if (s < 1) {
    std::snprintf(buf, sizeof buf, "%dms", static_cast<int>(std::lround(s * 1000)));
  } else if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    const long t = static_cast<long>(s);
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  } else if (s < 86400) {
    const long t = static_cast<long>(s) / 60;
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 60, t % 60);
  } else {
    const long t = static_cast<long>(s) / 3600;
    std::snprintf(buf, sizeof buf, "%ldd%02ldh", t / 24, t % 24);
  }
  return buf;
}

std::string Between(const json& from, const json& to) {
  if (!from.is_string()) return "-";
  auto start = ParseTime(from.get<std::string>());
  if (!start) return "-";
  auto end = std::chrono::system_clock::now();
  if (to.is_string()) {
    auto parsed = ParseTime(to.get<std::string>());
    if (!parsed) return "-";
    end = *parsed;
  }
  return FormatDuration(end - *start);
}

std::string Ago(const json& v) {
  if (!v.is_string()) return "-";
  auto t = ParseTime(v.get<std::string>());
  if (!t) return v.get<std::string>();
  return FormatDuration(std::chrono::system_clock::now() - *t) + " ago";
}

}  // namespace wfctl
