// The OpenAPI description of the REST API (docs/openapi.yaml, embedded at build time).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace wf {

// The document as JSON, converted from the embedded YAML at first use (thread-safe).
const nlohmann::json& OpenApiJson();

// YAML text to JSON: mappings and sequences as such, map keys as strings, plain scalars
// that are YAML 1.2 core-schema nulls, booleans, integers or floats as JSON null, booleans
// and numbers, every other scalar (quoted, block, other plain text) as a string. Throws
// YAML::Exception on malformed YAML.
nlohmann::json YamlToJson(const std::string& yaml);

}  // namespace wf
