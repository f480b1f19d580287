// API authentication and authorisation: bearer tokens from a YAML file, stored hashed,
// each with a name and a role.
//
//   tokens:
//     - name: ci-bot            # recorded on the requests it submits; [A-Za-z0-9._@-], 1..64
//       role: operator          # reader | operator | admin
//       sha256: 9f86d08188...   # SHA-256 of the token, 64 hex digits
//
// Roles are ordered: reader < operator < admin. reader may read (GET); operator may also
// submit, re-run, cancel and signal; admin may do everything (template validation,
// services). RequiredRole() is the one place that maps routes to roles.
//
// TokenFile re-reads the file when it changes (checked at most once a second); a file
// that fails to load keeps the previous tokens and logs why. Thread-safe.
#pragma once

#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "wf/core/status.h"

namespace wf {

enum class Role { kNone = 0, kReader = 1, kOperator = 2, kAdmin = 3 };

const char* RoleName(Role role);

struct Principal {
  std::string name;
  Role role = Role::kNone;
};

// token SHA-256 (hex) -> principal.
using TokenTable = std::map<std::string, Principal>;

// Parses a tokens file's text. Errors name the entry, e.g. "tokens[2].role: ...".
Result<TokenTable> ParseTokens(const std::string& yaml_text);

// The role a route needs: kNone for the open ones (health, and metrics when public).
Role RequiredRole(std::string_view method, std::string_view path, bool metrics_public);

class TokenFile {
 public:
  explicit TokenFile(std::string path);

  // Loads the file; an error when it cannot be read or parsed (the start-up check).
  Status Load();
  // The principal a bearer token belongs to, or nullopt.
  std::optional<Principal> Authenticate(std::string_view token);

 private:
  void MaybeReload();

  const std::string path_;
  std::mutex mu_;
  TokenTable table_;
  std::chrono::steady_clock::time_point next_check_{};
  std::timespec mtime_{};
  off_t size_ = -1;
};

}  // namespace wf
