// Task modules from shared libraries: out-of-tree modules an operator drops into the
// plugins directory (`plugins_dir`), loaded by wf-engine (which runs them) and wf-api
// (which validates templates against them) at start.
//
// A plugin is a shared library that defines, once, with the WF_PLUGIN macro:
//
//   #include "wf/plugin.h"
//   void RegisterMyTasks(wf::TaskRegistry* registry) {
//     registry->Register("my_task", std::make_unique<MyTask>());
//   }
//   WF_PLUGIN("my-plugin", "1.0.0", RegisterMyTasks)
//
// The entry point is the C symbol `wf_plugin_info`. Modules cross the library boundary as
// C++ objects (wf::Task, nlohmann::json, spdlog), so a plugin must be built against the
// same wf headers and the same libraries: the info carries WF_PLUGIN_ABI_VERSION and a
// build signature (wf ABI, libstdc++ string ABI, nlohmann-json and spdlog versions), and a
// plugin whose signature differs from the host's is refused. Symbols of the wf libraries
// (RequireString, JsonPathJoin, ...) resolve against the host process, which exports them.
//
// Loading never takes the host down: each plugin is first loaded and registered in a
// child process (fork), so a plugin that crashes, hangs or throws while loading is
// reported and skipped; only then is it loaded for real. A plugin may not replace a type
// that is already registered (built-in or from an earlier plugin, in file name order).
#pragma once

#include <spdlog/version.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "wf/task.h"

// Bumped whenever wf::Task, wf::TaskContext, wf::TaskOutcome or wf::TaskState change.
#define WF_PLUGIN_ABI_VERSION 1

#define WF_PLUGIN_STR2(x) #x
#define WF_PLUGIN_STR(x) WF_PLUGIN_STR2(x)
// What must match between a plugin and the process loading it.
#define WF_PLUGIN_BUILD_SIGNATURE \
  "wf-abi=" WF_PLUGIN_STR(WF_PLUGIN_ABI_VERSION) ";cxx11-abi=" WF_PLUGIN_STR(         \
      _GLIBCXX_USE_CXX11_ABI) ";nlohmann-json=" WF_PLUGIN_STR(NLOHMANN_JSON_VERSION_MAJOR) "." \
      WF_PLUGIN_STR(NLOHMANN_JSON_VERSION_MINOR) ";spdlog=" WF_PLUGIN_STR(                    \
          SPDLOG_VER_MAJOR) "." WF_PLUGIN_STR(SPDLOG_VER_MINOR)

extern "C" {
struct WfPluginInfo {
  int abi_version;              // WF_PLUGIN_ABI_VERSION the plugin was built with
  const char* build_signature;  // WF_PLUGIN_BUILD_SIGNATURE the plugin was built with
  const char* name;             // the plugin's name, for logs
  const char* version;          // the plugin's own version, for logs
  void (*register_tasks)(wf::TaskRegistry* registry);
};
}

#define WF_PLUGIN(plugin_name, plugin_version, register_fn)                                \
  extern "C" __attribute__((visibility("default"))) const WfPluginInfo* wf_plugin_info() { \
    static const WfPluginInfo info = {WF_PLUGIN_ABI_VERSION, WF_PLUGIN_BUILD_SIGNATURE,    \
                                      plugin_name, plugin_version, register_fn};           \
    return &info;                                                                          \
  }

namespace wf {

// What happened to one plugin file.
struct PluginReport {
  std::string file;  // path of the shared library
  bool loaded = false;
  std::string name, version;       // from its info, when it has one
  std::vector<std::string> types;  // task types it registered
  std::string error;               // why it was skipped
};

// Loads every `*.so` file of `dir` in file name order into `registry`. An empty `dir`
// loads nothing; a directory that cannot be read gives one report with the error. Call at
// start-up, before other threads exist (it forks).
// A plugin that has not loaded in its child process after `probe_timeout_ms` is skipped.
std::vector<PluginReport> LoadPlugins(const std::string& dir, TaskRegistry* registry,
                                      int probe_timeout_ms = 10000);

}  // namespace wf
