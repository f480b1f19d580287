#include "wf/syslog.h"

#include <algorithm>
#include <array>

namespace wf {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// RFC 5424 field limits.
constexpr size_t kHostnameMax = 255;
constexpr size_t kAppNameMax = 48;
constexpr size_t kProcIdMax = 128;
constexpr size_t kMsgIdMax = 32;
constexpr size_t kSdNameMax = 32;
// Longest valid TIMESTAMP: "YYYY-MM-DDThh:mm:ss.ffffff+hh:mm".
constexpr size_t kTimestampMax = 32;

bool IsPrint(char c) { return c >= 33 && c <= 126; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSdNameChar(char c) { return IsPrint(c) && c != '=' && c != ']' && c != '"'; }

// "'x'" for a printable character, "SP", or "byte 0xNN".
std::string Describe(char c) {
  if (c == ' ') return "SP";
  if (IsPrint(c)) return std::string("'") + c + "'";
  static constexpr char kHex[] = "0123456789ABCDEF";
  const auto u = static_cast<unsigned char>(c);
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 0xF];
}

Status Error(const std::string& what, size_t at) {
  return Status::Invalid("syslog: " + what + " at byte " + std::to_string(at));
}

// Appends `in` to `out` with every maximal ill-formed subsequence replaced by U+FFFD.
void AppendValidUtf8(std::string_view in, std::string* out) {
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // over U+10FFFF
    } else {
      out->append(kReplacement);
      ++i;
      continue;
    }
    size_t j = 1;
    for (; j < len && i + j < n; ++j) {
      const auto d = static_cast<unsigned char>(in[i + j]);
      if (j == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) break;
    }
    if (j == len) {
      out->append(in.substr(i, len));
    } else {
      out->append(kReplacement);
    }
    i += j;
  }
}

std::string ValidUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  AppendValidUtf8(in, &out);
  return out;
}

std::string MessageText(std::string_view msg) {
  if (msg.substr(0, kBom.size()) == kBom) msg.remove_prefix(kBom.size());
  return ValidUtf8(msg);
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// Checks an RFC 5424 TIMESTAMP (not NILVALUE). Returns the offset of the first offending
// character (t.size() when it is cut short), or npos when valid.
size_t CheckTimestamp(std::string_view t) {
  size_t i = 0;
  // Reads `k` digits into *v; false (i at the offending character) if they are not there.
  auto digits = [&](size_t k, int* v) {
    *v = 0;
    for (size_t e = i + k; i < e; ++i) {
      if (i >= t.size() || !IsDigit(t[i])) return false;
      *v = *v * 10 + (t[i] - '0');
    }
    return true;
  };
  auto literal = [&](char c) {
    if (i >= t.size() || t[i] != c) return false;
    ++i;
    return true;
  };
  int year, month, day, hour, minute, second;
  if (!digits(4, &year) || !literal('-')) return i;
  size_t at = i;
  if (!digits(2, &month)) return i;
  if (month < 1 || month > 12) return at;
  if (!literal('-')) return i;
  at = i;
  if (!digits(2, &day)) return i;
  if (day < 1 || day > DaysInMonth(year, month)) return at;
  if (!literal('T')) return i;
  at = i;
  if (!digits(2, &hour)) return i;
  if (hour > 23) return at;
  if (!literal(':')) return i;
  at = i;
  if (!digits(2, &minute)) return i;
  if (minute > 59) return at;
  if (!literal(':')) return i;
  at = i;
  if (!digits(2, &second)) return i;
  if (second > 59) return at;  // no leap seconds (RFC 5424 6.2.3)
  if (i < t.size() && t[i] == '.') {
    ++i;
    const size_t start = i;
    while (i < t.size() && IsDigit(t[i])) {
      if (i - start == 6) return i;
      ++i;
    }
    if (i == start) return i;
  }
  if (i >= t.size()) return i;
  if (t[i] == 'Z') {
    ++i;
  } else if (t[i] == '+' || t[i] == '-') {
    ++i;
    at = i;
    if (!digits(2, &hour)) return i;
    if (hour > 23) return at;
    if (!literal(':')) return i;
    at = i;
    if (!digits(2, &minute)) return i;
    if (minute > 59) return at;
  } else {
    return i;
  }
  return i == t.size() ? std::string_view::npos : i;
}

// Length of an RFC 3164 timestamp ("Mmm dd hh:mm:ss", day space-padded, zero-padded or a single
// digit) at the start of `s` followed by SP or the end, or 0.
size_t Match3164Timestamp(std::string_view s) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() < 14 || s[3] != ' ') return 0;
  if (std::find(kMonths.begin(), kMonths.end(), s.substr(0, 3)) == kMonths.end()) return 0;
  size_t i = 4;
  int day = 0;
  if (s[4] == ' ' && IsDigit(s[5])) {
    day = s[5] - '0';
    i = 6;
  } else if (IsDigit(s[4]) && IsDigit(s[5])) {
    day = (s[4] - '0') * 10 + (s[5] - '0');
    i = 6;
  } else if (IsDigit(s[4]) && s[5] == ' ') {
    day = s[4] - '0';
    i = 5;
  } else {
    return 0;
  }
  if (day < 1 || day > 31) return 0;
  // " hh:mm:ss"
  if (s.size() < i + 9 || s[i] != ' ' || s[i + 3] != ':' || s[i + 6] != ':') return 0;
  int parts[3];
  for (int k = 0; k < 3; ++k) {
    const char a = s[i + 1 + 3 * k], b = s[i + 2 + 3 * k];
    if (!IsDigit(a) || !IsDigit(b)) return 0;
    parts[k] = (a - '0') * 10 + (b - '0');
  }
  if (parts[0] > 23 || parts[1] > 59 || parts[2] > 60) return 0;
  i += 9;
  if (i < s.size() && s[i] != ' ') return 0;
  return i;
}

