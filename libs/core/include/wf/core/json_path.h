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

// Deepest nesting of arrays and objects in JSON text, counted without parsing (strings
// are skipped, escapes honoured); stops counting past `limit` and returns limit + 1. Lets
// a boundary refuse a document before a recursive parser sees it.
size_t JsonNestingDepth(std::string_view text, size_t limit);

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool IsValidUtf8(std::string_view text);

// Hex SHA-256 of the canonical (sorted keys, no whitespace) serialization of `value`.
std::string ContentHash(const json& value);

}  // namespace wf
