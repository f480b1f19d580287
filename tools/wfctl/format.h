// Human-readable output for wfctl: aligned tables, key/value blocks, times and durations.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace wfctl {

using json = nlohmann::json;

// Columns padded to their widest cell, two spaces apart; the last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // `indent` spaces before every line.
  void Print(std::ostream& out, size_t indent = 0) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "key   value" lines, keys padded to the longest.
void PrintFields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields);

// Width on a terminal: UTF-8 code points.
size_t DisplayWidth(const std::string& s);
// At most `width` code points, ending in "…" when cut.
std::string Truncate(const std::string& s, size_t width);
// Newlines and tabs as spaces.
std::string OneLine(const std::string& s);

// A JSON value as a cell: strings as they are, null or missing as "-", the rest compact.
std::string Text(const json& v);
std::string Field(const json& obj, const std::string& key);

// "2026-01-01T10:00:00.123456Z" (the API's timestamps); nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> ParseTime(const std::string& s);
// "2026-01-01 10:00:00.123" from an API timestamp; "-" for null.
std::string ShortTime(const json& v);
// "850ms", "12.3s", "4m05s", "2h03m", "3d04h".
std::string FormatDuration(std::chrono::duration<double> d);
// The time from `from` to `to` (two API timestamps; `to` null = now); "-" without `from`.
std::string Between(const json& from, const json& to);
// "12s ago" for an API timestamp.
std::string Ago(const json& v);

}  // namespace wfctl