class Parser {
 public:
  Parser(std::string_view data, const SyslogLimits& limits) : d_(data), limits_(limits) {}

  Result<SyslogMessage> Parse() {
    if (d_.size() > limits_.max_message_bytes) {
      return Error("message of " + std::to_string(d_.size()) + " bytes over the limit of " +
                       std::to_string(limits_.max_message_bytes),
                   limits_.max_message_bytes);
    }
    if (d_.empty()) return Error("empty message", 0);
    SyslogMessage m;
    if (Status s = ParsePri(&m); !s.ok()) return s;
    // VERSION "1" SP selects RFC 5424; anything else is RFC 3164.
    if (d_.size() - pos_ >= 2 && d_[pos_] == '1' && d_[pos_ + 1] == ' ') {
      pos_ += 2;
      m.version = 1;
      if (Status s = Parse5424(&m); !s.ok()) return s;
    } else {
      if (Status s = Parse3164(&m); !s.ok()) return s;
    }
    return m;
  }

 private:
  Status ParsePri(SyslogMessage* m) {
    if (d_[0] != '<') return Error("expected '<' to open PRI, found " + Describe(d_[0]), 0);
    pos_ = 1;
    int value = 0;
    size_t digits = 0;
    while (pos_ < d_.size() && IsDigit(d_[pos_])) {
      if (digits == 3) return Error("PRI has more than 3 digits", pos_);
      value = value * 10 + (d_[pos_] - '0');
      ++digits;
      ++pos_;
    }
    if (pos_ == d_.size()) return Error("PRI cut short (message truncated)", pos_);
    if (digits == 0) return Error("PRI: expected a digit, found " + Describe(d_[pos_]), pos_);
    if (d_[pos_] != '>') {
      return Error("expected '>' to close PRI, found " + Describe(d_[pos_]), pos_);
    }
    if (value > 191) return Error("PRI " + std::to_string(value) + " out of range 0..191", 1);
    ++pos_;
    m->facility = value / 8;
    m->severity = value % 8;
    return Status::Ok();
  }

