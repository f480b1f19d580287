#include <pqxx/pqxx>

#include "wf/db.h"
#include "wf_migrations.h"  // generated: kMigrations[] = {{version, name, sql}, ...}

namespace wf {

Status Migrate(Database& db) {
  return db.Run([](pqxx::connection_base& c) {
    {
      pqxx::work tx(c);
      tx.exec("SELECT pg_advisory_xact_lock(7171717)");
      tx.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version integer PRIMARY KEY, name text NOT NULL,"
          " applied_at timestamptz NOT NULL DEFAULT now())");
      tx.commit();
    }
    for (const auto& m : kMigrations) {
      pqxx::work tx(c);
      tx.exec("SELECT pg_advisory_xact_lock(7171717)");
      auto done = tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", m.version);
      if (!done.empty()) continue;
      tx.exec(m.sql);
      tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                     std::string(m.name));
      tx.commit();
    }
  });
}

}  // namespace wf
