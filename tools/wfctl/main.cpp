// wfctl: the command-line client of the wf REST API (see docs/wfctl.md).
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api_client.h"
#include "format.h"

namespace wfctl {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kDefaultApi = "http://127.0.0.1:8470";
// How long --wait keeps polling while the API is unreachable or answers 502/503/504
// before it gives up with exit code 3.
constexpr auto kOutageGrace = 30s;

struct Globals {
  std::string api;
  std::string token;
  bool json = false;
  int http_timeout = 30;
};

struct WaitOptions {
  bool wait = false;
  double timeout = 0;  // seconds; 0: no limit
  bool quiet = false;
};

struct SubmitOptions {
  std::string template_name;
  std::string data;
  std::string trace_id;
  std::string idempotency_key;
  WaitOptions wait;
};

struct ListOptions {
  std::string status;
  std::string template_name;
  std::string trace_id;
  int limit = 0;
};

struct RerunOptions {
  std::string id;
  std::string from = "start";
  std::string data;
  WaitOptions wait;
};

struct SignalOptions {
  std::string id;
  std::string task;
  std::string outputs;
  std::string error;
};

// ------------------------------------------------------------------------------ helpers

volatile sig_atomic_t g_interrupted = 0;

void OnInterrupt(int) { g_interrupted = 1; }

// Turns SIGINT/SIGTERM into a flag while waiting, so that the progress line is cleared
// and the request id printed instead of dying mid-line.
class InterruptGuard {
 public:
  InterruptGuard() {
    struct sigaction sa {};
    sa.sa_handler = OnInterrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// Sleeps for `d`; false when interrupted.
bool Sleep(std::chrono::milliseconds d) {
  const auto until = Clock::now() + d;
  while (!g_interrupted && Clock::now() < until) {
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
        50ms, std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now())));
  }
  return !g_interrupted;
}

void PrintJson(const json& doc) { std::cout << doc.dump(2) << "\n"; }

std::string ReadText(const std::string& path, const std::string& what) {
  if (path == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CliError(what + ": cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A JSON option value: inline text, or @FILE (@- for stdin).
json JsonArg(const std::string& arg, const std::string& option) {
  const bool from_file = !arg.empty() && arg[0] == '@';
  const std::string text = from_file ? ReadText(arg.substr(1), option) : arg;
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw CliError(option + ": " + (from_file ? arg.substr(1) + " is" : "the value is") +
                   " not valid JSON: " + e.what());
  }
}

std::string RequestPath(const std::string& id) { return "/v1/requests/" + UrlEncode(id); }

bool Ended(const std::string& status) {
  return status == "succeeded" || status == "failed" || status == "cancelled";
}

int ExitCodeFor(const std::string& status) {
  if (status == "succeeded") return kExitOk;
  if (status == "failed") return kExitFailed;
  return kExitCancelled;
}

std::string Str(const json& obj, const std::string& key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// Throws the "not supported yet" error when the server does not know the route.
void RequireRoute(const Response& r, const std::string& command, const std::string& route) {
  if (!RouteMissing(r)) return;
  throw CliError("this server does not support `wfctl " + command + "` yet (" + route +
                 " answered HTTP " + std::to_string(r.status) + "); upgrade wf-api");
}

// Task counts in display order: "4/4 succeeded" or "2/4 succeeded, 1 failed, 1 skipped".
std::string TaskCounts(const json& request) {
  static const std::vector<std::string> kOrder = {"running", "waiting", "pending",
                                                  "failed",  "skipped", "cancelled"};
  std::map<std::string, int> counts;
  size_t total = 0;
  if (request.contains("tasks") && request["tasks"].is_array()) {
    for (const auto& t : request["tasks"]) {
      ++counts[Str(t, "status")];
      ++total;
    }
  }
  std::string out =
      std::to_string(counts["succeeded"]) + "/" + std::to_string(total) + " succeeded";
  for (const auto& s : kOrder) {
    if (counts[s] > 0) out += ", " + std::to_string(counts[s]) + " " + s;
  }
  for (const auto& [s, n] : counts) {  // a status this version does not know
    if (s != "succeeded" && std::find(kOrder.begin(), kOrder.end(), s) == kOrder.end()) {
      out += ", " + std::to_string(n) + " " + s;
    }
  }
  return out;
}

// The live line on a terminal (stderr): redrawn in place, cleared at the end.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  ~Progress() { Clear(); }
  void Show(const std::string& line) {
    if (!enabled_) return;
    std::cerr << "\r\033[K" << Truncate(line, Columns() - 1) << std::flush;
    shown_ = true;
  }
  void Clear() {
    if (!shown_) return;
    std::cerr << "\r\033[K" << std::flush;
    shown_ = false;
  }

 private:
  static size_t Columns() {
    winsize ws{};
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) return ws.ws_col;
    return 80;
  }
  bool enabled_;
  bool shown_ = false;
};

bool ProgressWanted(const Globals& g, const WaitOptions& w) {
  const char* term = std::getenv("TERM");
  return !g.json && !w.quiet && isatty(STDERR_FILENO) && !(term && std::string(term) == "dumb");
}

// The result of a request once it has ended (or when waiting for it stopped).
void PrintSummary(const json& r) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"request", Field(r, "request_id")},
      {"template", Field(r, "template")},
      {"status", Field(r, "status")},
  };
  const json started =
      r.contains("started_at") && !r["started_at"].is_null() ? r["started_at"] : r["created_at"];
  fields.push_back({"duration", Between(started, r.value("finished_at", json()))});
  fields.push_back({"tasks", TaskCounts(r)});
  if (r.contains("error") && !r["error"].is_null()) fields.push_back({"error", Field(r, "error")});
  if (r.contains("outputs") && !r["outputs"].is_null() && !r["outputs"].empty()) {
    fields.push_back({"outputs", Field(r, "outputs")});
  }
  PrintFields(std::cout, fields);
  Table failed({"FAILED TASK", "TYPE", "ATTEMPTS", "ERROR"});
  auto add = [&](const json& t) {
    if (Str(t, "status") == "failed") {
      failed.Add({Field(t, "id"), Field(t, "type"), Field(t, "attempts"), Field(t, "error")});
    }
  };
  for (const auto& t : r.value("tasks", json::array())) {
    add(t);
    for (const auto& i : t.value("instances", json::array())) add(i);
  }
  if (!failed.empty()) {
    std::cout << "\n";
    failed.Print(std::cout);
  }
}

