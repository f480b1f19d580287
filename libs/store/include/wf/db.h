// A small pool of PostgreSQL connections (libpqxx).
//
// Thread-safe: any thread may call Run(); each call gets a connection to itself for the
// duration of the callback. libpqxx exceptions never leave this class: they become a
// Status (kUnavailable for lost connections, which are then dropped and re-opened on the
// next use; kInternal for SQL errors).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "wf/core/status.h"

namespace pqxx {
class connection_base;
}

namespace wf {

class Database {
 public:
  // Does not connect yet; connections open on first use. `on_connect_sql` runs on every
  // new connection (session settings such as timeouts).
  Database(std::string url, size_t pool_size, std::string on_connect_sql = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Status Run(const std::function<void(pqxx::connection_base&)>& fn);

  // SELECT 1 on a pooled connection.
  Status Ping();

  const std::string& url() const { return url_; }

 private:
  struct Slot;
  std::string url_;
  std::string on_connect_sql_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Slot>> free_;
};

// Runs the embedded migrations that have not run yet, in order, each in its own
// transaction, under an advisory lock so that concurrent starters do not race.
Status Migrate(Database& db);

// Masks the password in a connection URL for logging.
std::string RedactUrl(const std::string& url);

}  // namespace wf
