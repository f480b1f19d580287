// Builds the .tar.gz of a Terraform configuration that tfe_run uploads: from a directory
// on the engine's host, or from files given inline. The archive is deterministic (sorted
// entries, fixed times and owners), so building it again after a restart gives the same
// bytes. Pure functions over their arguments; thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "wf/core/status.h"

namespace wf {

// Largest archive input (the sum of the file sizes) accepted.
constexpr size_t kMaxConfigBytes = 64 << 20;

// `files`: relative path ("main.tf", "modules/net/main.tf") -> content. Paths must be
// relative, without "." or ".." components or empty components.
Result<std::string> TarGzFromFiles(const std::map<std::string, std::string>& files,
                                   size_t max_bytes = kMaxConfigBytes);

// Every regular file below `dir`, except the `.git` and `.terraform` directories.
// Symbolic links are not followed.
Result<std::string> TarGzFromDirectory(const std::string& dir, size_t max_bytes = kMaxConfigBytes);

// Checks one relative path as TarGzFromFiles does; "" when it is fine, else why not.
std::string BadArchivePath(const std::string& path);

}  // namespace wf
