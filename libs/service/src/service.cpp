#include "wf/service.h"

#include "wf/plugin.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <thread>

#include "wf/logging.h"
#include "wf/redact.h"

namespace wf {

const char* Version() { return WF_VERSION; }

ServiceInit InitService(const std::string& name, int argc, char** argv,
                        const std::vector<ServiceOption>& options) {
  ServiceInit out;
  // Stop signals are taken by WaitForStopSignal(); every thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string settings = "\nSettings (YAML key / environment variable / default):\n";
  for (const auto& k : ConfigKeys()) {
    settings += "  " + k.key + " / " + k.env + " / " +
                (k.default_value.empty() ? "\"\"" : k.default_value) + "\n      " + k.help + "\n";
  }
  CLI::App app{name + " " + Version()};
  app.footer(settings);
  std::string config_path;
  bool version = false;
  app.add_option("-c,--config", config_path, "YAML configuration file")->check(CLI::ExistingFile);
  app.add_flag("--version", version, "print the version and exit");
  for (const auto& o : options) app.add_option(o.flag, *o.value, o.help);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    out.exit_code = app.exit(e);
    out.exit_now = true;
    return out;
  }
  if (version) {
    std::cout << name << " " << Version() << "\n";
    out.exit_now = true;
    return out;
  }
  auto config = LoadConfig(config_path, ProcessEnvironment());
  if (!config.ok()) {
    std::cerr << name << ": configuration error: " << config.status().message() << "\n";
    out.exit_code = 2;
    out.exit_now = true;
    return out;
  }
  out.config = *config;
  std::string error;
  const Config::Logging& lc = out.config.logging;
  Status patterns = SetRedactPatterns(lc.redact_patterns);
  if (!patterns.ok()) {
    std::cerr << name << ": configuration error: logging." << patterns.message() << "\n";
    out.exit_code = 2;
    out.exit_now = true;
    return out;
  }
  LogShipOptions ship;
  ship.url = lc.syslog_url;
  ship.queue = static_cast<size_t>(lc.syslog_queue);
  ship.max_message_bytes = static_cast<size_t>(lc.syslog_max_message_bytes);
  auto facility = ParseSyslogFacility(lc.syslog_facility);  // checked by LoadConfig
  ship.facility = facility.ok() ? *facility : 1;
  ship.send_timeout_ms = lc.syslog_send_timeout_ms;
  if (!InitLogging(name, out.config.log_level, &error, ship)) {
    std::cerr << name << ": configuration error: " << error << "\n";
    out.exit_code = 2;
    out.exit_now = true;
  }
  if (!lc.syslog_url.empty()) {
    spdlog::info("shipping log lines to {} (queue {})", lc.syslog_url, lc.syslog_queue);
  }
  return out;
}

Status MigrateWithRetry(Database& db, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int backoff_ms = 100;
  while (true) {
    Status s = Migrate(db);
    if (s.ok() || s.code() != StatusCode::kUnavailable ||
        std::chrono::steady_clock::now() >= deadline) {
      return s;
    }
    spdlog::warn("database not reachable yet ({}); retrying in {} ms", s.message(), backoff_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 2000);
  }
}

void StopService(int drain_ms) {
  StopLogShipping(drain_ms);
  spdlog::shutdown();
}

int WaitForStopSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

void LoadTaskPlugins(const Config& config, TaskRegistry* registry) {
  for (const auto& r : LoadPlugins(config.plugins_dir, registry)) {
    if (r.loaded) {
      std::string types;
      for (const auto& t : r.types) types += (types.empty() ? "" : ", ") + t;
      spdlog::info("plugin {} {} ({}): task types {}", r.name, r.version, r.file, types);
    } else {
      spdlog::error("plugin {} skipped: {}", r.file, r.error);
    }
  }
}

}  // namespace wf
