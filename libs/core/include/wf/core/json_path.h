// JSON pointer (RFC 6901) helpers used to say *where* in a document an error is.
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace wf {

using json = nlohmann::json;

// Appends one reference token to a JSON pointer, escaping '~' and '/'.
std::string JsonPathJoin(std::string_view base, std::string_view token);
std::string JsonPathJoin(std::string_view base, size_t index);

// A short description of a JSON value's type ("object", "array", "string", ...).
const char* JsonTypeName(const json& value);

// Hex SHA-256 of the canonical (sorted keys, no whitespace) serialization of `value`.
std::string ContentHash(const json& value);

}  // namespace wf
