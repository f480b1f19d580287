#include "wf/auth.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "wf/core/crypto.h"

namespace wf {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kNone:
      return "none";
    case Role::kReader:
      return "reader";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "none";
}

Result<TokenTable> ParseTokens(const std::string& yaml_text) {
  static const std::regex kName(R"([A-Za-z0-9._@-]{1,64})");
  static const std::regex kHash(R"([0-9a-fA-F]{64})");
  static const std::map<std::string, Role> kRoles = {
      {"reader", Role::kReader}, {"operator", Role::kOperator}, {"admin", Role::kAdmin}};
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(std::string("not YAML: ") + e.what());
  }
  if (!root.IsMap() || !root["tokens"] || !root["tokens"].IsSequence()) {
    return Status::Invalid("expected a mapping with a 'tokens' list");
  }
  for (const auto& kv : root) {
    if (kv.first.as<std::string>() != "tokens") {
      return Status::Invalid("unknown key '" + kv.first.as<std::string>() + "'");
    }
  }
  TokenTable table;
  std::set<std::string> names;
  size_t i = 0;
  for (const auto& entry : root["tokens"]) {
    const std::string where = "tokens[" + std::to_string(i++) + "]";
    if (!entry.IsMap()) return Status::Invalid(where + ": expected a mapping");
    for (const auto& kv : entry) {
      const std::string key = kv.first.as<std::string>();
      if (key != "name" && key != "role" && key != "sha256") {
        return Status::Invalid(where + ": unknown key '" + key + "' (expected name, role, sha256)");
      }
      if (!kv.second.IsScalar()) return Status::Invalid(where + "." + key + ": expected a string");
    }
    for (const char* key : {"name", "role", "sha256"}) {
      if (!entry[key]) return Status::Invalid(where + ": " + key + " is required");
    }
    const std::string name = entry["name"].Scalar();
    const std::string role = entry["role"].Scalar();
    std::string hash = entry["sha256"].Scalar();
    if (!std::regex_match(name, kName)) {
      return Status::Invalid(where + ".name: 1 to 64 of A-Z a-z 0-9 . _ @ -");
    }
    if (!names.insert(name).second) {
      return Status::Invalid(where + ".name: '" + name + "' is used twice");
    }
    auto r = kRoles.find(role);
    if (r == kRoles.end()) {
      return Status::Invalid(where + ".role: '" + role + "' is not reader, operator or admin");
    }
    if (!std::regex_match(hash, kHash)) {
      return Status::Invalid(where + ".sha256: expected 64 hex digits (sha256sum of the token)");
    }
    for (char& c : hash) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (table.count(hash)) return Status::Invalid(where + ".sha256: the same token twice");
    table[hash] = Principal{name, r->second};
  }
  return table;
}

Role RequiredRole(std::string_view method, std::string_view path, bool metrics_public) {
  if (path == "/healthz" || path == "/readyz") return Role::kNone;
  if (path == "/metrics") return metrics_public ? Role::kNone : Role::kReader;
  if (path == "/v1/services" || path.rfind("/v1/templates/validate", 0) == 0) {
    return Role::kAdmin;
  }
  if (method == "GET" || method == "HEAD") return Role::kReader;
  if (method == "POST") {
    static const std::regex kOperatorRoutes(
        R"(/v1/requests(/[^/]+/(cancel|rerun|tasks/[^/]+/signal))?)");
    std::match_results<std::string_view::const_iterator> m;
    if (std::regex_match(path.begin(), path.end(), m, kOperatorRoutes)) return Role::kOperator;
  }
  // Anything else ends in 404 or 405; a reader may learn that.
  return Role::kReader;
}

TokenFile::TokenFile(std::string path) : path_(std::move(path)) {}

Status TokenFile::Load() {
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0) {
    return Status::Invalid("api.tokens_file: cannot read " + path_ + ": " + std::strerror(errno));
  }
  std::ifstream in(path_);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return Status::Invalid("api.tokens_file: cannot read " + path_);
  auto table = ParseTokens(text.str());
  if (!table.ok()) return Status::Invalid(path_ + ": " + table.status().message());
  std::lock_guard<std::mutex> lock(mu_);
  table_ = std::move(*table);
  mtime_ = st.st_mtim;
  size_ = st.st_size;
  next_check_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  return Status::Ok();
}

void TokenFile::MaybeReload() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (now < next_check_) return;
    next_check_ = now + std::chrono::seconds(1);
    struct stat st {};
    if (stat(path_.c_str(), &st) != 0) return;  // keep the tokens we have
    if (st.st_mtim.tv_sec == mtime_.tv_sec && st.st_mtim.tv_nsec == mtime_.tv_nsec &&
        st.st_size == size_) {
      return;
    }
  }
  Status s = Load();
  if (s.ok()) {
    spdlog::info("api: tokens reloaded from {}", path_);
  } else {
    spdlog::error("api: keeping the previous tokens: {}", s.message());
    std::lock_guard<std::mutex> lock(mu_);
    // Do not retry a broken file every second until it changes again.
    struct stat st {};
    if (stat(path_.c_str(), &st) == 0) {
      mtime_ = st.st_mtim;
      size_ = st.st_size;
    }
  }
}

std::optional<Principal> TokenFile::Authenticate(std::string_view token) {
  if (token.empty()) return std::nullopt;
  MaybeReload();
  const std::string hash = Sha256Hex(token);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = table_.find(hash);
  if (it == table_.end()) return std::nullopt;
  return it->second;
}

}  // namespace wf