  // Reads a header token up to the next SP (which it consumes). `limit` bounds its length.
  Status ReadToken(const std::string& name, size_t limit, std::string_view* out) {
    const size_t start = pos_;
    while (pos_ < d_.size() && d_[pos_] != ' ') {
      if (!IsPrint(d_[pos_])) {
        return Error(name + ": " + Describe(d_[pos_]) + " is not printable US-ASCII", pos_);
      }
      if (pos_ - start == limit) {
        return Error(name + " longer than " + std::to_string(limit) + " bytes", pos_);
      }
      ++pos_;
    }
    if (pos_ == d_.size()) {
      return Error(
          (pos_ == start ? "missing " : "expected SP after ") + name + " (message truncated)",
          pos_);
    }
    if (pos_ == start) return Error(name + " is empty", pos_);
    *out = d_.substr(start, pos_ - start);
    ++pos_;
    return Status::Ok();
  }

  Status ReadField(const std::string& name, size_t rfc_max, std::string* out) {
    std::string_view token;
    if (Status s = ReadToken(name, std::min(rfc_max, limits_.max_field_bytes), &token); !s.ok()) {
      return s;
    }
    out->assign(token == "-" ? std::string_view() : token);
    return Status::Ok();
  }

  Status ReadSdName(const std::string& name, std::string* out) {
    const size_t limit = std::min(kSdNameMax, limits_.max_field_bytes);
    const size_t start = pos_;
    while (pos_ < d_.size() && IsSdNameChar(d_[pos_])) {
      if (pos_ - start == limit) {
        return Error(name + " longer than " + std::to_string(limit) + " bytes", pos_);
      }
      ++pos_;
    }
    if (pos_ == d_.size()) return Error(name + " cut short (message truncated)", pos_);
    if (d_[pos_] != ' ' && !IsPrint(d_[pos_])) {
      return Error(name + ": " + Describe(d_[pos_]) + " is not printable US-ASCII", pos_);
    }
    if (pos_ == start) return Error(name + ": expected a name, found " + Describe(d_[pos_]), pos_);
    out->assign(d_.substr(start, pos_ - start));
    return Status::Ok();
  }

  Status Expect(char c, const std::string& what) {
    if (pos_ == d_.size()) return Error("expected " + what + " (message truncated)", pos_);
    if (d_[pos_] != c) return Error("expected " + what + ", found " + Describe(d_[pos_]), pos_);
    ++pos_;
    return Status::Ok();
  }

  Status Parse5424(SyslogMessage* m) {
    const size_t ts_start = pos_;
    std::string_view ts;
    if (Status s = ReadToken("TIMESTAMP", kTimestampMax, &ts); !s.ok()) return s;
    if (ts != "-") {
      if (size_t bad = CheckTimestamp(ts); bad != std::string_view::npos) {
        return Error("invalid TIMESTAMP \"" + std::string(ts) +
                         "\" (expected YYYY-MM-DDThh:mm:ss[.ffffff] and Z or +hh:mm)",
                     ts_start + bad);
      }
      m->timestamp.assign(ts);
    }
    Status s = ReadField("HOSTNAME", kHostnameMax, &m->hostname);
    if (s.ok()) s = ReadField("APP-NAME", kAppNameMax, &m->app_name);
    if (s.ok()) s = ReadField("PROCID", kProcIdMax, &m->proc_id);
    if (s.ok()) s = ReadField("MSGID", kMsgIdMax, &m->msg_id);
    if (s.ok()) s = ParseStructuredData(m);
    if (!s.ok()) return s;
    if (pos_ == d_.size()) return Status::Ok();
    if (d_[pos_] != ' ') {
      return Error("expected SP before MSG, found " + Describe(d_[pos_]), pos_);
    }
    m->message = MessageText(d_.substr(pos_ + 1));
    return Status::Ok();
  }

