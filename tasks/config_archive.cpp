#include "config_archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <system_error>

namespace wf {
namespace {

namespace fs = std::filesystem;

la_ssize_t AppendToString(struct archive*, void* out, const void* buffer, size_t length) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

Result<std::string> Write(const std::map<std::string, std::string>& files) {
  std::string out;
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_write_new(),
                                                              archive_write_free);
  std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> entry(archive_entry_new(),
                                                                               archive_entry_free);
  if (!a || !entry) return Status::Internal("building the archive: out of memory");
  auto fail = [&](const std::string& what) {
    return Status::Internal("building the archive: " + what + ": " +
                            (archive_error_string(a.get()) ? archive_error_string(a.get()) : "?"));
  };
  if (archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK) return fail("gzip");
  // No time in the gzip header either: the same files always give the same bytes.
  archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr);
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK) return fail("format");
  if (archive_write_open(a.get(), &out, nullptr, AppendToString, nullptr) != ARCHIVE_OK) {
    return fail("open");
  }
  for (const auto& [path, content] : files) {
    archive_entry_clear(entry.get());
    archive_entry_set_pathname(entry.get(), path.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(content.size()));
    archive_entry_set_mtime(entry.get(), 0, 0);
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) return fail(path);
    if (!content.empty() && archive_write_data(a.get(), content.data(), content.size()) !=
                                static_cast<la_ssize_t>(content.size())) {
      return fail(path);
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return fail("close");
  return out;
}

}  // namespace

std::string BadArchivePath(const std::string& path) {
  if (path.empty()) return "a file name must not be empty";
  if (path.front() == '/') return "must be a relative path";
  if (path.find('\0') != std::string::npos) return "must not contain NUL";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return "must not have empty, '.' or '..' components";
    }
    start = end + 1;
  }
  return "";
}

Result<std::string> TarGzFromFiles(const std::map<std::string, std::string>& files,
                                   size_t max_bytes) {
  size_t total = 0;
  for (const auto& [path, content] : files) {
    if (std::string why = BadArchivePath(path); !why.empty()) {
      return Status::Invalid("file '" + path + "': " + why);
    }
    total += content.size();
    if (total > max_bytes) {
      return Status::Invalid("the configuration is larger than " + std::to_string(max_bytes) +
                             " bytes");
    }
  }
  return Write(files);
}

Result<std::string> TarGzFromDirectory(const std::string& dir, size_t max_bytes) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::Invalid("'" + dir + "' is not a directory");
  std::map<std::string, std::string> files;
  size_t total = 0;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) return Status::Invalid("reading '" + dir + "': " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Status::Invalid("reading '" + dir + "': " + ec.message());
    const fs::directory_entry& e = *it;
    std::string name = e.path().filename().string();
    if (e.is_directory(ec) && !e.is_symlink(ec)) {
      if (name == ".git" || name == ".terraform") it.disable_recursion_pending();
      continue;
    }
    if (e.is_symlink(ec) || !e.is_regular_file(ec)) continue;
    std::string rel = fs::relative(e.path(), dir, ec).generic_string();
    if (ec) return Status::Invalid("reading '" + e.path().string() + "': " + ec.message());
    std::ifstream in(e.path(), std::ios::binary);
    if (!in.is_open()) return Status::Invalid("cannot read '" + e.path().string() + "'");
    std::ostringstream content;
    if (e.file_size(ec) > 0) content << in.rdbuf();
    if (in.bad()) return Status::Invalid("cannot read '" + e.path().string() + "'");
    total += content.str().size();
    if (total > max_bytes) {
      return Status::Invalid("the configuration in '" + dir + "' is larger than " +
                             std::to_string(max_bytes) + " bytes");
    }
    files[rel] = content.str();
  }
  return Write(files);
}

}  // namespace wf
