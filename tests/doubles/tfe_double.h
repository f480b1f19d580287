// A double of the Terraform Enterprise / HCP Terraform API v2 (JSON:API documents):
// workspaces, configuration versions with an upload URL, runs that move through their
// statuses one step per GET, apply and cancel actions, and the current state version
// outputs. Checks the bearer token on every /api/v2 call (401 otherwise), and keeps the
// uploaded configuration archives, unpacked.
//
// Run statuses over successive GET /api/v2/runs/{id}:
//   pending -> planning -> planned (waits for apply) -> apply_queued -> applying -> applied
// with auto-apply planning goes straight to applying; without changes it ends
// planned_and_finished. Hold("planning") or Hold("applying") keeps runs there until
// Release().
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "double_server.h"

namespace wf::test {

class TfeDouble {
 public:
  explicit TfeDouble(std::string token = "tfe-test-token");

  std::string url() const { return http_.url(); }
  const std::string& token() const { return token_; }

  // A workspace `org`/`name` with id `id` ("ws-...").
  void AddWorkspace(const std::string& org, const std::string& name, const std::string& id);
  // Outputs of the workspace's current state version: name -> value.
  void SetStateOutputs(const std::string& workspace_id, const json& outputs);

  // Call names: workspace, create_cv, upload, get_cv, create_run, list_runs, get_run, apply,
  // cancel, outputs. The next `times` calls answer `status` with a JSON:API error.
  // "create_run_lost" creates the run, then answers the error.
  void Fail(const std::string& call, int status, int times = 1, const std::string& detail = "");
  // The next runs end `errored` at the plan ("plan") or at the apply ("apply").
  void ErrorRuns(const std::string& phase);
  // The status in which planned runs wait for their apply: "planned" (default), or
  // "cost_estimated" / "policy_checked" for workspaces with cost estimation or policies.
  void PlannedStatus(const std::string& status);
  // The next runs find no changes (planned_and_finished).
  void NoChanges(bool no_changes);
  // Keeps runs in `status` ("planning" or "applying") until Release().
  // Runs `fn` (on the server thread) each time a call of that name comes in.
  void OnCall(const std::string& call, std::function<void()> fn);
  void Hold(const std::string& status);
  void Release();
  // Forgets that a held job was seen, so that WaitHeld() waits for the next poll.
  void Rehold();
  // Waits until some run is held (a GET saw it in the held status); false on timeout.
  bool WaitHeld(std::chrono::milliseconds timeout);

  // Calls answered (failed ones included), by call name.
  int Count(const std::string& call);
  int RunsCreated() { return Count("create_run.ok"); }
  int Applies() { return Count("apply.ok"); }
  // The last POST /api/v2/runs document, and every run's status.
  json LastRunRequest();
  std::string RunStatus(const std::string& run_id);
  // The files of the archive uploaded to a configuration version.
  std::map<std::string, std::string> Uploaded(const std::string& cv_id);

 private:
  struct Run {
    std::string id, workspace_id, cv_id, status, message, error_phase;
    bool auto_apply = false;
    bool no_changes = false;
  };
  struct ConfigVersion {
    std::string id, workspace_id, status = "pending";
    int polls_after_upload = 0;
    std::map<std::string, std::string> files;
  };

  // Counts the call; answers an injected failure or a 401; true when answered.
  bool Enter(const std::string& call, const httplib::Request& req, httplib::Response& res);
  static void Reply(httplib::Response& res, int status, const json& doc);
  static void Error(httplib::Response& res, int status, const std::string& title,
                    const std::string& detail = "");
  json RunDoc(const Run& run) const;

  std::string token_;
  std::mutex mu_;
  std::condition_variable cv_;
  FailurePlan failures_;
  std::map<std::string, std::function<void()>> hooks_;
  std::map<std::string, int> counts_;
  std::map<std::string, std::string> workspaces_;  // "org/name" -> id
  std::map<std::string, json> outputs_;            // workspace id -> outputs
  std::map<std::string, ConfigVersion> cvs_;
  std::map<std::string, Run> runs_;
  std::vector<std::string> run_order_;
  json last_run_request_;
  std::string error_phase_;
  bool no_changes_ = false;
  std::string planned_status_ = "planned";
  std::string hold_;
  bool held_seen_ = false;
  int next_id_ = 0;
  LocalHttpServer http_;  // last: stopped first
};

}  // namespace wf::test