  Status ParseStructuredData(SyslogMessage* m) {
    if (pos_ == d_.size()) return Error("missing STRUCTURED-DATA (message truncated)", pos_);
    if (d_[pos_] == '-') {
      ++pos_;
      return Status::Ok();
    }
    if (d_[pos_] != '[') {
      return Error("expected '-' or '[' to start STRUCTURED-DATA, found " + Describe(d_[pos_]),
                   pos_);
    }
    size_t params = 0;
    while (pos_ < d_.size() && d_[pos_] == '[') {
      if (m->structured_data.size() == limits_.max_sd_elements) {
        return Error("more than " + std::to_string(limits_.max_sd_elements) + " SD-ELEMENTs", pos_);
      }
      ++pos_;
      const size_t id_start = pos_;
      std::string id;
      if (Status s = ReadSdName("SD-ID", &id); !s.ok()) return s;
      for (const auto& [other, unused] : m->structured_data) {
        if (other == id) return Error("duplicate SD-ID \"" + id + "\"", id_start);
      }
      SyslogMessage::SdParams element;
      while (true) {
        if (pos_ == d_.size()) return Error("SD-ELEMENT not closed (message truncated)", pos_);
        if (d_[pos_] == ']') {
          ++pos_;
          break;
        }
        if (d_[pos_] != ' ') {
          return Error("expected SP or ']' in SD-ELEMENT, found " + Describe(d_[pos_]), pos_);
        }
        ++pos_;
        if (params == limits_.max_sd_params) {
          return Error("more than " + std::to_string(limits_.max_sd_params) + " SD-PARAMs", pos_);
        }
        ++params;
        std::string name;
        if (Status s = ReadSdName("PARAM-NAME", &name); !s.ok()) return s;
        if (Status s = Expect('=', "'=' after PARAM-NAME"); !s.ok()) return s;
        if (Status s = Expect('"', "'\"' to open PARAM-VALUE"); !s.ok()) return s;
        std::string raw;
        while (true) {
          if (pos_ == d_.size()) return Error("PARAM-VALUE not closed (message truncated)", pos_);
          const char c = d_[pos_];
          if (c == '"') {
            ++pos_;
            break;
          }
          if (c == '\\' && pos_ + 1 < d_.size()) {
            const char next = d_[pos_ + 1];
            if (next == '"' || next == '\\' || next == ']') {
              raw.push_back(next);
              pos_ += 2;
              continue;
            }
          }
          // A backslash before any other character is a literal backslash (RFC 5424 6.3.3).
          raw.push_back(c);
          ++pos_;
        }
        element.emplace_back(std::move(name), ValidUtf8(raw));
      }
      m->structured_data.emplace_back(std::move(id), std::move(element));
    }
    return Status::Ok();
  }

  // RFC 3164, leniently: [TIMESTAMP SP HOSTNAME SP] [TAG["[" PID "]"]":" SP] MSG.
  Status Parse3164(SyslogMessage* m) {  // never fails: everything unrecognised is MSG
    std::string_view rest = d_.substr(pos_);
    size_t ts_len = Match3164Timestamp(rest);
    if (ts_len == 0) {
      // Some senders use an RFC 3339 timestamp in the old format.
      const std::string_view token = rest.substr(0, rest.find(' '));
      if (!token.empty() && CheckTimestamp(token) == std::string_view::npos) {
        ts_len = token.size();
      }
    }
    if (ts_len > 0) {
      m->timestamp.assign(rest.substr(0, ts_len));
      pos_ += ts_len;
      while (pos_ < d_.size() && d_[pos_] == ' ') ++pos_;
      // The HOSTNAME follows, unless the sender left it out: then the token is the tag, or
      // MSG text when it cannot be a hostname (not printable US-ASCII, or too long).
      const std::string_view token = d_.substr(pos_, d_.substr(pos_).find(' '));
      const bool is_tag = !token.empty() && (token.back() == ':' || token.find('[') != token.npos);
      const bool is_host = !token.empty() && !is_tag &&
                           token.size() <= std::min(kHostnameMax, limits_.max_field_bytes) &&
                           std::all_of(token.begin(), token.end(), IsPrint);
      if (is_host) {
        m->hostname.assign(token);
        pos_ += token.size();
        if (pos_ < d_.size()) ++pos_;  // the SP
      }
    }
    ParseTag(m);
    m->message = MessageText(d_.substr(pos_));
    pos_ = d_.size();
    return Status::Ok();
  }

