#include "wf/secrets.h"

#include <yaml-cpp/yaml.h>

#include <cctype>

namespace wf {
namespace {

constexpr const char* kEnvPrefix = "WF_SECRET_";

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<json> LoadSecrets(const std::string& path, const std::map<std::string, std::string>& env) {
  json out = json::object();
  if (!path.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
      // yaml-cpp's message quotes no content for parse errors: only the position.
      return Status::Invalid("secrets_file " + path + ": " + e.what());
    }
    if (!root.IsNull() && !root.IsMap()) {
      return Status::Invalid("secrets_file " + path + ": expected a mapping of name: value");
    }
    for (const auto& kv : root) {
      const std::string name = kv.first.as<std::string>();
      if (!ValidName(name)) {
        return Status::Invalid("secrets_file " + path + ": '" + name +
                               "' is not a secret name (1-64 of a-z, 0-9, _)");
      }
      if (!kv.second.IsScalar()) {
        return Status::Invalid("secrets_file " + path + ": " + name + ": expected a string");
      }
      out[name] = kv.second.as<std::string>();
    }
  }
  for (const auto& [key, value] : env) {
    if (key.rfind(kEnvPrefix, 0) != 0) continue;
    std::string name = key.substr(std::string(kEnvPrefix).size());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!ValidName(name)) {
      return Status::Invalid(key + ": not a secret name (WF_SECRET_ then 1-64 of A-Z, 0-9, _)");
    }
    out[name] = value;
  }
  return out;
}

}  // namespace wf
