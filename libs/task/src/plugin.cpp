#include "wf/plugin.h"

#include <dlfcn.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

namespace fs = std::filesystem;

namespace wf {
namespace {

// Opens `path`, checks its info and registers its modules into a scratch registry. On
// success `*handle` holds the open library and `*scratch` its modules; otherwise returns
// why (and closes the library).
std::string Open(const std::string& path, const TaskRegistry& host, void** handle,
                 TaskRegistry* scratch, PluginReport* report) {
  *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!*handle) {
    const char* e = dlerror();
    return std::string("cannot load: ") + (e ? e : "unknown error");
  }
  auto fail = [&](std::string why) {
    *scratch = TaskRegistry();  // its modules' code lives in the library: destroy them first
    dlclose(*handle);
    *handle = nullptr;
    return why;
  };
  using InfoFn = const WfPluginInfo* (*)();
  auto info_fn = reinterpret_cast<InfoFn>(dlsym(*handle, "wf_plugin_info"));
  if (!info_fn) return fail("no wf_plugin_info symbol: not a wf plugin (see WF_PLUGIN)");
  const WfPluginInfo* info = info_fn();
  if (!info) return fail("wf_plugin_info returned null");
  if (info->abi_version != WF_PLUGIN_ABI_VERSION) {
    return fail("built for plugin ABI " + std::to_string(info->abi_version) + ", this is " +
                std::to_string(WF_PLUGIN_ABI_VERSION) + ": rebuild it against these headers");
  }
  const std::string signature = info->build_signature ? info->build_signature : "";
  if (signature != WF_PLUGIN_BUILD_SIGNATURE) {
    return fail("built with '" + signature +
                "', this process has '" WF_PLUGIN_BUILD_SIGNATURE
                "': rebuild it against the same libraries");
  }
  report->name = info->name ? info->name : "";
  report->version = info->version ? info->version : "";
  if (!info->register_tasks) return fail("its info has no register_tasks function");
  try {
    info->register_tasks(scratch);
  } catch (const std::exception& e) {
    return fail(std::string("registering its tasks threw: ") + e.what());
  } catch (...) {
    return fail("registering its tasks threw a non-standard exception");
  }
  std::vector<std::string> types = scratch->Types();
  if (types.empty()) return fail("it registered no task type");
  for (const auto& t : types) {
    if (host.Find(t)) return fail("task type '" + t + "' is registered already");
  }
  report->types = types;
  return "";
}

// Loads the plugin in a child process first: a plugin that crashes, hangs or fails there
// never touches this one. Returns "" when the child loaded it cleanly.
std::string Probe(const std::string& path, const TaskRegistry& host, int timeout_ms) {
  int fds[2];
  if (pipe(fds) != 0) return std::string("pipe: ") + strerror(errno);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return std::string("fork: ") + strerror(errno);
  }
  if (pid == 0) {
    close(fds[0]);
    void* handle = nullptr;
    TaskRegistry scratch;
    PluginReport ignored;
    std::string error = Open(path, host, &handle, &scratch, &ignored);
    size_t off = 0;
    while (off < error.size()) {
      ssize_t n = write(fds[1], error.data() + off, error.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    _exit(error.empty() ? 0 : 3);
  }
  close(fds[1]);
  std::string error;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      timed_out = r == 0;
      break;
    }
    char buf[512];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end: it has exited
    if (error.size() < 4096) error.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return "loading it did not finish within " + std::to_string(timeout_ms) + " ms";
  }
  if (WIFSIGNALED(status)) {
    return "loading it crashed (signal " + std::to_string(WTERMSIG(status)) + ", " +
           strsignal(WTERMSIG(status)) + ")";
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return error.empty() ? "loading it failed (exit " + std::to_string(WEXITSTATUS(status)) + ")"
                       : error;
}

}  // namespace

std::vector<PluginReport> LoadPlugins(const std::string& dir, TaskRegistry* registry,
                                      int probe_timeout_ms) {
  std::vector<PluginReport> reports;
  if (dir.empty()) return reports;
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".so" && it->is_regular_file(ec)) {
      files.push_back(it->path().string());
    }
  }
  if (ec) {
    PluginReport r;
    r.file = dir;
    r.error = "cannot read the plugins directory: " + ec.message();
    reports.push_back(r);
    return reports;
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    PluginReport report;
    report.file = file;
    report.error = Probe(file, *registry, probe_timeout_ms);
    if (report.error.empty()) {
      void* handle = nullptr;
      TaskRegistry scratch;
      report.error = Open(file, *registry, &handle, &scratch, &report);
      if (report.error.empty()) {
        Status merged = registry->Merge(std::move(scratch));
        report.loaded = merged.ok();
        if (!merged.ok()) report.error = merged.message();
        // The library stays loaded for the life of the process: its modules live in it.
      }
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace wf
