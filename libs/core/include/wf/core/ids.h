// Identifiers: request ids and trace ids are random (version 4) UUIDs in canonical text
// form. Generation is thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace wf {

// A new random UUID, lower-case canonical form ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx").
std::string NewUuid();

// True when `s` is a canonical UUID (any version, either case).
bool IsUuid(std::string_view s);

}  // namespace wf