// Polls the request until it ends, `w.timeout` passes or the user interrupts.
int WaitFor(ApiClient& api, const Globals& g, const std::string& id, const WaitOptions& w) {
  InterruptGuard guard;
  Progress progress(ProgressWanted(g, w));
  const auto start = Clock::now();
  const std::string path = RequestPath(id);
  json last;
  std::optional<Clock::time_point> outage_since;
  std::chrono::milliseconds interval = 200ms;
  bool timed_out = false;
  while (true) {
    try {
      Response r = api.Get(path);
      if (r.status == 502 || r.status == 503 || r.status == 504) throw ApiError("GET " + path, r);
      last = Expect(r, "GET " + path);
      outage_since.reset();
      if (Ended(Str(last, "status"))) break;
      progress.Show(Str(last, "status") + "  " + TaskCounts(last) + "  " +
                    FormatDuration(Clock::now() - start));
    } catch (const ApiError& e) {
      const int s = e.response().status;
      if (s != 502 && s != 503 && s != 504) throw;
      if (!outage_since) outage_since = Clock::now();
      if (Clock::now() - *outage_since > kOutageGrace) throw;
      progress.Show("waiting for the API: " + std::string(e.what()));
    } catch (const CliError& e) {  // no answer at all
      if (!outage_since) outage_since = Clock::now();
      if (Clock::now() - *outage_since > kOutageGrace) throw;
      progress.Show("waiting for the API: " + std::string(e.what()));
    }
    std::chrono::milliseconds pause = interval;
    if (w.timeout > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          start + std::chrono::duration<double>(w.timeout) - Clock::now());
      if (left <= 0ms) {
        timed_out = true;
        break;
      }
      pause = std::min(pause, left);
    }
    if (!Sleep(pause)) {
      progress.Clear();
      std::cerr << "wfctl: interrupted; request " << id << " goes on (follow it with: wfctl get "
                << id << ")\n";
      return kExitInterrupted;
    }
    interval = std::min<std::chrono::milliseconds>(interval + 100ms, 1000ms);
  }
  progress.Clear();
  if (!last.is_null()) {
    if (g.json) {
      PrintJson(last);
    } else if (!w.quiet) {
      PrintSummary(last);
    }
  }
  if (timed_out) {
    std::cerr << "wfctl: timed out after " << FormatDuration(Clock::now() - start)
              << " waiting for request " << id;
    if (!last.is_null()) std::cerr << " (still " << Str(last, "status") << ")";
    std::cerr << "; it goes on\n";
    return kExitCancelled;
  }
  return ExitCodeFor(Str(last, "status"));
}

