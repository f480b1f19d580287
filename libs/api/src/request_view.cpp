#include "wf/request_view.h"

#include <cstdlib>
#include <map>
#include <unordered_map>

#include "wf/redact.h"

namespace wf {
namespace {

json OrNull(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json TaskRunJson(const TaskRunRow& r) {
  return {{"id", r.task_id},
          {"type", r.type},
          {"status", r.status},
          {"attempts", r.attempts},
          {"outputs", r.outputs.is_null() ? json::object() : r.outputs},
          {"error", OrNull(r.error)},
          {"started_at", OrNull(r.started_at)},
          {"finished_at", OrNull(r.finished_at)},
          {"next_run_at", OrNull(r.next_run_at)},
          {"updated_at", OrNull(r.updated_at)}};
}

}  // namespace

json RequestSummaryJson(const RequestRow& row) {
  json out = {{"request_id", row.id},
              {"trace_id", row.trace_id},
              {"template", row.template_name},
              {"template_hash", row.template_hash},
              {"status", row.status},
              {"error", OrNull(row.error)},
              {"created_at", row.created_at},
              {"started_at", OrNull(row.started_at)},
              {"finished_at", OrNull(row.finished_at)},
              {"updated_at", row.updated_at}};
  if (!row.rerun_of.empty()) out["rerun_of"] = row.rerun_of;
  if (!row.submitted_by.empty()) out["submitted_by"] = row.submitted_by;
  if (row.cancel_requested) out["cancel_requested"] = true;
  if (!row.parent_request_id.empty()) {
    out["parent"] = {{"request_id", row.parent_request_id}, {"task_id", row.parent_task_id}};
  }
  return out;
}

json RequestJson(const RequestRow& row, const std::vector<TaskRunRow>& runs, const Template* tmpl) {
  json out = RequestSummaryJson(row);
  out["data"] = row.data;
  out["outputs"] = row.outputs.is_null() ? json(nullptr) : row.outputs;
  out["owner"] = OrNull(row.owner);
  out["claims"] = row.claims;
  json tasks = json::array();
  std::unordered_map<std::string, const TaskRunRow*> by_id;
  // for_each instances ("<id>[<i>]"), by their task, in index order.
  std::unordered_map<std::string, std::map<size_t, const TaskRunRow*>> instances;
  for (const auto& r : runs) {
    auto open = r.task_id.rfind('[');
    if (open != std::string::npos && r.task_id.back() == ']' && tmpl &&
        tmpl->Find(r.task_id.substr(0, open))) {
      size_t index = std::strtoul(r.task_id.c_str() + open + 1, nullptr, 10);
      instances[r.task_id.substr(0, open)][index] = &r;
    } else {
      by_id[r.task_id] = &r;
    }
  }
  if (tmpl) {
    for (const auto& spec : tmpl->tasks) {
      auto it = by_id.find(spec.id);
      if (it != by_id.end()) {
        json t = TaskRunJson(*it->second);
        t["depends_on"] = spec.depends_on;
        if (spec.fan_out()) {
          json list = json::array();
          for (const auto& [_, row] : instances[spec.id]) list.push_back(TaskRunJson(*row));
          t["instances"] = std::move(list);
        }
        tasks.push_back(std::move(t));
        by_id.erase(it);
      } else {
        tasks.push_back({{"id", spec.id},
                         {"type", spec.type},
                         {"status", "pending"},
                         {"attempts", 0},
                         {"outputs", json::object()},
                         {"error", nullptr},
                         {"started_at", nullptr},
                         {"finished_at", nullptr},
                         {"next_run_at", nullptr},
                         {"updated_at", nullptr},
                         {"depends_on", spec.depends_on}});
      }
    }
  }
  for (const auto& r : runs) {  // runs the template does not list (should not happen)
    if (by_id.count(r.task_id)) tasks.push_back(TaskRunJson(r));
  }
  out["tasks"] = std::move(tasks);
  return out;
}

json RedactSecretInputs(json view, const json& data, const Template* tmpl) {
  if (!tmpl) return view;
  std::vector<std::string> secrets = SecretValuesBySchema(tmpl->inputs, data);
  if (secrets.empty()) return view;
  json out = RedactValues(view, secrets);
  if (view.contains("data")) out["data"] = RedactBySchema(tmpl->inputs, data);
  return out;
}

json ErrorJson(const std::string& code, const std::string& message, const std::string& path) {
  json e = {{"code", code}, {"message", message}};
  if (!path.empty()) e["path"] = path;
  return {{"error", std::move(e)}};
}

json TemplateJson(const Template& t, bool with_source) {
  json nodes = json::array(), edges = json::array();
  for (size_t i = 0; i < t.tasks.size(); ++i) {
    nodes.push_back({{"id", t.tasks[i].id}, {"type", t.tasks[i].type}});
    for (size_t d : t.dependencies[i])
      edges.push_back({{"from", t.tasks[d].id}, {"to", t.tasks[i].id}});
  }
  json out = {
      {"name", t.name}, {"version", t.version}, {"description", t.description},
      {"hash", t.hash}, {"inputs", t.inputs},   {"dag", {{"nodes", nodes}, {"edges", edges}}}};
  if (with_source) out["template"] = t.source;
  return out;
}

}  // namespace wf
