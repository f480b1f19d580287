#include "wf/redact.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <regex>
#include <shared_mutex>
#include <unordered_map>

namespace wf {
namespace {

// A configured pattern: its matches (or capture groups) are masked.
struct Rule {
  std::regex re;
};

// std::regex matches recursively, one stack frame or more per character a repetition
// consumes: configured patterns see a line in pieces of at most this many bytes, which
// keeps the depth far from any thread's stack size.
constexpr size_t kRegexPiece = 4096;

// Words that make a key a credential ("db_password", "X-Auth-Token", "client_secret").
constexpr const char* kKeyWords[] = {"password",    "passwd",     "secret",        "token",
                                     "api_key",     "apikey",     "api-key",       "credential",
                                     "private_key", "privatekey", "authorization", "cookie"};

char Low(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsKeyChar(char c) { return IsWordChar(c) || c == '-' || c == '.'; }

// Whether `text` at `pos` starts with the lowercase `word`, ignoring case.
bool StartsWithAt(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (Low(text[pos + i]) != word[i]) return false;
  }
  return true;
}

bool IsCredentialKey(std::string_view key) {
  std::string lower(key);
  for (char& c : lower) c = Low(c);
  for (const char* w : kKeyWords) {
    if (lower.find(w) != std::string::npos) return true;
  }
  return false;
}

// Builds a copy of a line with some byte ranges masked; ranges come in increasing order.
class Masker {
 public:
  explicit Masker(const std::string& text) : text_(text) {}
  void Mask(size_t begin, size_t end) {
    if (begin < copied_ || end <= begin) return;
    out_.append(text_, copied_, begin - copied_);
    out_ += kRedacted;
    copied_ = end;
  }
  std::string Done() {
    if (copied_ == 0) return text_;
    out_.append(text_, copied_, std::string::npos);
    return std::move(out_);
  }