// After a submission or re-run: prints the new request, and waits for it with --wait.
int Started(ApiClient& api, const Globals& g, const json& answer, const WaitOptions& w) {
  const std::string id = Str(answer, "request_id");
  if (w.quiet && !g.json) {
    std::cout << id << std::endl;
  } else if (!w.wait) {
    if (g.json) {
      PrintJson(answer);
    } else {
      std::vector<std::pair<std::string, std::string>> fields = {
          {"request", id},
          {"trace", Field(answer, "trace_id")},
          {"status", Field(answer, "status")}};
      if (answer.contains("rerun_of")) fields.push_back({"rerun of", Field(answer, "rerun_of")});
      PrintFields(std::cout, fields);
    }
  } else if (!g.json) {
    PrintFields(std::cout, {{"request", id}, {"trace", Field(answer, "trace_id")}});
    std::cout << std::endl;
  }
  if (!w.wait) return kExitOk;
  return WaitFor(api, g, id, w);
}

// ----------------------------------------------------------------------------- commands

int Submit(ApiClient& api, const Globals& g, const SubmitOptions& o) {
  json body = {{"template", o.template_name}};
  if (!o.data.empty()) body["data"] = JsonArg(o.data, "--data");
  if (!o.trace_id.empty()) body["trace_id"] = o.trace_id;
  if (!o.idempotency_key.empty()) body["idempotency_key"] = o.idempotency_key;
  json answer = Expect(api.Post("/v1/requests", body), "POST /v1/requests");
  return Started(api, g, answer, o.wait);
}

void AddTaskRow(Table& table, const json& t, const std::string& indent) {
  table.Add({indent + Field(t, "id"), Field(t, "type"), Field(t, "status"), Field(t, "attempts"),
             ShortTime(t.value("started_at", json())), ShortTime(t.value("finished_at", json())),
             t.contains("error") && !t["error"].is_null() ? Field(t, "error") : ""});
}

int Get(ApiClient& api, const Globals& g, const std::string& id) {
  const std::string path = RequestPath(id);
  json r = Expect(api.Get(path), "GET " + path);
  if (g.json) {
    PrintJson(r);
    return kExitOk;
  }
  std::string status = Field(r, "status");
  if (r.value("cancel_requested", false) && !Ended(status)) status += " (cancel requested)";
  std::string tmpl = Field(r, "template");
  const std::string hash = Str(r, "template_hash");
  if (!hash.empty()) tmpl += "  (version " + hash.substr(0, 12) + ")";
  std::vector<std::pair<std::string, std::string>> fields = {
      {"request", Field(r, "request_id")},
      {"trace", Field(r, "trace_id")},
      {"template", tmpl},
      {"status", status},
      {"created", ShortTime(r.value("created_at", json()))},
      {"started", ShortTime(r.value("started_at", json()))},
      {"finished", ShortTime(r.value("finished_at", json()))},
      {"duration", Between(r.value("started_at", json()), r.value("finished_at", json()))},
  };
  if (r.contains("parent") && r["parent"].is_object()) {
    fields.push_back({"parent", Field(r["parent"], "request_id") + " (task " +
                                    Field(r["parent"], "task_id") + ")"});
  }
  if (r.contains("rerun_of")) fields.push_back({"rerun of", Field(r, "rerun_of")});
  if (r.contains("owner") && !r["owner"].is_null()) fields.push_back({"engine", Field(r, "owner")});
  fields.push_back({"error", Field(r, "error")});
  fields.push_back({"data", Field(r, "data")});
  fields.push_back({"outputs", Field(r, "outputs")});
  if (r.contains("state_error")) fields.push_back({"state error", Field(r, "state_error")});
  PrintFields(std::cout, fields);
  std::cout << "\n";
  Table tasks({"TASK", "TYPE", "STATUS", "ATTEMPTS", "STARTED", "FINISHED", "ERROR"});
  for (const auto& t : r.value("tasks", json::array())) {
    AddTaskRow(tasks, t, "");
    for (const auto& i : t.value("instances", json::array())) AddTaskRow(tasks, i, "  ");
  }
  tasks.Print(std::cout);
  return kExitOk;
}