  // Recognises "tag:", "tag[pid]:" or "tag[pid]" followed by SP or the end; otherwise leaves
  // everything to MSG.
  void ParseTag(SyslogMessage* m) {
    const std::string_view s = d_.substr(pos_);
    const size_t tag_limit = std::min(kAppNameMax, limits_.max_field_bytes);
    size_t i = 0;
    while (i < s.size() && IsPrint(s[i]) && s[i] != '[' && s[i] != ':') {
      if (i == tag_limit) return;
      ++i;
    }
    if (i == 0) return;
    size_t j = i;
    bool has_pid = false;
    std::string_view pid;
    if (j < s.size() && s[j] == '[') {
      const size_t pid_limit = std::min(kProcIdMax, limits_.max_field_bytes);
      size_t k = j + 1;
      while (k < s.size() && IsPrint(s[k]) && s[k] != ']') {
        if (k - (j + 1) == pid_limit) return;
        ++k;
      }
      if (k == s.size() || s[k] != ']') return;
      pid = s.substr(j + 1, k - (j + 1));
      has_pid = true;
      j = k + 1;
    }
    bool colon = false;
    if (j < s.size() && s[j] == ':') {
      colon = true;
      ++j;
    }
    if (!colon && !has_pid) return;
    if (j < s.size() && s[j] != ' ') return;
    if (j < s.size()) ++j;  // the SP
    m->app_name.assign(s.substr(0, i));
    m->proc_id.assign(pid);
    pos_ += j;
  }

  std::string_view d_;
  const SyslogLimits& limits_;
  size_t pos_ = 0;
};

// Header field for output: NILVALUE when empty, non-printable bytes as '_', at most `max`.
void AppendField(std::string_view value, size_t max, std::string* out) {
  if (value.empty()) {
    out->push_back('-');
    return;
  }
  value = value.substr(0, max);
  for (char c : value) out->push_back(IsPrint(c) ? c : '_');
}

std::string SdName(std::string_view name) {
  if (name.empty()) return "_";
  std::string out(name.substr(0, kSdNameMax));
  for (char& c : out) {
    if (!IsSdNameChar(c)) c = '_';
  }
  return out;
}

}  // namespace

std::string SyslogMessage::Param(std::string_view sd_id, std::string_view name) const {
  for (const auto& [id, params] : structured_data) {
    if (id != sd_id) continue;
    for (const auto& [key, value] : params) {
      if (key == name) return value;
    }
  }
  return {};
}

Result<SyslogMessage> ParseSyslog(std::string_view data, const SyslogLimits& limits) {
  return Parser(data, limits).Parse();
}

std::string FormatSyslog5424(const SyslogMessage& m) {
  std::string out;
  out.reserve(128 + m.message.size());
  const int facility = std::clamp(m.facility, 0, 23);
  const int severity = std::clamp(m.severity, 0, 7);
  out += '<';
  out += std::to_string(facility * 8 + severity);
  out += ">1 ";
  if (!m.timestamp.empty() && m.timestamp.size() <= kTimestampMax &&
      CheckTimestamp(m.timestamp) == std::string_view::npos) {
    out += m.timestamp;
  } else {
    out += '-';
  }
  out += ' ';
  AppendField(m.hostname, kHostnameMax, &out);
  out += ' ';
  AppendField(m.app_name, kAppNameMax, &out);
  out += ' ';
  AppendField(m.proc_id, kProcIdMax, &out);
  out += ' ';
  AppendField(m.msg_id, kMsgIdMax, &out);
  out += ' ';

  // SD-IDs must be unique: merge elements whose (cleaned) SD-IDs are equal.
  std::vector<std::pair<std::string, std::vector<const SyslogMessage::SdParams*>>> elements;
  for (const auto& [id, params] : m.structured_data) {
    std::string name = SdName(id);
    auto it = std::find_if(elements.begin(), elements.end(),
                           [&](const auto& e) { return e.first == name; });
    if (it == elements.end()) {
      elements.emplace_back(std::move(name), std::vector<const SyslogMessage::SdParams*>{});
      it = elements.end() - 1;
    }
    it->second.push_back(&params);
  }
  if (elements.empty()) out += '-';
  for (const auto& [id, param_lists] : elements) {
    out += '[';
    out += id;
    for (const auto* params : param_lists) {
      for (const auto& [name, value] : *params) {
        out += ' ';
        out += SdName(name);
        out += "=\"";
        for (char c : ValidUtf8(value)) {
          if (c == '"' || c == '\\' || c == ']') out += '\\';
          out += c;
        }
        out += '"';
      }
    }
    out += ']';
  }

  // A BOM in MSG itself survives: the receiver strips only the one added here.
  const std::string_view msg = m.message;
  if (!msg.empty()) {
    out += ' ';
    const bool ascii = std::all_of(msg.begin(), msg.end(), [](char c) { return (c & 0x80) == 0; });
    if (!ascii) out += kBom;
    AppendValidUtf8(msg, &out);
  }
  return out;
}

