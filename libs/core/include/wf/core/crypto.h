// Hashes and MACs over OpenSSL, as lower-case hex. Pure functions: thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace wf {

// Lower-case hex of `bytes`.
std::string HexEncode(std::string_view bytes);

// Standard base64 (RFC 4648, with padding) of `bytes`.
std::string Base64Encode(std::string_view bytes);

// SHA-256 of `data`, as 64 lower-case hex digits.
std::string Sha256Hex(std::string_view data);

// HMAC-SHA256 of `data` under `key`, as 64 lower-case hex digits.
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// Compares two strings in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// `bytes` random bytes from the OpenSSL CSPRNG, as hex (2 * bytes digits).
std::string RandomHex(size_t bytes);

}  // namespace wf
