// The templates folder: every "<name>.json" file in it, parsed and validated.
//
// Files are re-read when they change (checked at most once per `recheck_ms`), so a new
// or edited template is picked up without a restart. A file that does not parse or
// validate is reported in Errors() with its file name, JSON path and reason, and never
// affects the other templates; an edited file that became invalid keeps serving its last
// valid version until fixed. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "wf/core/template.h"

namespace wf {

struct CatalogError {
  std::string file;
  std::string path;
  std::string message;
};

class TemplateCatalog {
 public:
  // Reads nothing yet: the folder is read on the first lookup or Refresh(), so the task
  // registry behind `checker` can be completed first.
  TemplateCatalog(std::string dir, TaskTypeChecker checker, int recheck_ms = 1000);

  // Re-reads changed files now.
  void Refresh();
  std::shared_ptr<const Template> Find(const std::string& name);
  std::vector<std::shared_ptr<const Template>> All();
  std::vector<CatalogError> Errors();
  const std::string& dir() const { return dir_; }
  // The task-type check templates are validated with (fixed at construction).
  const TaskTypeChecker& checker() const { return checker_; }

 private:
  struct Entry {
    std::string stamp;  // mtime + size of the file last read
    std::shared_ptr<const Template> tmpl;
    std::vector<CatalogError> errors;
  };
  void MaybeRefreshLocked();
  void RefreshLocked();

  std::string dir_;
  TaskTypeChecker checker_;
  std::chrono::milliseconds recheck_;
  std::mutex mu_;
  bool scanned_ = false;  // the first use scans, however young the steady clock is
  std::chrono::steady_clock::time_point last_scan_{};
  std::map<std::string, Entry> files_;  // by file name
};

}  // namespace wf
