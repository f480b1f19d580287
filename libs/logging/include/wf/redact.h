// Secret redaction for log lines and JSON documents.
//
// One process-wide redactor masks, in every log line before it leaves the process (the
// stderr and syslog sinks both call RedactLine()):
//   - secret values registered for the life of a request (ScopedSecrets), e.g. the values
//     of template inputs marked "x-secret": true; values shorter than kMinSecretBytes
//     bytes are not registered (masking every "1" would make logs useless);
//   - values of credential headers ("Authorization: …", "X-Api-Key: …", "Cookie: …") and
//     bearer/basic tokens;
//   - values of credential-like keys in JSON ("password": "…") and key=value text
//     (token=…): keys containing password, passwd, secret, token, api_key, apikey,
//     authorization, credential, private_key;
//   - the configured regex patterns (SetRedactPatterns): the whole match, or only the
//     capture groups when the pattern has some.
// Every masked value becomes "***". Everything here is thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "wf/core/json_path.h"
#include "wf/core/status.h"

namespace wf {

inline constexpr const char* kRedacted = "***";
inline constexpr size_t kMinSecretBytes = 4;

// Registers `values` as secrets while the object lives (the same value may be registered
// by several scopes; it stays secret until the last one ends).
class ScopedSecrets {
 public:
  ScopedSecrets() = default;
  explicit ScopedSecrets(std::vector<std::string> values);
  ~ScopedSecrets();
  ScopedSecrets(ScopedSecrets&& other) noexcept;
  ScopedSecrets& operator=(ScopedSecrets&& other) noexcept;
  ScopedSecrets(const ScopedSecrets&) = delete;
  ScopedSecrets& operator=(const ScopedSecrets&) = delete;

 private:
  std::vector<std::string> values_;
};

// Replaces the process's configured patterns (ECMAScript regex). An invalid pattern is an
// error naming its index ("redact_patterns[2]: …") and leaves the old set in place.
Status SetRedactPatterns(const std::vector<std::string>& patterns);

// `line` with every secret, credential and configured pattern masked.
std::string RedactLine(std::string_view line);

// The secret values of `data` according to the JSON Schema `schema`: the values at
// properties marked "x-secret": true (followed through "properties", "items" and
// "additionalProperties"). Scalars are returned as text (strings as they are), objects and
// arrays as every scalar below them.
std::vector<std::string> SecretValuesBySchema(const json& schema, const json& data);

// A copy of `data` with the values at secret schema paths replaced by "***".
json RedactBySchema(const json& schema, const json& data);

// A copy of `doc` in which every string containing one of `secrets` (of at least
// kMinSecretBytes bytes) has it replaced by "***"; keys are left alone.
json RedactValues(const json& doc, const std::vector<std::string>& secrets);

}  // namespace wf
