#include "wf/template_catalog.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace wf {

TemplateCatalog::TemplateCatalog(std::string dir, TaskTypeChecker checker, int recheck_ms)
    : dir_(std::move(dir)), checker_(std::move(checker)), recheck_(recheck_ms) {}

void TemplateCatalog::Refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  RefreshLocked();
}

void TemplateCatalog::MaybeRefreshLocked() {
  if (!scanned_ || std::chrono::steady_clock::now() - last_scan_ >= recheck_) RefreshLocked();
}

void TemplateCatalog::RefreshLocked() {
  scanned_ = true;
  last_scan_ = std::chrono::steady_clock::now();
  std::map<std::string, std::string> stamps;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file() || it->path().extension() != ".json") continue;
    auto mtime = fs::last_write_time(it->path(), ec).time_since_epoch().count();
    stamps[it->path().filename().string()] =
        std::to_string(mtime) + "/" + std::to_string(it->file_size(ec));
  }
  if (ec) spdlog::warn("templates folder {}: {}", dir_, ec.message());
  for (auto it = files_.begin(); it != files_.end();) {
    it = stamps.count(it->first) ? std::next(it) : files_.erase(it);
  }
  for (const auto& [file, stamp] : stamps) {
    Entry& entry = files_[file];
    if (entry.stamp == stamp) continue;
    entry.stamp = stamp;
    entry.errors.clear();
    std::ifstream in(fs::path(dir_) / file);
    std::stringstream text;
    text << in.rdbuf();
    json doc = json::parse(text.str(), nullptr, false);
    if (doc.is_discarded()) {
      entry.errors.push_back({file, "", "not valid JSON"});
    } else {
      std::vector<TemplateError> errors;
      auto parsed = ParseTemplate(doc, checker_, &errors);
      std::string stem = fs::path(file).stem().string();
      if (parsed.ok() && (*parsed)->name != stem) {
        entry.errors.push_back(
            {file, "/name", "name '" + (*parsed)->name + "' does not match the file name"});
      } else if (parsed.ok()) {
        entry.tmpl = *parsed;
      }
      for (const auto& e : errors) entry.errors.push_back({file, e.path, e.message});
    }
    for (const auto& e : entry.errors) {
      spdlog::error("template {}: {}: {}", e.file, e.path.empty() ? "/" : e.path, e.message);
    }
    if (entry.errors.empty())
      spdlog::info("template {} loaded ({})", file, entry.tmpl->hash.substr(0, 12));
  }
}

std::shared_ptr<const Template> TemplateCatalog::Find(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  MaybeRefreshLocked();
  auto it = files_.find(name + ".json");
  return it == files_.end() ? nullptr : it->second.tmpl;
}

std::vector<std::shared_ptr<const Template>> TemplateCatalog::All() {
  std::lock_guard<std::mutex> lock(mu_);
  MaybeRefreshLocked();
  std::vector<std::shared_ptr<const Template>> out;
  for (const auto& [_, entry] : files_) {
    if (entry.tmpl) out.push_back(entry.tmpl);
  }
  return out;
}

std::vector<CatalogError> TemplateCatalog::Errors() {
  std::lock_guard<std::mutex> lock(mu_);
  MaybeRefreshLocked();
  std::vector<CatalogError> out;
  for (const auto& [_, entry] : files_)
    out.insert(out.end(), entry.errors.begin(), entry.errors.end());
  return out;
}

}  // namespace wf
