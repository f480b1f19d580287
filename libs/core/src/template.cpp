#include "wf/core/template.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <queue>
#include <set>

#include "wf/core/expression.h"

namespace wf {
namespace {

const std::set<std::string> kTemplateFields = {"name",  "version", "description", "inputs",
                                               "tasks", "outputs", "timeout_ms"};
const std::set<std::string> kTaskFields = {"id",          "type",       "params",   "depends_on",
                                           "description", "retry",      "when",     "trigger",
                                           "on_failure",  "timeout_ms", "for_each", "concurrency"};
const std::set<std::string> kRetryFields = {"max_attempts", "initial_delay_ms", "multiplier",
                                            "max_delay_ms", "jitter"};

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  if (!std::isalpha(static_cast<unsigned char>(id[0])) && id[0] != '_') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

class Parser {
 public:
  Parser(const json& doc, const TaskTypeChecker& checker) : doc_(doc), checker_(checker) {}

  std::shared_ptr<Template> Run() {
    auto t = std::make_shared<Template>();
    if (!doc_.is_object()) {
      Error("", std::string("template must be a JSON object, not ") + JsonTypeName(doc_));
      return nullptr;
    }
    for (auto it = doc_.begin(); it != doc_.end(); ++it) {
      if (!kTemplateFields.count(it.key())) Error(JsonPathJoin("", it.key()), "unknown field");
    }
    RequiredString(doc_, "", "name", &t->name);
    if (doc_.contains("name") && doc_["name"].is_string() && !ValidId(t->name)) {
      Error("/name", "must start with a letter and hold only letters, digits, '_' and '-'");
    }
    OptionalString(doc_, "", "version", &t->version);
    OptionalString(doc_, "", "description", &t->description);
    if (doc_.contains("inputs")) {
      if (!doc_["inputs"].is_object()) {
        Error("/inputs", "must be an object (a JSON Schema)");
      } else {
        t->inputs = doc_["inputs"];
        auto compiled = InputsSchema::Compile(t->inputs, "/inputs");
        if (compiled.ok()) {
          t->inputs_schema = *compiled;
        } else {
          Error(compiled.status().path(), compiled.status().message());
        }
      }
    }
    if (doc_.contains("outputs")) t->outputs = doc_["outputs"];
    PositiveInt(doc_, "", "timeout_ms", &t->timeout_ms);
    ParseTasks(*t);
    if (!errors_.empty()) return nullptr;
    BuildDag(*t);
    if (!errors_.empty()) return nullptr;
    CheckReferences(*t);
    if (!errors_.empty()) return nullptr;
    t->source = doc_;
    t->hash = ContentHash(doc_);
    return t;
  }

  std::vector<TemplateError>& errors() { return errors_; }

 private:
  void Error(std::string path, std::string message) {
    errors_.push_back(TemplateError{std::move(path), std::move(message)});
  }

  void RequiredString(const json& obj, const std::string& base, const char* key, std::string* out) {
    if (!obj.contains(key)) {
      Error(JsonPathJoin(base, key), "is required");
      return;
    }
    OptionalString(obj, base, key, out);
  }

  void OptionalString(const json& obj, const std::string& base, const char* key, std::string* out) {
    auto it = obj.find(key);
    if (it == obj.end()) return;
    if (!it->is_string()) {
      Error(JsonPathJoin(base, key), std::string("must be a string, not ") + JsonTypeName(*it));
      return;
    }
    *out = it->get<std::string>();
  }

