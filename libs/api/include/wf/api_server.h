// The REST API (v1, JSON) on cpp-httplib.
//
// Submits requests (validated against the template catalog, written to PostgreSQL, which
// notifies the engines), and reads requests, their tasks, templates and live services.
// Every error answer is {"error": {"code", "message", "path"?}}. Callers authenticate with
// bearer tokens (wf/auth.h) unless auth is disabled. The server runs its own
// thread pool; Start() blocks until Stop() is called from another thread.
#pragma once

#include <memory>
#include <string>

#include "wf/config.h"
#include "wf/task.h"

namespace wf {

class Database;
class Redis;
class TemplateCatalog;
class TokenFile;

class ApiServer {
 public:
  // `tokens` authenticates callers (see wf/auth.h); null disables auth (every caller is an
  // anonymous admin).
  ApiServer(const Config& config, Database& db, Redis& redis, TemplateCatalog& catalog,
            TokenFile* tokens);
  ~ApiServer();

  // Binds config.api.host:port; false (with a logged reason) when it cannot.
  bool Bind();
  // Serves until Stop().
  void Serve();
  void Stop();
  int port() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wf
