#include "awx_double.h"

namespace wf::test {
namespace {

std::string Base64(const std::string& in) {
  static const char* kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -6;
  for (unsigned char c : in) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(kChars[(val >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(kChars[((val << 8) >> (bits + 8)) & 0x3F]);
  while (out.size() % 4) out.push_back('=');
  return out;
}

}  // namespace

AwxDouble::AwxDouble(std::string token, std::string user, std::string password)
    : token_(std::move(token)), user_(std::move(user)), password_(std::move(password)) {
  auto& s = http_.server();
  s.Get("/api/v2/job_templates/", [this](const auto& req, auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Enter("templates", req, res)) return;
    std::string name = req.get_param_value("name");
    json results = json::array();
    for (const auto& [id, n] : templates_) {
      if (!req.has_param("name") || n == name) {
        results.push_back({{"id", id},
                           {"type", "job_template"},
                           {"name", n},
                           {"url", "/api/v2/job_templates/" + std::to_string(id) + "/"}});
      }
    }
    Reply(res, 200,
          {{"count", results.size()},
           {"next", nullptr},
           {"previous", nullptr},
           {"results", results}});
  });
  s.Post(R"(/api/v2/job_templates/(\d+)/launch/)", [this](const auto& req, auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Enter("launch", req, res)) return;
    int tid = std::stoi(req.matches[1]);
    if (!templates_.count(tid)) return Reply(res, 404, {{"detail", "Not found."}});
    json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return Reply(res, 400, {{"detail", "JSON parse error - Expecting value"}});
    }
    if (body.contains("extra_vars") && !body["extra_vars"].is_object() &&
        !body["extra_vars"].is_string()) {
      return Reply(res, 400, {{"extra_vars", {"Must be valid JSON or YAML."}}});
    }
    last_launch_ = body;
    Job job;
    job.id = ++next_job_;
    job.template_id = tid;
    job.outcome = outcome_;
    job.extra_vars = body.value("extra_vars", json::object());
    jobs_[job.id] = job;
    counts_["launch.ok"]++;
    Reply(res, 201,
          {{"job", job.id},
           {"id", job.id},
           {"type", "job"},
           {"status", "pending"},
           {"ignored_fields", json::object()},
           {"url", "/api/v2/jobs/" + std::to_string(job.id) + "/"}});
  });
  s.Get(R"(/api/v2/jobs/(\d+)/)", [this](const auto& req, auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Enter("job", req, res)) return;
    auto it = jobs_.find(std::stoi(req.matches[1]));
    if (it == jobs_.end()) return Reply(res, 404, {{"detail", "Not found."}});
    Job& job = it->second;
    if (job.status == "pending") {
      job.status = "waiting";
    } else if (job.status == "waiting") {
      job.status = "running";
    } else if (job.status == "running") {
      if (hold_) {
        held_seen_ = true;
        cv_.notify_all();
      } else {
        job.status = job.outcome;
      }
    }
    bool ok = job.status == "successful";
    bool ended = ok || job.status == "failed" || job.status == "error" || job.status == "canceled";
    json doc = {{"id", job.id},
                {"type", "job"},
                {"job_template", job.template_id},
                {"status", job.status},
                {"failed", ended && !ok},
                {"elapsed", ended ? 12.5 : 0.0},
                {"extra_vars", job.extra_vars.dump()},
                {"artifacts", ok ? artifacts_ : json::object()},
                {"job_explanation", job.status == "error" ? "Job terminated due to error" : ""},
                {"result_traceback",
                 job.status == "error" ? "Traceback (most recent call last):\n  boom" : ""}};
    Reply(res, 200, doc);
  });
  s.Get(R"(/api/v2/jobs/(\d+)/stdout/)", [this](const auto& req, auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Enter("stdout", req, res)) return;
    if (!jobs_.count(std::stoi(req.matches[1]))) return Reply(res, 404, {{"detail", "Not found."}});
    if (req.get_param_value("format") != "txt") {
      return Reply(res, 200, {{"content", stdout_}, {"range", {{"start", 0}}}});
    }
    res.status = 200;
    res.set_content(stdout_, "text/plain");
  });
  s.Post(R"(/api/v2/jobs/(\d+)/cancel/)", [this](const auto& req, auto& res) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Enter("cancel", req, res)) return;
    auto it = jobs_.find(std::stoi(req.matches[1]));
    if (it == jobs_.end()) return Reply(res, 404, {{"detail", "Not found."}});
    const std::string& st = it->second.status;
    if (st != "pending" && st != "waiting" && st != "running") {
      return Reply(res, 405, {{"error", "Not allowed to cancel this job."}});
    }
    it->second.status = "canceled";
    counts_["cancel.ok"]++;
    res.status = 202;
  });
  http_.Start();
}

bool AwxDouble::Enter(const std::string& call, const httplib::Request& req,
                      httplib::Response& res) {
  counts_[call]++;
  if (auto hook = hooks_.find(call); hook != hooks_.end()) hook->second();
  last_auth_ = req.get_header_value("Authorization");
  std::string basic = Base64(user_ + ":" + password_);
  if (last_auth_ != "Bearer " + token_ && last_auth_ != "Basic " + basic) {
    Reply(res, 401, {{"detail", "Authentication credentials were not provided."}});
    return true;
  }
  return failures_.Take(call, res);
}

void AwxDouble::Reply(httplib::Response& res, int status, const json& doc) {
  res.status = status;
  res.set_content(doc.dump(), "application/json");
}

void AwxDouble::AddTemplate(int id, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  templates_[id] = name;
}

void AwxDouble::SetOutcome(const std::string& status) {
  std::lock_guard<std::mutex> lock(mu_);
  outcome_ = status;
}

void AwxDouble::SetArtifacts(const json& artifacts) {
  std::lock_guard<std::mutex> lock(mu_);
  artifacts_ = artifacts;
}

void AwxDouble::SetStdout(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  stdout_ = text;
}

void AwxDouble::Fail(const std::string& call, int status, int times, const std::string& body) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.Add(call, status, times,
                body.empty()
                    ? json({{"detail", "injected failure " + std::to_string(status)}}).dump()
                    : body);
}

void AwxDouble::OnCall(const std::string& call, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  hooks_[call] = std::move(fn);
}

void AwxDouble::Hold() {
  std::lock_guard<std::mutex> lock(mu_);
  hold_ = true;
  held_seen_ = false;
}

void AwxDouble::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  hold_ = false;
}

void AwxDouble::Rehold() {
  std::lock_guard<std::mutex> lock(mu_);
  held_seen_ = false;
}

bool AwxDouble::WaitHeld(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return held_seen_; });
}

int AwxDouble::Count(const std::string& call) {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_[call];
}

json AwxDouble::LastLaunchBody() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_launch_;
}

std::string AwxDouble::LastAuthorization() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_auth_;
}

std::string AwxDouble::JobStatus(int job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? "" : it->second.status;
}

}  // namespace wf::test
