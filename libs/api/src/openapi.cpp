#include "wf/openapi.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <regex>

#include "wf_openapi_yaml.h"

namespace wf {
namespace {

using json = nlohmann::json;

const std::regex kYamlInt(R"([-+]?[0-9]+)");
const std::regex kYamlFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");

// A plain (unquoted) scalar by the YAML 1.2 core schema; .inf and .nan stay strings, as
// JSON has no such numbers.
json PlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (std::regex_match(s, kYamlInt)) {
    const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
    long long v = 0;
    auto [end, ec] = std::from_chars(begin, s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size()) return v;
    return std::strtod(s.c_str(), nullptr);  // out of range for an integer
  }
  if (std::regex_match(s, kYamlFloat)) return std::strtod(s.c_str(), nullptr);
  return s;
}

json Convert(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = Convert(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(Convert(item));
      return out;
    }
    case YAML::NodeType::Scalar:
      // "?" marks a plain scalar; quoted and block scalars are tagged "!".
      return node.Tag() == "?" ? PlainScalar(node.Scalar()) : json(node.Scalar());
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
    default:
      return nullptr;
  }
}

}  // namespace

json YamlToJson(const std::string& yaml) { return Convert(YAML::Load(yaml)); }

const json& OpenApiJson() {
  static const json doc = YamlToJson(kOpenApiYaml);
  return doc;
}

}  // namespace wf
