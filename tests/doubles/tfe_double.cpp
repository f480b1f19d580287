#include "tfe_double.h"

#include <archive.h>
#include <archive_entry.h>

namespace wf::test {
namespace {

constexpr const char* kJsonApi = "application/vnd.api+json";

// Unpacks a .tar.gz; false when it is not one.
bool Untar(const std::string& bytes, std::map<std::string, std::string>* files) {
  struct archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  bool ok = archive_read_open_memory(a, bytes.data(), bytes.size()) == ARCHIVE_OK;
  struct archive_entry* entry = nullptr;
  while (ok) {
    int r = archive_read_next_header(a, &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) {
      ok = false;
      break;
    }
    std::string content;
    char buf[8192];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) content.append(buf, n);
    if (n < 0) ok = false;
    (*files)[archive_entry_pathname(entry)] = content;
  }
  archive_read_free(a);
  return ok;
}

}  // namespace

TfeDouble::TfeDouble(std::string token) : token_(std::move(token)) {
  auto& s = http_.server();
  s.Get(R"(/api/v2/organizations/([^/]+)/workspaces/([^/]+))", [this](const auto& req, auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Enter("workspace", req, res)) return;
    auto it = workspaces_.find(std::string(req.matches[1]) + "/" + std::string(req.matches[2]));
    if (it == workspaces_.end()) return Error(res, 404, "not found");
    Reply(res, 200,
          {{"data",
            {{"id", it->second},
             {"type", "workspaces"},
             {"attributes", {{"name", req.matches[2]}}},
             {"links", {{"self", "/api/v2/workspaces/" + it->second}}}}}});
  });
  s.Post(
      R"(/api/v2/workspaces/([^/]+)/configuration-versions)", [this](const auto& req, auto& res) {
        std::lock_guard<std::mutex> lock(mu_);
        if (Enter("create_cv", req, res)) return;
        std::string ws = req.matches[1];
        bool known = false;
        for (const auto& [_, id] : workspaces_) known = known || id == ws;
        if (!known) return Error(res, 404, "not found");
        json doc = json::parse(req.body, nullptr, false);
        if (doc.is_discarded() || doc["data"]["type"] != "configuration-versions") {
          return Error(res, 422, "invalid attribute", "data.type must be configuration-versions");
        }
        ConfigVersion cv;
        cv.id = "cv-" + std::to_string(++next_id_);
        cv.workspace_id = ws;
        cvs_[cv.id] = cv;
        counts_["create_cv.ok"]++;
        Reply(res, 201,
              {{"data",
                {{"id", cv.id},
                 {"type", "configuration-versions"},
                 {"attributes",
                  {{"status", "pending"},
                   {"auto-queue-runs", doc["data"]["attributes"].value("auto-queue-runs", true)},
                   {"upload-url", url() + "/_archivist/v1/object/" + cv.id}}},
                 {"links", {{"self", "/api/v2/configuration-versions/" + cv.id}}}}}});
      });
  s.Put(R"(/_archivist/v1/object/([^/]+))", [this](const auto& req, auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    counts_["upload"]++;
    if (failures_.Take("upload", res)) return;
    if (!req.get_header_value("Authorization").empty()) {
      res.status = 400;  // the upload URL is pre-authorized; a token here would leak it
      return;
    }
    auto it = cvs_.find(req.matches[1]);
    if (it == cvs_.end()) {
      res.status = 404;
      return;
    }
    std::map<std::string, std::string> files;
    if (!Untar(req.body, &files)) {
      it->second.status = "errored";
    } else {
      it->second.files = std::move(files);
    }
    it->second.polls_after_upload = 0;
    if (it->second.status == "pending") it->second.status = "uploading";
    res.status = 200;
  });
  s.Get(R"(/api/v2/configuration-versions/([^/]+))", [this](const auto& req, auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Enter("get_cv", req, res)) return;
    auto it = cvs_.find(req.matches[1]);
    if (it == cvs_.end()) return Error(res, 404, "not found");
    ConfigVersion& cv = it->second;
    // Ingesting takes one more GET after the upload.
    if (cv.status == "uploading" && ++cv.polls_after_upload >= 2) cv.status = "uploaded";
    std::string shown = cv.status == "uploading" ? "pending" : cv.status;
    json attributes = {{"status", shown}};
    if (shown == "errored") attributes["error-message"] = "the upload is not a .tar.gz";
    Reply(res, 200,
          {{"data",
            {{"id", cv.id}, {"type", "configuration-versions"}, {"attributes", attributes}}}});
  });
  s.Post("/api/v2/runs", [this](const auto& req, auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Enter("create_run", req, res)) return;
    json doc = json::parse(req.body, nullptr, false);
    if (doc.is_discarded() || !doc.contains("data") || doc["data"]["type"] != "runs") {
      return Error(res, 422, "invalid attribute", "data.type must be runs");
    }
    last_run_request_ = doc;
    const json& data = doc["data"];
    Run run;
    run.id = "run-" + std::to_string(++next_id_);
    run.workspace_id = data.value("/relationships/workspace/data/id"_json_pointer, std::string());
    run.cv_id =
        data.value("/relationships/configuration-version/data/id"_json_pointer, std::string());
    bool known = false;
    for (const auto& [_, id] : workspaces_) known = known || id == run.workspace_id;
    if (!known) return Error(res, 404, "not found", "workspace " + run.workspace_id);
    if (!run.cv_id.empty()) {
      auto it = cvs_.find(run.cv_id);
      if (it == cvs_.end() || it->second.status != "uploaded") {
        return Error(res, 422, "invalid attribute",
                     "configuration version " + run.cv_id + " is not uploaded");
      }
    }
    if (auto vars = data.find("attributes"); vars != data.end() && vars->contains("variables")) {
      for (const auto& v : (*vars)["variables"]) {
        if (!v.contains("key") || !v["value"].is_string()) {
          return Error(res, 422, "invalid attribute", "variables need a key and a string value");
        }
      }
    }
    run.status = "pending";
    run.message = data.value("/attributes/message"_json_pointer, std::string());
    run.auto_apply = data.value("/attributes/auto-apply"_json_pointer, false);
    run.error_phase = error_phase_;
    run.no_changes = no_changes_;
    runs_[run.id] = run;
    run_order_.push_back(run.id);
    counts_["create_run.ok"]++;
    // "create_run_lost": the run is created but its answer fails (a proxy's 502, say).
    if (failures_.Take("create_run_lost", res)) return;
    Reply(res, 201, {{"data", RunDoc(run)}});
  });
  s.Get(R"(/api/v2/workspaces/([^/]+)/runs)", [this](const auto& req, auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Enter("list_runs", req, res)) return;
    json list = json::array();
    for (auto it = run_order_.rbegin(); it != run_order_.rend(); ++it) {
      const Run& run = runs_[*it];
      if (run.workspace_id == req.matches[1]) list.push_back(RunDoc(run));
    }
    Reply(res, 200, {{"data", list}, {"meta", {{"pagination", {{"total-count", list.size()}}}}}});
  });
  s.Get(R"(/api/v2/runs/([^/]+))", [this](const auto& req, auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Enter("get_run", req, res)) return;
    auto it = runs_.find(req.matches[1]);
    if (it == runs_.end()) return Error(res, 404, "not found");
    Run& run = it->second;
    if (!hold_.empty() && run.status == hold_) {
      held_seen_ = true;
      cv_.notify_all();
    } else if (run.status == "pending") {
      run.status = "planning";
    } else if (run.status == "planning") {
      run.status = run.error_phase == "plan" ? "errored"
                   : run.no_changes          ? "planned_and_finished"
                   : run.auto_apply          ? "applying"
                                             : planned_status_;
    } else if (run.status == "apply_queued") {
      run.status = "applying";
    } else if (run.status == "applying") {
      run.status = run.error_phase == "apply" ? "errored" : "applied";
    }
    Reply(res, 200, {{"data", RunDoc(run)}});
  });
  s.Post(R"(/api/v2/runs/([^/]+)/actions/(apply|cancel))", [this](const auto& req, auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string action = req.matches[2];
    if (Enter(action, req, res)) return;
    auto it = runs_.find(req.matches[1]);
    if (it == runs_.end()) return Error(res, 404, "not found");
    Run& run = it->second;
    if (action == "apply") {
      if (run.status != planned_status_) return Error(res, 409, "transition not allowed");
      run.status = "apply_queued";
    } else {
      static const std::vector<std::string> kEnded = {"applied", "planned_and_finished", "errored",
                                                      "discarded", "canceled"};
      if (std::find(kEnded.begin(), kEnded.end(), run.status) != kEnded.end()) {
        return Error(res, 409, "transition not allowed");
      }
      run.status = "canceled";
    }
    counts_[action + ".ok"]++;
    res.status = 202;
  });
  s.Get(R"(/api/v2/workspaces/([^/]+)/current-state-version-outputs)", [this](const auto& req,
                                                                              auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Enter("outputs", req, res)) return;
    json list = json::array();
    int n = 0;
    for (const auto& [name, value] : outputs_[req.matches[1]].items()) {
      list.push_back({{"id", "wsout-" + std::to_string(++n)},
                      {"type", "state-version-outputs"},
                      {"attributes", {{"name", name}, {"sensitive", false}, {"value", value}}}});
    }
    Reply(res, 200, {{"data", list}});
  });
  http_.Start();
}

