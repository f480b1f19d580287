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

// A rule: a regex, and which part of a match is masked (the capture groups when it has
// any, else the whole match). `hint`: lowercase words one of which must occur in the
// lowercased line for the rule to be tried at all (none: always tried).
struct Rule {
  std::regex re;
  std::vector<std::string> hints;
};

constexpr auto kIcase = std::regex::ECMAScript | std::regex::icase | std::regex::optimize;

const std::vector<Rule>& BuiltinRules() {
  static const std::vector<Rule> kRules = [] {
    const std::vector<std::string> key_words = {"password",    "passwd",  "secret",  "token",
                                                "api_key",     "apikey",  "api-key", "credential",
                                                "private_key", "authoriz"};
    const std::string key =
        "(?:password|passwd|secret|token|api_?key|api-key|authorization|credential|private_?"
        "key)";
    std::vector<Rule> rules;
    // JSON: "db_password": "value" (group 1 is the value, escapes kept inside).
    rules.push_back(
        {std::regex("\"[^\"]*" + key + "[^\"]*\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"", kIcase),
         key_words});
    // Headers: "Authorization: Basic abc" masks up to the end of the line.
    rules.push_back(
        {std::regex("\\b(?:proxy-)?(?:authorization|x-api-key|api-key|x-auth-token|cookie|set-"
                    "cookie)[ \\t]*:[ \\t]*([^\\r\\n]+)",
                    kIcase),
         {"authoriz", "api-key", "auth-token", "cookie"}});
    // Bearer and basic credentials anywhere.
    rules.push_back({std::regex("\\b(?:bearer|basic)\\s+([A-Za-z0-9._~+/=-]{4,})", kIcase),
                     {"bearer", "basic"}});
    // key=value text: token=abc, client_secret=xyz.
    rules.push_back(
        {std::regex("\\b[A-Za-z0-9_.-]*" + key + "[A-Za-z0-9_.-]*=([^\\s&\"',;]+)", kIcase),
         key_words});
    return rules;
  }();
  return kRules;
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

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Masks the groups of every match of `re` in `text` (the whole match if it has none).
std::string ApplyRule(const std::string& text, const std::regex& re) {
  std::string out;
  size_t pos = 0;  // next byte of `text` not yet copied
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    const std::smatch& m = *it;
    if (m.length(0) == 0) continue;
    auto mask = [&](size_t begin, size_t end) {
      if (begin < pos || end <= begin) return;
      out.append(text, pos, begin - pos);
      out += kRedacted;
      pos = end;
    };
    if (m.size() <= 1) {
      mask(m.position(0), m.position(0) + m.length(0));
      continue;
    }
    for (size_t g = 1; g < m.size(); ++g) {
      if (m[g].matched) mask(m.position(g), m.position(g) + m.length(g));
    }
  }
  if (pos == 0) return text;
  out.append(text, pos, std::string::npos);
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
      rules->push_back(
          {std::regex(patterns[i], std::regex::ECMAScript | std::regex::optimize), {}});
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
  const std::string lower = Lower(out);
  for (const Rule& rule : BuiltinRules()) {
    bool hinted = rule.hints.empty();
    for (const auto& h : rule.hints) hinted = hinted || lower.find(h) != std::string::npos;
    if (hinted) out = ApplyRule(out, rule.re);
  }
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
