// Test doubles of outside HTTP APIs that the tests cannot run for real (Terraform
// Enterprise, AWX). Each double is a cpp-httplib server on a free 127.0.0.1 port, started
// by its constructor and stopped by its destructor, that follows the documented shapes of
// the real API closely enough for the task modules to be tested against it, counts the
// calls it gets, and can be told to fail a call. Thread-safe: the server threads and the
// test thread share a mutex.
#pragma once

#include <httplib.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace wf::test {

using json = nlohmann::json;

// An httplib server on a free loopback port, listening from Start() to the destructor:
// for test doubles of outside APIs and for the stand-in servers tasks call in tests.
// Register handlers on server() before Start().
class LocalHttpServer {
 public:
  LocalHttpServer();
  ~LocalHttpServer();
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  httplib::Server& server() { return server_; }
  void Start();
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

// Failures to inject, by call name: the next `times` calls of that name answer `status`.
class FailurePlan {
 public:
  void Add(const std::string& call, int status, int times, std::string body);
  // When the call is to fail: sets the response and returns true.
  bool Take(const std::string& call, httplib::Response& res);

 private:
  struct Failure {
    int status;
    int times;
    std::string body;
  };
  std::map<std::string, Failure> failures_;
};

}  // namespace wf::test