 private:
  const std::string& text_;
  std::string out_;
  size_t copied_ = 0;
};

// The end of the JSON string whose opening quote is at `open` (the index of its closing
// quote), or npos.
size_t JsonStringEnd(const std::string& t, size_t open) {
  for (size_t i = open + 1; i < t.size(); ++i) {
    if (t[i] == '\\') {
      ++i;
    } else if (t[i] == '"') {
      return i;
    }
  }
  return std::string::npos;
}

size_t SkipBlanks(const std::string& t, size_t i) {
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
  return i;
}

// JSON: "db_password": "value" -> "db_password": "***".
std::string MaskJsonKeys(const std::string& t) {
  Masker m(t);
  size_t i = t.find('"');
  while (i != std::string::npos && i < t.size()) {
    size_t close = JsonStringEnd(t, i);
    if (close == std::string::npos) break;
    size_t j = SkipBlanks(t, close + 1);
    if (j < t.size() && t[j] == ':') {
      size_t v = SkipBlanks(t, j + 1);
      if (v < t.size() && t[v] == '"' &&
          IsCredentialKey(std::string_view(t).substr(i + 1, close - i - 1))) {
        size_t vend = JsonStringEnd(t, v);
        if (vend == std::string::npos) break;
        m.Mask(v + 1, vend);
        i = t.find('"', vend + 1);
        continue;
      }
    }
    i = t.find('"', close + 1);
  }
  return m.Done();
}

// Headers: "Authorization: Basic abc" -> "Authorization: ***" (to the end of the line).
std::string MaskHeaders(const std::string& t) {
  static const std::string_view kNames[] = {"authorization", "api-key", "auth-token", "cookie"};
  Masker m(t);
  for (size_t i = 0; i < t.size(); ++i) {
    if (i > 0 && IsWordChar(t[i - 1])) continue;
    for (std::string_view name : kNames) {
      if (!StartsWithAt(t, i, name)) continue;
      size_t j = SkipBlanks(t, i + name.size());
      if (j >= t.size() || t[j] != ':') break;
      size_t v = SkipBlanks(t, j + 1);
      size_t end = v;
      while (end < t.size() && t[end] != '\r' && t[end] != '\n') ++end;
      m.Mask(v, end);
      i = end;
      break;
    }
  }
  return m.Done();
}

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("._~+/=-", c) != nullptr;
}

// "Bearer eyJ…", "Basic dXNl…" anywhere -> "Bearer ***".
std::string MaskSchemes(const std::string& t) {
  Masker m(t);
  for (size_t i = 0; i < t.size(); ++i) {
    if (i > 0 && IsWordChar(t[i - 1])) continue;
    size_t len = StartsWithAt(t, i, "bearer") ? 6 : StartsWithAt(t, i, "basic") ? 5 : 0;
    if (len == 0) continue;
    size_t v = i + len;
    if (v >= t.size() || !std::isspace(static_cast<unsigned char>(t[v]))) continue;
    while (v < t.size() && std::isspace(static_cast<unsigned char>(t[v]))) ++v;
    size_t end = v;
    while (end < t.size() && IsTokenChar(t[end])) ++end;
    if (end - v >= 4) {
      m.Mask(v, end);
      i = end;
    }
  }
  return m.Done();
}

// key=value text: "?api_key=abc&x=1", "client_secret=xyz" -> "api_key=***".
std::string MaskKeyValues(const std::string& t) {
  Masker m(t);
  for (size_t eq = t.find('='); eq != std::string::npos; eq = t.find('=', eq + 1)) {
    size_t k = eq;
    while (k > 0 && IsKeyChar(t[k - 1])) --k;
    if (k == eq || !IsCredentialKey(std::string_view(t).substr(k, eq - k))) continue;
    size_t end = eq + 1;
    while (end < t.size() && !std::isspace(static_cast<unsigned char>(t[end])) &&
           std::strchr("&\"',;", t[end]) == nullptr) {
      ++end;
    }
    m.Mask(eq + 1, end);
    if (end > eq) eq = end - 1;
  }
  return m.Done();
}

uint32_t Prefix(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Registered secrets, indexed by their first kMinSecretBytes (4) bytes so that a line is
// scanned once whatever the number of secrets.
struct Registry {
  std::shared_mutex mu;
  std::unordered_map<std::string, int> counts;  // secret value -> scopes holding it
  // First four bytes -> the secrets starting with them, longest first.
  std::unordered_map<uint32_t, std::vector<std::string>> by_prefix;
  std::shared_ptr<const std::vector<Rule>> patterns = std::make_shared<std::vector<Rule>>();

  void Add(const std::string& v) {
    if (counts[v]++ > 0) return;
    auto& list = by_prefix[Prefix(v.data())];
    auto at = std::find_if(list.begin(), list.end(),
                           [&](const std::string& o) { return o.size() < v.size(); });
    list.insert(at, v);
  }
  void Remove(const std::string& v) {
    auto it = counts.find(v);
    if (it == counts.end() || --it->second > 0) return;
    counts.erase(it);
    auto p = by_prefix.find(Prefix(v.data()));
    if (p == by_prefix.end()) return;
    p->second.erase(std::remove(p->second.begin(), p->second.end(), v), p->second.end());
    if (p->second.empty()) by_prefix.erase(p);
  }
  // `line` with every registered secret masked; the caller holds `mu`.
  std::string Mask(const std::string& line) const {
    if (by_prefix.empty() || line.size() < kMinSecretBytes) return line;
    std::string out;
    size_t copied = 0, i = 0;
    while (i + kMinSecretBytes <= line.size()) {
      auto p = by_prefix.find(Prefix(line.data() + i));
      size_t matched = 0;
      if (p != by_prefix.end()) {
        for (const auto& secret : p->second) {
          if (line.compare(i, secret.size(), secret) == 0) {
            matched = secret.size();
            break;
          }
        }
      }
      if (matched == 0) {
        i++;
        continue;
      }
      out.append(line, copied, i - copied);
      out += kRedacted;
      i += matched;
      copied = i;
    }
    if (copied == 0) return line;
    out.append(line, copied, std::string::npos);
    return out;
  }
};

Registry& Reg() {
  static Registry* r = new Registry();  // never destroyed: logging may run during exit
  return *r;
}

// Masks the groups of every match of `re` in `text` (the whole match if it has none),
// looking at kRegexPiece bytes at a time.
std::string ApplyRule(const std::string& text, const std::regex& re) {
  std::string out;
  for (size_t start = 0; start < text.size(); start += kRegexPiece) {
    const std::string piece = text.substr(start, kRegexPiece);
    Masker m(piece);
    for (auto it = std::sregex_iterator(piece.begin(), piece.end(), re);
         it != std::sregex_iterator(); ++it) {
      const std::smatch& match = *it;
      if (match.length(0) == 0) continue;
      if (match.size() <= 1) {
        m.Mask(match.position(0), match.position(0) + match.length(0));
        continue;
      }
      for (size_t g = 1; g < match.size(); ++g) {
        if (match[g].matched) m.Mask(match.position(g), match.position(g) + match.length(g));
      }
    }
    out += m.Done();
  }
  return out;
}

void ReplaceAll(std::string* s, const std::string& what) {
  size_t at = 0;
  while ((at = s->find(what, at)) != std::string::npos) {
    s->replace(at, what.size(), kRedacted);
    at += std::char_traits<char>::length(kRedacted);
  }
}

// Calls `on_secret` for every node of `data` at a path the schema marks "x-secret": true.
void WalkSecrets(const json& schema, json& data, const std::function<void(json&)>& on_secret) {
  if (!schema.is_object()) return;
  auto secret = schema.find("x-secret");
  if (secret != schema.end() && secret->is_boolean() && secret->get<bool>()) {
    on_secret(data);
    return;
  }
  for (const char* combinator : {"allOf", "anyOf", "oneOf"}) {
    auto list = schema.find(combinator);
    if (list == schema.end() || !list->is_array()) continue;
    for (const auto& sub : *list) WalkSecrets(sub, data, on_secret);
  }
  if (data.is_object()) {
    auto props = schema.find("properties");
    auto extra = schema.find("additionalProperties");
    for (auto& [key, value] : data.items()) {
      if (props != schema.end() && props->is_object() && props->contains(key)) {
        WalkSecrets((*props)[key], value, on_secret);
      } else if (extra != schema.end() && extra->is_object()) {
        WalkSecrets(*extra, value, on_secret);
      }
    }
  } else if (data.is_array()) {
    auto items = schema.find("items");
    if (items == schema.end()) return;
    for (size_t i = 0; i < data.size(); ++i) {
      if (items->is_object()) {
        WalkSecrets(*items, data[i], on_secret);
      } else if (items->is_array() && i < items->size()) {
        WalkSecrets((*items)[i], data[i], on_secret);
      }
    }
  }
}

void CollectScalars(const json& v, std::vector<std::string>* out) {
  if (v.is_string()) {
    out->push_back(v.get<std::string>());
  } else if (v.is_structured()) {
    for (const auto& e : v) CollectScalars(e, out);
  } else if (!v.is_null()) {
    out->push_back(v.dump());
  }
}

}  // namespace

ScopedSecrets::ScopedSecrets(std::vector<std::string> values) {
  for (auto& v : values) {
    if (v.size() >= kMinSecretBytes) values_.push_back(std::move(v));
  }
  if (values_.empty()) return;
  Registry& r = Reg();
  std::unique_lock lock(r.mu);
  for (const auto& v : values_) r.Add(v);
}

ScopedSecrets::~ScopedSecrets() {
  if (values_.empty()) return;
  Registry& r = Reg();
  std::unique_lock lock(r.mu);
  for (const auto& v : values_) r.Remove(v);
}

ScopedSecrets::ScopedSecrets(ScopedSecrets&& other) noexcept : values_(std::move(other.values_)) {
  other.values_.clear();
}

ScopedSecrets& ScopedSecrets::operator=(ScopedSecrets&& other) noexcept {
  if (this != &other) {
    ScopedSecrets old(std::move(*this));
    values_ = std::move(other.values_);
    other.values_.clear();
  }
  return *this;
}

Status SetRedactPatterns(const std::vector<std::string>& patterns) {
  auto rules = std::make_shared<std::vector<Rule>>();
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (patterns[i].empty()) {
      return Status::Invalid("redact_patterns[" + std::to_string(i) + "]: empty pattern");
    }
    try {
      rules->push_back({std::regex(patterns[i], std::regex::ECMAScript | std::regex::optimize)});
    } catch (const std::regex_error& e) {
      return Status::Invalid("redact_patterns[" + std::to_string(i) + "]: invalid regex '" +
                             patterns[i] + "': " + e.what());
    }
  }
  Registry& r = Reg();
  std::unique_lock lock(r.mu);
  r.patterns = std::move(rules);
  return Status::Ok();
}