  void ParseTasks(Template& t) {
    auto it = doc_.find("tasks");
    if (it == doc_.end()) {
      Error("/tasks", "is required");
      return;
    }
    if (!it->is_array()) {
      Error("/tasks", std::string("must be an array, not ") + JsonTypeName(*it));
      return;
    }
    if (it->empty()) {
      Error("/tasks", "must hold at least one task");
      return;
    }
    for (size_t i = 0; i < it->size(); ++i) {
      const json& node = (*it)[i];
      std::string path = JsonPathJoin("/tasks", i);
      if (!node.is_object()) {
        Error(path, std::string("a task must be an object, not ") + JsonTypeName(node));
        continue;
      }
      for (auto f = node.begin(); f != node.end(); ++f) {
        if (!kTaskFields.count(f.key())) Error(JsonPathJoin(path, f.key()), "unknown field");
      }
      TaskSpec spec;
      spec.json_path = path;
      RequiredString(node, path, "id", &spec.id);
      RequiredString(node, path, "type", &spec.type);
      OptionalString(node, path, "description", &spec.description);
      const bool has_id = node.contains("id") && node["id"].is_string();
      const bool has_type = node.contains("type") && node["type"].is_string();
      if (has_id && !ValidId(spec.id)) {
        Error(path + "/id", "'" + spec.id +
                                "' must start with a letter or '_' and hold only letters, digits, "
                                "'_' and '-'");
      }
      if (node.contains("params")) {
        if (!node["params"].is_object()) {
          Error(path + "/params",
                std::string("must be an object, not ") + JsonTypeName(node["params"]));
        } else {
          spec.params = node["params"];
        }
      }
      if (node.contains("retry")) ParseRetry(node["retry"], path + "/retry", &spec.retry);
      ParseFlow(node, path, &spec);
      if (node.contains("depends_on")) {
        const json& deps = node["depends_on"];
        if (!deps.is_array()) {
          Error(path + "/depends_on", "must be an array of task ids");
        } else {
          for (size_t d = 0; d < deps.size(); ++d) {
            if (!deps[d].is_string()) {
              Error(JsonPathJoin(path + "/depends_on", d), "must be a task id (string)");
            } else {
              spec.depends_on.push_back(deps[d].get<std::string>());
            }
          }
        }
      }
      if (has_id && ValidId(spec.id)) {
        if (t.index.count(spec.id)) {
          Error(path + "/id", "duplicate task id '" + spec.id + "' (first at " +
                                  t.tasks[t.index[spec.id]].json_path + ")");
        } else {
          t.index[spec.id] = t.tasks.size();
        }
      }
      if (has_type && spec.type.empty()) {
        Error(path + "/type", "must not be empty");
      } else if (has_type && checker_) {
        Status s = checker_(spec.type, spec.params, path + "/params");
        if (s.code() == StatusCode::kNotFound) {
          Error(path + "/type", "unknown task type '" + spec.type + "'");
        } else if (!s.ok()) {
          Error(s.path().empty() ? path + "/params" : s.path(), s.message());
        }
      }
      t.tasks.push_back(std::move(spec));
    }
  }

  void PositiveInt(const json& obj, const std::string& base, const char* key, int64_t* out) {
    auto it = obj.find(key);
    if (it == obj.end()) return;
    if (!it->is_number_integer() || it->get<int64_t>() < 1) {
      Error(JsonPathJoin(base, key), "must be a positive integer");
      return;
    }
    *out = it->get<int64_t>();
  }

  // when, trigger, on_failure, timeout_ms, for_each, concurrency.
  void ParseFlow(const json& node, const std::string& path, TaskSpec* spec) {
    if (auto it = node.find("when"); it != node.end()) {
      if (it->is_boolean()) {
        spec->when_literal = it->get<bool>();
      } else if (it->is_string()) {
        auto c = Condition::Parse(it->get<std::string>(), path + "/when");
        if (c.ok()) {
          spec->when = *c;
        } else {
          Error(c.status().path(), c.status().message());
        }
      } else {
        Error(path + "/when", "must be a condition (string) or a boolean");
      }
    }
    if (auto it = node.find("trigger"); it != node.end()) {
      const std::string v = it->is_string() ? it->get<std::string>() : "";
      if (v == "all_succeeded") {
        spec->trigger = Trigger::kAllSucceeded;
      } else if (v == "all_done") {
        spec->trigger = Trigger::kAllDone;
      } else if (v == "any_failed") {
        spec->trigger = Trigger::kAnyFailed;
      } else {
        Error(path + "/trigger", "must be all_succeeded, all_done or any_failed");
      }
    }
    if (auto it = node.find("on_failure"); it != node.end()) {
      const std::string v = it->is_string() ? it->get<std::string>() : "";
      if (v == "fail_workflow") {
        spec->on_failure = OnFailure::kFailWorkflow;
      } else if (v == "continue") {
        spec->on_failure = OnFailure::kContinue;
      } else {
        Error(path + "/on_failure", "must be fail_workflow or continue");
      }
    }
    PositiveInt(node, path, "timeout_ms", &spec->timeout_ms);
    if (auto it = node.find("for_each"); it != node.end()) {
      if (it->is_array()) {
        spec->for_each = *it;
      } else if (it->is_string() && it->get<std::string>().find("${") != std::string::npos) {
        spec->for_each = *it;
      } else {
        Error(path + "/for_each", "must be an expression giving a list, or an array");
      }
    }
    if (auto it = node.find("concurrency"); it != node.end()) {
      int64_t c = 0;
      PositiveInt(node, path, "concurrency", &c);
      if (!spec->fan_out()) Error(path + "/concurrency", "only applies to a for_each task");
      spec->concurrency = static_cast<int>(std::min<int64_t>(c, 1000000));
    }
  }

