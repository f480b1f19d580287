// A double of the AWX / Ansible Tower API v2: job templates (listed by name), launch,
// jobs that move pending -> waiting -> running -> <outcome> one step per GET, job stdout
// as text, and cancel. Accepts a bearer token or HTTP basic user/password (401 otherwise).
// Hold() keeps jobs in "running" until Release().
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <string>

#include "double_server.h"

namespace wf::test {

class AwxDouble {
 public:
  AwxDouble(std::string token = "awx-test-token", std::string user = "admin",
            std::string password = "secret");

  std::string url() const { return http_.url(); }
  const std::string& token() const { return token_; }

  void AddTemplate(int id, const std::string& name);
  // How the next jobs end: "successful" (default), "failed", "error" or "canceled".
  void SetOutcome(const std::string& status);
  void SetArtifacts(const json& artifacts);
  void SetStdout(const std::string& text);
  // Call names: templates, launch, job, stdout, cancel. The next `times` calls answer
  // `status` with `body` (default: {"detail": "..."}).
  void Fail(const std::string& call, int status, int times = 1, const std::string& body = "");
  // Runs `fn` (on the server thread) each time a call of that name comes in.
  void OnCall(const std::string& call, std::function<void()> fn);
  void Hold();
  void Release();
  // Forgets that a held job was seen, so that WaitHeld() waits for the next poll.
  void Rehold();
  bool WaitHeld(std::chrono::milliseconds timeout);

  int Count(const std::string& call);
  int Launches() { return Count("launch.ok"); }
  json LastLaunchBody();
  std::string LastAuthorization();
  std::string JobStatus(int job_id);

 private:
  struct Job {
    int id = 0;
    int template_id = 0;
    std::string status = "pending";
    std::string outcome;
    json extra_vars;
  };
  bool Enter(const std::string& call, const httplib::Request& req, httplib::Response& res);
  static void Reply(httplib::Response& res, int status, const json& doc);

  std::string token_, user_, password_;
  std::mutex mu_;
  std::condition_variable cv_;
  FailurePlan failures_;
  std::map<std::string, std::function<void()>> hooks_;
  std::map<std::string, int> counts_;
  std::map<int, std::string> templates_;
  std::map<int, Job> jobs_;
  std::string outcome_ = "successful";
  json artifacts_ = json::object();
  std::string stdout_ = "PLAY [all] ****\n\nPLAY RECAP ****\n";
  json last_launch_;
  std::string last_auth_;
  bool hold_ = false;
  bool held_seen_ = false;
  int next_job_ = 100;
  LocalHttpServer http_;  // last: stopped first
};

}  // namespace wf::test