bool TfeDouble::Enter(const std::string& call, const httplib::Request& req,
                      httplib::Response& res) {
  counts_[call]++;
  if (auto hook = hooks_.find(call); hook != hooks_.end()) hook->second();
  if (req.get_header_value("Authorization") != "Bearer " + token_) {
    Error(res, 401, "unauthorized");
    return true;
  }
  return failures_.Take(call, res);
}

void TfeDouble::Reply(httplib::Response& res, int status, const json& doc) {
  res.status = status;
  res.set_content(doc.dump(), kJsonApi);
}

void TfeDouble::Error(httplib::Response& res, int status, const std::string& title,
                      const std::string& detail) {
  json e = {{"status", std::to_string(status)}, {"title", title}};
  if (!detail.empty()) e["detail"] = detail;
  Reply(res, status, {{"errors", json::array({e})}});
}

json TfeDouble::RunDoc(const Run& run) const {
  json rel = {{"workspace", {{"data", {{"id", run.workspace_id}, {"type", "workspaces"}}}}}};
  if (!run.cv_id.empty()) {
    rel["configuration-version"] = {
        {"data", {{"id", run.cv_id}, {"type", "configuration-versions"}}}};
  }
  return {{"id", run.id},
          {"type", "runs"},
          {"attributes",
           {{"status", run.status},
            {"message", run.message},
            {"auto-apply", run.auto_apply},
            {"has-changes", !run.no_changes},
            {"actions",
             {{"is-confirmable", run.status == planned_status_},
              {"is-cancelable", run.status == "planning" || run.status == "applying"}}}}},
          {"relationships", rel},
          {"links", {{"self", "/api/v2/runs/" + run.id}}}};
}