int List(ApiClient& api, const Globals& g, const ListOptions& o) {
  const std::string path =
      "/v1/requests" + Query({{"trace_id", o.trace_id},
                              {"status", o.status},
                              {"template", o.template_name},
                              {"limit", o.limit > 0 ? std::to_string(o.limit) : ""}});
  json answer = Expect(api.Get(path), "GET " + path);
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  const json list = answer.value("requests", json::array());
  if (list.empty()) {
    std::cout << "no requests\n";
    return kExitOk;
  }
  Table table({"REQUEST", "TEMPLATE", "STATUS", "CREATED", "DURATION", "TRACE"});
  for (const auto& r : list) {
    table.Add({Field(r, "request_id"), Field(r, "template"), Field(r, "status"),
               ShortTime(r.value("created_at", json())),
               Between(r.value("started_at", json()), r.value("finished_at", json())),
               Field(r, "trace_id")});
  }
  table.Print(std::cout);
  return kExitOk;
}

int Templates(ApiClient& api, const Globals& g) {
  json answer = Expect(api.Get("/v1/templates"), "GET /v1/templates");
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  json list = answer.value("templates", json::array());
  std::sort(list.begin(), list.end(),
            [](const json& a, const json& b) { return Str(a, "name") < Str(b, "name"); });
  if (list.empty()) {
    std::cout << "no templates\n";
  } else {
    Table table({"NAME", "VERSION", "TASKS", "DESCRIPTION"});
    for (const auto& t : list) {
      size_t tasks = 0;
      if (t.contains("dag") && t["dag"].contains("nodes")) tasks = t["dag"]["nodes"].size();
      table.Add({Field(t, "name"), Field(t, "version"), std::to_string(tasks),
                 t.contains("description") ? Truncate(Str(t, "description"), 60) : ""});
    }
    table.Print(std::cout);
  }
  const json errors = answer.value("errors", json::array());
  if (!errors.empty()) {
    std::cout << "\nfiles that failed to load (" << errors.size() << "):\n";
    Table table({"FILE", "PATH", "MESSAGE"});
    for (const auto& e : errors) {
      table.Add({Field(e, "file"), Field(e, "path"), Field(e, "message")});
    }
    table.Print(std::cout, 2);
  }
  return kExitOk;
}

// "name (string, required), cpu (integer)" from an inputs JSON Schema.
std::string InputsText(const json& inputs) {
  if (!inputs.is_object() || !inputs.contains("properties") || !inputs["properties"].is_object()) {
    return inputs.is_null() || inputs.empty() ? "-" : inputs.dump();
  }
  std::set<std::string> required;
  for (const auto& r : inputs.value("required", json::array())) {
    if (r.is_string()) required.insert(r.get<std::string>());
  }
  std::string out;
  for (auto it = inputs["properties"].begin(); it != inputs["properties"].end(); ++it) {
    if (!out.empty()) out += ", ";
    out += it.key();
    std::vector<std::string> notes;
    if (it->is_object() && it->contains("type")) notes.push_back(Text((*it)["type"]));
    if (required.count(it.key())) notes.push_back("required");
    if (!notes.empty()) {
      out += " (";
      for (size_t i = 0; i < notes.size(); ++i) out += (i ? ", " : "") + notes[i];
      out += ")";
    }
  }
  return out.empty() ? "-" : out;
}

// What a task's definition adds to its place in the DAG: trigger, condition, fan-out.
std::string TaskNotes(const json& spec) {
  if (!spec.is_object()) return "";
  std::vector<std::string> notes;
  if (spec.contains("trigger")) notes.push_back("trigger " + Text(spec["trigger"]));
  if (spec.contains("when")) notes.push_back("when " + Text(spec["when"]));
  if (spec.contains("for_each")) notes.push_back("for each " + Text(spec["for_each"]));
  if (spec.contains("on_failure")) notes.push_back("on failure " + Text(spec["on_failure"]));
  if (spec.contains("retry") && spec["retry"].is_object() &&
      spec["retry"].contains("max_attempts")) {
    notes.push_back("up to " + Text(spec["retry"]["max_attempts"]) + " attempts");
  }
  std::string out;
  for (const auto& n : notes) out += (out.empty() ? "" : "; ") + n;
  return Truncate(out, 80);
}