  void ParseRetry(const json& node, const std::string& path, RetryPolicy* out) {
    if (!node.is_object()) {
      Error(path, std::string("must be an object, not ") + JsonTypeName(node));
      return;
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!kRetryFields.count(it.key())) Error(JsonPathJoin(path, it.key()), "unknown field");
    }
    auto number = [&](const char* key, double lo, double hi, bool integer, auto* field) {
      auto it = node.find(key);
      if (it == node.end()) return;
      bool ok = integer ? it->is_number_integer() : it->is_number();
      double v = ok ? it->get<double>() : 0;
      if (!ok || v < lo || v > hi) {
        Error(JsonPathJoin(path, key), std::string("must be ") +
                                           (integer ? "an integer" : "a number") + " from " +
                                           json(lo).dump() + " to " + json(hi).dump());
        return;
      }
      *field = static_cast<std::remove_pointer_t<decltype(field)>>(v);
    };
    number("max_attempts", 1, 100, true, &out->max_attempts);
    number("initial_delay_ms", 0, 86400000, true, &out->initial_delay_ms);
    number("multiplier", 1, 10, false, &out->multiplier);
    number("max_delay_ms", 0, 86400000, true, &out->max_delay_ms);
    number("jitter", 0, 1, false, &out->jitter);
  }

  void BuildDag(Template& t) {
    const size_t n = t.tasks.size();
    t.dependencies.assign(n, {});
    t.dependents.assign(n, {});
    for (size_t i = 0; i < n; ++i) {
      const TaskSpec& spec = t.tasks[i];
      std::set<std::string> seen;
      for (size_t d = 0; d < spec.depends_on.size(); ++d) {
        const std::string& dep = spec.depends_on[d];
        std::string path = JsonPathJoin(spec.json_path + "/depends_on", d);
        if (dep == spec.id) {
          Error(path, "task '" + spec.id + "' depends on itself");
          continue;
        }
        if (!seen.insert(dep).second) {
          Error(path, "dependency '" + dep + "' is listed twice");
          continue;
        }
        auto it = t.index.find(dep);
        if (it == t.index.end()) {
          Error(path, "unknown task '" + dep + "'");
          continue;
        }
        t.dependencies[i].push_back(it->second);
        t.dependents[it->second].push_back(i);
      }
    }
    if (!errors_.empty()) return;
    // Kahn's algorithm, stable in file order.
    std::vector<size_t> indegree(n);
    for (size_t i = 0; i < n; ++i) indegree[i] = t.dependencies[i].size();
    // The ready task that comes first in the file goes first.
    std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
    for (size_t i = 0; i < n; ++i) {
      if (indegree[i] == 0) ready.push(i);
    }
    while (!ready.empty()) {
      size_t i = ready.top();
      ready.pop();
      t.topo_order.push_back(i);
      for (size_t d : t.dependents[i]) {
        if (--indegree[d] == 0) ready.push(d);
      }
    }
    if (t.topo_order.size() != n) ReportCycle(t, indegree);
  }

  // Finds one cycle among the tasks Kahn's algorithm could not order and reports its path.
  void ReportCycle(const Template& t, const std::vector<size_t>& indegree) {
    const size_t n = t.tasks.size();
    std::vector<int> color(n, 0);  // 0 new, 1 on stack, 2 done
    std::vector<size_t> stack;
    std::function<bool(size_t)> dfs = [&](size_t u) {
      color[u] = 1;
      stack.push_back(u);
      for (size_t v : t.dependencies[u]) {
        if (color[v] == 1) {
          auto from = std::find(stack.begin(), stack.end(), v);
          std::string cycle;
          for (auto it = from; it != stack.end(); ++it) cycle += t.tasks[*it].id + " -> ";
          cycle += t.tasks[v].id;
          Error(t.tasks[v].json_path + "/depends_on", "dependency cycle: " + cycle);
          return true;
        }
        if (color[v] == 0 && dfs(v)) return true;
      }
      stack.pop_back();
      color[u] = 2;
      return false;
    };
    for (size_t i = 0; i < n; ++i) {
      if (indegree[i] > 0 && color[i] == 0 && dfs(i)) return;
    }
  }