void TfeDouble::AddWorkspace(const std::string& org, const std::string& name,
                             const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  workspaces_[org + "/" + name] = id;
}

void TfeDouble::SetStateOutputs(const std::string& workspace_id, const json& outputs) {
  std::lock_guard<std::mutex> lock(mu_);
  outputs_[workspace_id] = outputs;
}

void TfeDouble::Fail(const std::string& call, int status, int times, const std::string& detail) {
  std::lock_guard<std::mutex> lock(mu_);
  json e = {{"status", std::to_string(status)}, {"title", "injected failure"}};
  if (!detail.empty()) e["detail"] = detail;
  failures_.Add(call, status, times, json({{"errors", json::array({e})}}).dump());
}

void TfeDouble::ErrorRuns(const std::string& phase) {
  std::lock_guard<std::mutex> lock(mu_);
  error_phase_ = phase;
}

void TfeDouble::PlannedStatus(const std::string& status) {
  std::lock_guard<std::mutex> lock(mu_);
  planned_status_ = status;
}

void TfeDouble::NoChanges(bool no_changes) {
  std::lock_guard<std::mutex> lock(mu_);
  no_changes_ = no_changes;
}

void TfeDouble::OnCall(const std::string& call, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  hooks_[call] = std::move(fn);
}

void TfeDouble::Hold(const std::string& status) {
  std::lock_guard<std::mutex> lock(mu_);
  hold_ = status;
  held_seen_ = false;
}

void TfeDouble::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  hold_.clear();
}

void TfeDouble::Rehold() {
  std::lock_guard<std::mutex> lock(mu_);
  held_seen_ = false;
}

bool TfeDouble::WaitHeld(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return held_seen_; });
}

int TfeDouble::Count(const std::string& call) {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_[call];
}

json TfeDouble::LastRunRequest() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_run_request_;
}

std::string TfeDouble::RunStatus(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(run_id);
  return it == runs_.end() ? "" : it->second.status;
}

std::map<std::string, std::string> TfeDouble::Uploaded(const std::string& cv_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cvs_.find(cv_id);
  return it == cvs_.end() ? std::map<std::string, std::string>{} : it->second.files;
}

}  // namespace wf::test