int ShowTemplate(ApiClient& api, const Globals& g, const std::string& name) {
  const std::string path = "/v1/templates/" + UrlEncode(name);
  json t = Expect(api.Get(path), "GET " + path);
  if (g.json) {
    PrintJson(t);
    return kExitOk;
  }
  const json nodes = t.contains("dag") ? t["dag"].value("nodes", json::array()) : json::array();
  const json edges = t.contains("dag") ? t["dag"].value("edges", json::array()) : json::array();
  std::map<std::string, std::vector<std::string>> deps;
  for (const auto& e : edges) deps[Str(e, "to")].push_back(Str(e, "from"));
  // Stage of a task: 1 + the latest stage of its dependencies.
  std::map<std::string, int> stage;
  std::function<int(const std::string&, int)> stage_of = [&](const std::string& id, int depth) {
    if (auto it = stage.find(id); it != stage.end()) return it->second;
    int s = 1;
    if (depth < 10000) {
      for (const auto& d : deps[id]) s = std::max(s, stage_of(d, depth + 1) + 1);
    }
    return stage[id] = s;
  };
  std::map<std::string, json> specs;
  if (t.contains("template") && t["template"].is_object()) {
    for (const auto& spec : t["template"].value("tasks", json::array())) {
      specs[Str(spec, "id")] = spec;
    }
  }
  std::vector<std::pair<int, json>> order;  // stage, node; template order within a stage
  int stages = 0;
  for (const auto& n : nodes) {
    const int s = stage_of(Str(n, "id"), 0);
    stages = std::max(stages, s);
    order.push_back({s, n});
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  PrintFields(std::cout, {{"template", Field(t, "name")},
                          {"version", Field(t, "version")},
                          {"hash", Field(t, "hash")},
                          {"description", Field(t, "description")},
                          {"inputs", InputsText(t.value("inputs", json()))}});
  std::cout << "\n"
            << nodes.size() << (nodes.size() == 1 ? " task" : " tasks") << " in " << stages
            << (stages == 1 ? " stage" : " stages")
            << " (a task starts once the tasks it runs after have ended):\n";
  Table table({"STAGE", "TASK", "TYPE", "RUNS AFTER", "NOTES"});
  int previous = 0;
  for (const auto& [s, n] : order) {
    std::string after;
    for (const auto& d : deps[Str(n, "id")]) after += (after.empty() ? "" : ", ") + d;
    table.Add({s == previous ? "" : std::to_string(s), Field(n, "id"), Field(n, "type"), after,
               TaskNotes(specs[Str(n, "id")])});
    previous = s;
  }
  table.Print(std::cout, 2);
  return kExitOk;
}

int Validate(ApiClient& api, const Globals& g, const std::vector<std::string>& files) {
  bool all_valid = true;
  for (const auto& file : files) {
    const std::string name = file == "-" ? "<stdin>" : file;
    const std::string text = ReadText(file, "validate");
    json doc;
    std::string why;
    try {
      doc = json::parse(text);
    } catch (const json::exception& e) {
      why = e.what();
    }
    if (!why.empty()) {
      all_valid = false;
      if (g.json) {
        PrintJson({{"file", name},
                   {"valid", false},
                   {"errors", {{{"path", "/"}, {"message", "not valid JSON: " + why}}}}});
      } else {
        std::cout << name << ": invalid: not valid JSON: " << why << "\n";
      }
      continue;
    }
    Response r = api.Post("/v1/templates/validate", doc);
    const bool invalid = r.status == 422 && r.doc.is_object() && r.doc.contains("errors");
    if (!invalid) Expect(r, "POST /v1/templates/validate");
    all_valid = all_valid && !invalid;
    if (g.json) {
      PrintJson(r.doc);
      continue;
    }
    if (!invalid) {
      const json& v = r.doc;
      size_t tasks = 0;
      if (v.contains("dag") && v["dag"].contains("nodes")) tasks = v["dag"]["nodes"].size();
      std::cout << name << ": valid: template " << Field(v, "name") << ", version "
                << Field(v, "version") << ", " << tasks << (tasks == 1 ? " task" : " tasks")
                << "\n";
      continue;
    }
    const json& errors = r.doc["errors"];
    std::cout << name << ": invalid: " << errors.size()
              << (errors.size() == 1 ? " error" : " errors") << "\n";
    for (const auto& e : errors) {
      std::cout << "  " << Field(e, "path") << ": " << Field(e, "message") << "\n";
    }
  }
  return all_valid ? kExitOk : kExitFailed;
}

int Services(ApiClient& api, const Globals& g) {
  json answer = Expect(api.Get("/v1/services"), "GET /v1/services");
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  json list = answer.value("services", json::array());
  if (list.empty()) {
    std::cout << "no live services (none has sent a heartbeat lately)\n";
    return kExitOk;
  }
  std::sort(list.begin(), list.end(), [](const json& a, const json& b) {
    return std::make_pair(Str(a, "kind"), Str(a, "id")) <
           std::make_pair(Str(b, "kind"), Str(b, "id"));
  });
  Table table({"KIND", "ID", "HOST", "PID", "VERSION", "UP", "HEARTBEAT", "REQUESTS",
               "RUNNING TASKS", "TASKS RUN"});
  for (const auto& s : list) {
    table.Add({Field(s, "kind"), Field(s, "id"), Field(s, "host"), Field(s, "pid"),
               Field(s, "version"), Between(s.value("started_at", json()), json()),
               Ago(s.value("heartbeat_at", json())), Field(s, "requests"),
               Field(s, "running_tasks"), Field(s, "tasks_run")});
  }
  table.Print(std::cout);
  return kExitOk;
}

std::string FirstOf(const json& e, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (e.contains(k) && !e[k].is_null()) return k;
  }
  return "";
}

