// wf-engine: claims requests and runs their DAGs. Wires the libraries together.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "builtin.h"
#include "wf/callback_sender.h"
#include "wf/db.h"
#include "wf/engine.h"
#include "wf/presence.h"
#include "wf/redis.h"
#include "wf/secrets.h"
#include "wf/service.h"
#include "wf/signal_task.h"
#include "wf/template_catalog.h"
#include "wf/workflow_task.h"

int main(int argc, char** argv) {
  wf::ServiceInit init = wf::InitService("wf-engine", argc, argv);
  if (init.exit_now) return init.exit_code;
  const wf::Config& config = init.config;

  wf::TaskRegistry registry;
  wf::RegisterBuiltinTasks(&registry);
  // An engine paused inside a transaction (SIGSTOP, a VM freeze) must not keep its rows
  // locked past its lease: every transaction here takes milliseconds, so the server may
  // end a session that sits idle inside one for half a lease.
  wf::Database db(config.database_url, config.engine.committers + 3,
                  "SET idle_in_transaction_session_timeout = " +
                      std::to_string(std::max(1000, config.engine.lease_ms / 2)));
  spdlog::info("database {}", wf::RedactUrl(config.database_url));
  wf::Status migrated = wf::MigrateWithRetry(db, 60000);
  if (!migrated.ok()) {
    spdlog::critical("migrations failed: {}", migrated.ToString());
    return 1;
  }
  wf::Redis redis(config.redis_url, config.engine.workers + 2);
  // Child workflows find their templates in the folder; everything else runs with the
  // template version pinned in the database.
  wf::TemplateCatalog catalog(config.templates_dir, registry.Checker());
  wf::RequestStore store(db);
  wf::RegisterWorkflowTask(&registry, store, catalog);
  wf::RegisterSignalTask(&registry, store);
  wf::LoadTaskPlugins(config, &registry);
  catalog.Refresh();
  wf::Engine engine(config, registry, db, redis);
  auto secrets = wf::LoadSecrets(config.secrets_file, wf::ProcessEnvironment());
  if (!secrets.ok()) {
    spdlog::critical("{}", secrets.status().message());
    return 1;
  }
  if (!secrets->empty()) {
    std::string names;
    for (const auto& [name, _] : secrets->items()) names += (names.empty() ? "" : ", ") + name;
    spdlog::info("{} secrets: {}", secrets->size(), names);
  }
  engine.SetSecrets(std::make_shared<const nlohmann::json>(std::move(*secrets)));
  std::unique_ptr<wf::Database> callbacks_db;
  std::unique_ptr<wf::CallbackSender> callbacks;
  if (!config.callbacks.signing_key_file.empty()) {
    auto key = wf::LoadCallbackKey(config.callbacks.signing_key_file);
    if (!key.ok()) {
      spdlog::critical("{}", key.status().message());
      return 1;
    }
    // Its own small pool: a slow callback receiver never holds a connection the engine needs.
    callbacks_db = std::make_unique<wf::Database>(config.database_url, 2);
    callbacks = std::make_unique<wf::CallbackSender>(config.callbacks, std::move(*key),
                                                     *callbacks_db, engine.id());
  }
  wf::Presence presence(redis, "engine", engine.id(), wf::Version(), [&] {
    wf::EngineStats s = engine.Stats();
    return nlohmann::json{{"requests", s.requests},
                          {"running_tasks", s.running_tasks},
                          {"claimed", s.claimed},
                          {"finished", s.finished},
                          {"tasks_run", s.tasks_run},
                          {"lost_leases", s.lost_leases},
                          {"commit_batches", s.commit_batches},
                          {"commit_writes", s.commit_writes},
                          {"histograms", std::move(s.histograms)}};
  });
  engine.Start();
  presence.Start();
  if (callbacks) callbacks->Start();

  int sig = wf::WaitForStopSignal();
  spdlog::info("signal {}: stopping", sig);
  if (callbacks) callbacks->Stop();
  engine.Stop();
  presence.Stop();
  spdlog::info("stopped");
  wf::StopService();
  // Task invocations still running past the grace period are abandoned: their requests
  // were released and another engine re-invokes them.
  std::_Exit(0);
}