  // Every ${tasks.X...} must name a task upstream of the one that uses it; template outputs
  // may name any task.
  void CheckReferences(const Template& t) {
    const size_t n = t.tasks.size();
    std::vector<std::vector<bool>> upstream(n, std::vector<bool>(n, false));
    for (size_t i : t.topo_order) {
      for (size_t d : t.dependencies[i]) {
        upstream[i][d] = true;
        for (size_t k = 0; k < n; ++k) {
          if (upstream[d][k]) upstream[i][k] = true;
        }
      }
    }
    for (size_t i = 0; i < n; ++i) {
      const TaskSpec& spec = t.tasks[i];
      std::vector<FoundReference> refs;
      Status s = CollectReferences(spec.params, spec.json_path + "/params", &refs);
      if (s.ok()) s = CollectReferences(spec.for_each, spec.json_path + "/for_each", &refs);
      if (!s.ok()) {
        Error(s.path(), s.message());
        continue;
      }
      if (spec.when)
        refs.insert(refs.end(), spec.when->references().begin(), spec.when->references().end());
      for (const auto& r : refs) {
        // `for_each` and `when` are evaluated once for the whole task, before any item.
        const bool per_task = r.json_path.rfind(spec.json_path + "/for_each", 0) == 0 ||
                              r.json_path.rfind(spec.json_path + "/when", 0) == 0;
        if ((r.ref.root == "item" || r.ref.root == "index") && (!spec.fan_out() || per_task)) {
          Error(r.json_path, "expression ${" + r.ref.text +
                                 "} is only defined in the params of a "
                                 "for_each task");
          continue;
        }
        if (r.ref.root != "tasks") continue;
        auto it = t.index.find(r.ref.path[0]);
        if (it == t.index.end()) {
          Error(r.json_path,
                "expression ${" + r.ref.text + "} names unknown task '" + r.ref.path[0] + "'");
        } else if (!upstream[i][it->second]) {
          Error(r.json_path, "expression ${" + r.ref.text + "} names task '" + r.ref.path[0] +
                                 "', which is not upstream of '" + spec.id +
                                 "' (add it to depends_on)");
        }
      }
    }
    std::vector<FoundReference> refs;
    Status s = CollectReferences(t.outputs, "/outputs", &refs);
    if (!s.ok()) {
      Error(s.path(), s.message());
      return;
    }
    for (const auto& r : refs) {
      if (r.ref.root == "tasks" && !t.index.count(r.ref.path[0])) {
        Error(r.json_path,
              "expression ${" + r.ref.text + "} names unknown task '" + r.ref.path[0] + "'");
      }
    }
  }

  const json& doc_;
  const TaskTypeChecker& checker_;
  std::vector<TemplateError> errors_;
};

}  // namespace

const char* TriggerName(Trigger t) {
  switch (t) {
    case Trigger::kAllSucceeded:
      return "all_succeeded";
    case Trigger::kAllDone:
      return "all_done";
    case Trigger::kAnyFailed:
      return "any_failed";
  }
  return "all_succeeded";
}

int64_t RetryPolicy::DelayMs(int attempt, double unit_random) const {
  double delay = static_cast<double>(initial_delay_ms);
  for (int i = 1; i < attempt && delay < static_cast<double>(max_delay_ms); ++i)
    delay *= multiplier;
  delay = std::min(delay, static_cast<double>(max_delay_ms));
  delay *= 1.0 + jitter * (2.0 * unit_random - 1.0);
  return std::max<int64_t>(0, static_cast<int64_t>(delay));
}

Result<std::shared_ptr<const Template>> ParseTemplate(const json& doc,
                                                      const TaskTypeChecker& checker,
                                                      std::vector<TemplateError>* errors) {
  Parser parser(doc, checker);
  std::shared_ptr<Template> t = parser.Run();
  if (errors) *errors = parser.errors();
  if (!t) {
    const TemplateError& first = parser.errors().front();
    return Status::Invalid(first.message, first.path);
  }
  return std::shared_ptr<const Template>(std::move(t));
}

std::string FormatTemplateErrors(const std::vector<TemplateError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    out += (e.path.empty() ? "/" : e.path) + ": " + e.message + "\n";
  }
  return out;
}

}  // namespace wf