// "2026-01-01 10:00:00.123 INFO  [greet] message key=value".
std::string LogLine(const json& e) {
  if (e.is_string()) return e.get<std::string>();
  if (!e.is_object()) return e.dump();
  const std::string msg = FirstOf(e, {"message", "msg", "text"});
  if (msg.empty()) return e.dump();
  const std::string ts = FirstOf(e, {"time", "ts", "timestamp", "at"});
  const std::string level = FirstOf(e, {"level", "severity"});
  const std::string task = FirstOf(e, {"task_id", "task"});
  std::string out;
  if (!ts.empty()) out += ShortTime(e[ts]) + " ";
  if (!level.empty()) {
    std::string l = Text(e[level]);
    for (char& c : l) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out += l + std::string(l.size() < 5 ? 5 - l.size() : 0, ' ') + " ";
  }
  if (!task.empty() && !Text(e[task]).empty()) out += "[" + Text(e[task]) + "] ";
  out += Text(e[msg]);
  // The log service's own fields that the line does not show.
  static const std::set<std::string> kShown = {
      "message",  "msg",     "text", "time",       "ts",       "timestamp", "at",  "level",
      "severity", "task_id", "task", "request_id", "trace_id", "host",      "pid", "msgid"};
  for (auto it = e.begin(); it != e.end(); ++it) {
    if (!kShown.count(it.key()) && !it->is_null()) out += " " + it.key() + "=" + Text(*it);
  }
  return out;
}

// Prints the complete JSON lines of `*pending` (the log service's format: one object per
// line), keeping an unfinished last line for the next piece.
class LogPrinter {
 public:
  explicit LogPrinter(bool raw) : raw_(raw) {}
  void Feed(std::string_view data) {
    pending_.append(data);
    size_t start = 0;
    for (size_t nl = pending_.find('\n'); nl != std::string::npos;
         nl = pending_.find('\n', start)) {
      Print(pending_.substr(start, nl - start));
      start = nl + 1;
    }
    pending_.erase(0, start);
  }
  void Finish() {
    if (!pending_.empty()) Print(pending_);
    pending_.clear();
  }
  // The time of the last line printed ("" before the first), and the lines printed with
  // that time: a stream resumed `since` it skips those.
  const std::string& last_ts() const { return last_ts_; }

 private:
  void Print(const std::string& line) {
    if (line.empty()) return;
    json e = json::parse(line, nullptr, false);
    const std::string ts = e.is_object() ? e.value("ts", "") : "";
    if (!ts.empty()) {
      if (ts == last_ts_ && at_last_ts_.count(line)) return;  // seen before a resume
      if (ts != last_ts_) at_last_ts_.clear();
      last_ts_ = ts;
      at_last_ts_.insert(line);
    }
    std::cout << (raw_ || e.is_discarded() ? line : LogLine(e)) << "\n" << std::flush;
  }

  bool raw_;
  std::string pending_;
  std::string last_ts_;
  std::set<std::string> at_last_ts_;
};

// `wfctl logs ID [--follow]`: the request's log as the API serves it from the log service.
int Logs(ApiClient& api, const Globals& g, const std::string& id, bool follow) {
  const std::string path = RequestPath(id) + "/logs";
  LogPrinter printer(g.json);
  if (!follow) {
    Response r = api.Get(path);
    RequireRoute(r, "logs", "GET /v1/requests/{id}/logs");
    if (!r.ok()) throw ApiError("GET " + path, r);
    printer.Feed(r.body);
    printer.Finish();
    return kExitOk;
  }
  // Streams until the log service ends the stream: the request's log was sealed (it ended),
  // or its follow timeout passed — then it resumes from the last line printed.
  InterruptGuard guard;
  while (true) {
    std::string query = path + "?follow=1";
    if (!printer.last_ts().empty()) query += "&since=" + UrlEncode(printer.last_ts());
    Response r = api.GetStream(
        query,
        [&](std::string_view data) {
          printer.Feed(data);
          return !g_interrupted;
        },
        /*read_timeout_s=*/3600);
    if (g_interrupted) return kExitInterrupted;
    RequireRoute(r, "logs", "GET /v1/requests/{id}/logs");
    if (!r.ok()) throw ApiError("GET " + query, r);
    printer.Finish();
    json request = Expect(api.Get(RequestPath(id)), "GET " + RequestPath(id));
    if (Ended(Str(request, "status"))) return kExitOk;
    if (!Sleep(200ms)) return kExitInterrupted;
  }
}

