// wf-engine: claims requests and runs their DAGs. Wires the libraries together.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "builtin.h"
#include "wf/db.h"
#include "wf/engine.h"
#include "wf/log_shipping.h"
#include "wf/presence.h"
#include "wf/redis.h"
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
  catalog.Refresh();
  wf::Engine engine(config, registry, db, redis);
  wf::Presence presence(redis, "engine", engine.id(), wf::Version(), [&] {
    wf::EngineStats s = engine.Stats();
    return nlohmann::json{{"requests", s.requests},
                          {"running_tasks", s.running_tasks},
                          {"claimed", s.claimed},
                          {"finished", s.finished},
                          {"tasks_run", s.tasks_run},
                          {"lost_leases", s.lost_leases},
                          {"commit_batches", s.commit_batches},
                          {"commit_writes", s.commit_writes}};
  });
  engine.Start();
  presence.Start();

  int sig = wf::WaitForStopSignal();
  spdlog::info("signal {}: stopping", sig);
  engine.Stop();
  presence.Stop();
  spdlog::info("stopped");
  wf::StopLogShipping();
  spdlog::shutdown();
  // Task invocations still running past the grace period are abandoned: their requests
  // were released and another engine re-invokes them.
  std::_Exit(0);
}
