// A small pool of Redis connections (hiredis), addressed by URL redis://host:port[/db].
//
// Thread-safe: Command() borrows a connection for one round trip. A connection that fails
// is dropped and re-opened on the next call; the failure is returned as kUnavailable.
// Every connection has connect and command timeouts.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "wf/core/status.h"

namespace wf {

struct RedisReply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus };
  Type type = Type::kNil;
  std::string str;
  long long integer = 0;
  std::vector<RedisReply> elements;
};

class Redis {
 public:
  Redis(std::string url, size_t pool_size = 4, int timeout_ms = 2000);
  ~Redis();
  Redis(const Redis&) = delete;
  Redis& operator=(const Redis&) = delete;

  // Sends one command (binary-safe arguments). A Redis error reply is kInternal.
  Result<RedisReply> Command(const std::vector<std::string>& argv);

  const std::string& url() const { return url_; }

 private:
  struct Conn;
  Result<Conn*> Connect(Conn* c);
  std::string url_;
  std::string host_ = "127.0.0.1";
  int port_ = 6379;
  int db_ = 0;
  int timeout_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> free_;
};

}  // namespace wf