SyslogFramer::SyslogFramer(size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

size_t SyslogFramer::pending_bytes() const {
  switch (state_) {
    case State::kStart:
      return 0;
    case State::kLength:
      return length_digits_;
    case State::kCounted:
      return length_digits_ + 1 + partial_.size();
    case State::kLine:
      return partial_.size();
  }
  return 0;
}

Status SyslogFramer::Fail(const std::string& what, uint64_t at) {
  status_ = Status::Invalid("syslog frame: " + what + " at byte " + std::to_string(at));
  partial_.clear();
  partial_.shrink_to_fit();
  return status_;
}

Status SyslogFramer::Feed(std::string_view bytes,
                          const std::function<void(std::string_view frame)>& on_frame) {
  if (!status_.ok()) return status_;
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    switch (state_) {
      case State::kStart: {
        const char c = bytes[i];
        if (c >= '1' && c <= '9') {
          state_ = State::kLength;
          length_ = static_cast<uint64_t>(c - '0');
          length_digits_ = 1;
          ++i;
          ++offset_;
        } else if (c == '0') {
          return Fail("MSG-LEN starts with '0'", offset_);
        } else if (c == '-' || c == '+') {
          return Fail("MSG-LEN with a sign", offset_);
        } else {
          state_ = State::kLine;
        }
        break;
      }
      case State::kLength: {
        const char c = bytes[i];
        if (IsDigit(c)) {
          if (length_digits_ == 10) return Fail("MSG-LEN longer than 10 digits", offset_);
          length_ = length_ * 10 + static_cast<uint64_t>(c - '0');
          ++length_digits_;
          if (length_ > max_frame_bytes_) {
            return Fail("MSG-LEN over the limit of " + std::to_string(max_frame_bytes_) + " bytes",
                        offset_);
          }
          ++i;
          ++offset_;
        } else if (c == ' ') {
          state_ = State::kCounted;
          ++i;
          ++offset_;
        } else {
          return Fail("expected a digit or SP in MSG-LEN, found " + Describe(c), offset_);
        }
        break;
      }
      case State::kCounted: {
        const size_t need = static_cast<size_t>(length_) - partial_.size();
        const size_t take = std::min(need, n - i);
        i += take;
        offset_ += take;
        if (take < need) {
          partial_.append(bytes.substr(i - take, take));
          break;
        }
        state_ = State::kStart;
        length_digits_ = 0;
        if (partial_.empty()) {
          on_frame(bytes.substr(i - take, take));
        } else {
          partial_.append(bytes.substr(i - take, take));
          const std::string frame = std::move(partial_);
          partial_.clear();
          on_frame(frame);
        }
        break;
      }
      case State::kLine: {
        const size_t lf = bytes.find('\n', i);
        const size_t end = lf == std::string_view::npos ? n : lf;
        const size_t piece = end - i;
        if (partial_.size() + piece > max_frame_bytes_) {
          return Fail("line longer than " + std::to_string(max_frame_bytes_) + " bytes",
                      offset_ + (max_frame_bytes_ - partial_.size()));
        }
        if (lf == std::string_view::npos) {
          partial_.append(bytes.substr(i));
          offset_ += piece;
          i = n;
          break;
        }
        state_ = State::kStart;
        std::string joined;
        std::string_view frame = bytes.substr(i, piece);
        if (!partial_.empty()) {
          joined = std::move(partial_);
          partial_.clear();
          joined.append(frame);
          frame = joined;
        }
        i = lf + 1;
        offset_ += piece + 1;
        if (!frame.empty() && frame.back() == '\r') frame.remove_suffix(1);
        if (!frame.empty()) on_frame(frame);
        break;
      }
    }
  }
  return Status::Ok();
}

}  // namespace wf