int Rerun(ApiClient& api, const Globals& g, const RerunOptions& o) {
  json body = {{"from", o.from}};
  if (!o.data.empty()) body["data"] = JsonArg(o.data, "--data");
  const std::string path = RequestPath(o.id) + "/rerun";
  Response r = api.Post(path, body);
  RequireRoute(r, "rerun", "POST /v1/requests/{id}/rerun");
  return Started(api, g, Expect(r, "POST " + path), o.wait);
}

int Cancel(ApiClient& api, const Globals& g, const std::string& id) {
  const std::string path = RequestPath(id) + "/cancel";
  Response r = api.Post(path, json::object());
  RequireRoute(r, "cancel", "POST /v1/requests/{id}/cancel");
  json answer = Expect(r, "POST " + path);
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  const std::string status = Str(answer, "status");
  std::cout << "request " << id << ": " << (status.empty() ? "cancel asked for" : status);
  if (status == "cancelling") {
    std::cout << " (its engine stops it; follow it with: wfctl get " << id << ")";
  }
  std::cout << "\n";
  return kExitOk;
}

int Signal(ApiClient& api, const Globals& g, const SignalOptions& o, bool with_error) {
  json body;
  if (with_error) {
    body = {{"error", o.error}};
  } else {
    json outputs = JsonArg(o.outputs, "--outputs");
    if (!outputs.is_object()) throw CliError("--outputs must be a JSON object");
    body = {{"outputs", outputs}};
  }
  const std::string path = RequestPath(o.id) + "/tasks/" + UrlEncode(o.task) + "/signal";
  Response r = api.Post(path, body);
  RequireRoute(r, "signal", "POST /v1/requests/{id}/tasks/{task}/signal");
  json answer = Expect(r, "POST " + path);
  if (g.json) {
    PrintJson(answer);
    return kExitOk;
  }
  std::cout << "task " << o.task << " of request " << o.id << ": "
            << (with_error ? "failure" : "completion") << " signalled";
  if (answer.contains("status")) std::cout << " (" << Text(answer["status"]) << ")";
  std::cout << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------------------------- main

void AddWaitOptions(CLI::App* cmd, WaitOptions* w) {
  cmd->add_flag("-w,--wait", w->wait,
                "wait for the request to end; exit 0 succeeded, 1 failed, 2 cancelled or "
                "timed out");
  cmd->add_option("--timeout", w->timeout, "with --wait: give up after SECONDS (default: never)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("-q,--quiet", w->quiet, "print only the request id");
}

constexpr const char* kFooter = R"(
Exit codes: 0 ok (with --wait: the request succeeded); 1 the request failed, or validate
found errors; 2 the request was cancelled, or --wait timed out; 3 usage, connection or API
error (the API's message and path are printed).

Environment: WF_API_URL (default http://127.0.0.1:8470), WF_TOKEN. `source .wf/stack.env`
sets WF_API_URL for the local stack. See docs/wfctl.md.)";

int Run(int argc, char** argv) {
  Globals g;
  CLI::App app{"wfctl: the command-line client of the wf workflow API", "wfctl"};
  app.set_version_flag("--version", std::string("wfctl ") + WF_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  app.footer(kFooter);
  app.add_option("--api", g.api, "API base URL (default http://127.0.0.1:8470)")
      ->envname("WF_API_URL");
  app.add_option("--token", g.token, "bearer token for the Authorization header")
      ->envname("WF_TOKEN");
  app.add_flag("--json", g.json, "print the API's JSON answers instead of tables");
  app.add_option("--http-timeout", g.http_timeout,
                 "seconds to wait for each HTTP answer (default 30)")
      ->check(CLI::Range(1, 3600));

  SubmitOptions submit_opts;
  auto* submit = app.add_subcommand("submit", "submit a workflow request");
  submit->add_option("template", submit_opts.template_name, "template name")->required();
  submit->add_option("-d,--data", submit_opts.data,
                     "request data: a JSON object, or @FILE (@- for stdin)");
  submit->add_option("--trace-id", submit_opts.trace_id, "trace id (a UUID) to join");
  submit->add_option("--idempotency-key", submit_opts.idempotency_key,
                     "submit at most once per key (safe to retry)");
  AddWaitOptions(submit, &submit_opts.wait);

  std::string get_id;
  auto* get = app.add_subcommand("get", "show a request and its tasks");
  get->add_option("id", get_id, "request id")->required();

  ListOptions list_opts;
  auto* list = app.add_subcommand("list", "list requests, newest first");
  list->add_option("--status", list_opts.status, "pending, running, succeeded, failed, cancelled");
  list->add_option("--template", list_opts.template_name, "template name");
  list->add_option("--trace-id", list_opts.trace_id, "trace id");
  list->add_option("--limit", list_opts.limit, "at most N (1-1000; default 50)")
      ->check(CLI::Range(1, 1000));

  auto* templates = app.add_subcommand("templates", "list templates and files that fail to load");

  std::string template_name;
  auto* tmpl = app.add_subcommand("template", "show a template and its DAG");
  tmpl->add_option("name", template_name, "template name")->required();

  std::vector<std::string> validate_files;
  auto* validate = app.add_subcommand("validate", "check template files (exit 1 when invalid)");
  validate->add_option("file", validate_files, "template JSON files (- for stdin)")->required();

  auto* services = app.add_subcommand("services", "list the live wf-api and wf-engine processes");

  std::string logs_id;
  bool follow = false;
  auto* logs = app.add_subcommand("logs", "show a request's log");
  logs->add_option("id", logs_id, "request id")->required();
  logs->add_flag("-f,--follow", follow, "keep printing new lines until the request ends");

  RerunOptions rerun_opts;
  auto* rerun = app.add_subcommand("rerun", "run an ended request again, as a new request");
  rerun->add_option("id", rerun_opts.id, "request id")->required();
  rerun
      ->add_option("--from", rerun_opts.from,
                   "start: run every task again (default); failed: keep what succeeded")
      ->check(CLI::IsMember({"start", "failed"}));
  rerun->add_option("-d,--data", rerun_opts.data, "new request data (JSON or @FILE)");
  AddWaitOptions(rerun, &rerun_opts.wait);

  std::string cancel_id;
  auto* cancel = app.add_subcommand("cancel", "cancel a request");
  cancel->add_option("id", cancel_id, "request id")->required();

  SignalOptions signal_opts;
  auto* signal = app.add_subcommand("signal", "complete or fail a task that waits for a signal");
  signal->add_option("id", signal_opts.id, "request id")->required();
  signal->add_option("task", signal_opts.task, "task id")->required();
  auto* outputs_opt = signal->add_option("--outputs", signal_opts.outputs,
                                         "the task succeeds with these outputs (JSON or @FILE)");
  auto* error_opt =
      signal->add_option("--error", signal_opts.error, "the task fails with this message");
  outputs_opt->excludes(error_opt);

  try {
    app.parse(argc, argv);
    if (signal->parsed() && outputs_opt->count() == 0 && error_opt->count() == 0) {
      throw CLI::RequiredError("--outputs or --error");
    }
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitError;
  }
  if (g.api.empty()) g.api = kDefaultApi;

  try {
    ApiClient api(g.api, g.token, Timeouts{5, g.http_timeout, g.http_timeout});
    if (submit->parsed()) return Submit(api, g, submit_opts);
    if (get->parsed()) return Get(api, g, get_id);
    if (list->parsed()) return List(api, g, list_opts);
    if (templates->parsed()) return Templates(api, g);
    if (tmpl->parsed()) return ShowTemplate(api, g, template_name);
    if (validate->parsed()) return Validate(api, g, validate_files);
    if (services->parsed()) return Services(api, g);
    if (logs->parsed()) return Logs(api, g, logs_id, follow);
    if (rerun->parsed()) return Rerun(api, g, rerun_opts);
    if (cancel->parsed()) return Cancel(api, g, cancel_id);
    if (signal->parsed()) return Signal(api, g, signal_opts, error_opt->count() > 0);
  } catch (const ApiError& e) {
    if (g.json && !e.response().doc.is_discarded()) PrintJson(e.response().doc);
    std::cerr << "wfctl: " << e.what() << "\n";
    return kExitError;
  } catch (const std::exception& e) {
    std::cerr << "wfctl: " << e.what() << "\n";
    return kExitError;
  }
  return kExitError;
}

}  // namespace
}  // namespace wfctl

int main(int argc, char** argv) { return wfctl::Run(argc, argv); }