std::string RedactLine(std::string_view line) {
  std::string out(line);
  Registry& r = Reg();
  std::shared_ptr<const std::vector<Rule>> patterns;
  {
    std::shared_lock lock(r.mu);
    out = r.Mask(out);
    patterns = r.patterns;
  }
  out = MaskJsonKeys(out);
  out = MaskHeaders(out);
  out = MaskSchemes(out);
  out = MaskKeyValues(out);
  for (const Rule& rule : *patterns) out = ApplyRule(out, rule.re);
  return out;
}

std::vector<std::string> SecretValuesBySchema(const json& schema, const json& data) {
  std::vector<std::string> out;
  json copy = data;
  WalkSecrets(schema, copy, [&](json& v) { CollectScalars(v, &out); });
  return out;
}

json RedactBySchema(const json& schema, const json& data) {
  json copy = data;
  WalkSecrets(schema, copy, [](json& v) {
    if (!v.is_null()) v = kRedacted;
  });
  return copy;
}

json RedactValues(const json& doc, const std::vector<std::string>& secrets) {
  std::vector<std::string> list;
  for (const auto& s : secrets) {
    if (s.size() >= kMinSecretBytes) list.push_back(s);
  }
  if (list.empty()) return doc;
  std::sort(list.begin(), list.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  std::function<void(json&)> walk = [&](json& v) {
    if (v.is_string()) {
      std::string& s = v.get_ref<std::string&>();
      for (const auto& secret : list) ReplaceAll(&s, secret);
    } else if (v.is_structured()) {
      for (auto& e : v) walk(e);
    }
  };
  json copy = doc;
  walk(copy);
  return copy;
}

}  // namespace wf
