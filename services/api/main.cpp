// wf-api: the REST API process. Wires the libraries together; no logic of its own.
#include <spdlog/spdlog.h>

#include <thread>

#include "builtin.h"
#include "wf/api_server.h"
#include "wf/core/ids.h"
#include "wf/db.h"
#include "wf/log_shipping.h"
#include "wf/presence.h"
#include "wf/redis.h"
#include "wf/service.h"
#include "wf/signal_task.h"
#include "wf/template_catalog.h"
#include "wf/workflow_task.h"

int main(int argc, char** argv) {
  wf::ServiceInit init = wf::InitService("wf-api", argc, argv);
  if (init.exit_now) return init.exit_code;
  const wf::Config& config = init.config;

  wf::TaskRegistry registry;
  wf::RegisterBuiltinTasks(&registry);
  wf::Database db(config.database_url, config.database_pool);
  spdlog::info("database {}", wf::RedactUrl(config.database_url));
  wf::Status migrated = wf::MigrateWithRetry(db, 60000);
  if (!migrated.ok()) {
    spdlog::critical("migrations failed: {}", migrated.ToString());
    return 1;
  }
  wf::Redis redis(config.redis_url, 4);
  wf::TemplateCatalog catalog(config.templates_dir, registry.Checker());
  wf::RequestStore store(db);
  // Modules that need the store, registered here too so templates may use them.
  wf::RegisterWorkflowTask(&registry, store, catalog);
  wf::RegisterSignalTask(&registry, store);
  catalog.Refresh();
  wf::ApiServer server(config, db, redis, catalog);
  if (!server.Bind()) return 1;

  std::string id = "api-" + wf::NewUuid().substr(0, 8);
  wf::Presence presence(redis, "api", id, wf::Version(), [&] {
    return nlohmann::json{
        {"url", "http://" + config.api.host + ":" + std::to_string(config.api.port)}};
  });
  presence.Start();

  std::thread serving([&] { server.Serve(); });
  int sig = wf::WaitForStopSignal();
  spdlog::info("signal {}: stopping", sig);
  server.Stop();
  serving.join();
  presence.Stop();
  spdlog::info("stopped");
  wf::StopLogShipping();
  return 0;
}
