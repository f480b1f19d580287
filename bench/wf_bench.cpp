// wf-bench: benchmark scenarios against a running wf stack, through the public REST API.
//
//   wf-bench SCENARIO [--api URL] [--templates DIR] [-n N] [-k K] [-c C] [--count M]
//
// Scenarios: chain, hop, fanout, submit, pickup, waiting, backlog (see
// docs/benchmarks.md). Prints a
// human-readable table and one JSON line (starting with '{') with the results.

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string scenario;
  std::string api;
  std::string templates_dir;
  int n = 2000;
  int k = 5;
  int c = 32;
  int count = 20000;
  int fanout = 1000;
  int timeout_s = 600;
  // waiting
  int hold_s = 20;
  int interval_ms = 1000;
  int engine_pid = 0;
  // backlog
  std::string phase;
};

[[noreturn]] void die(const std::string& msg) {
  std::cerr << "wf-bench: " << msg << "\n";
  std::exit(2);
}

// Microseconds since the Unix epoch, from the system clock.
int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Parses "2026-01-01T00:00:00.123456Z" (the API's timestamp format) into microseconds
// since the epoch; nullopt for null or anything else.
std::optional<int64_t> parse_ts(const json& v) {
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  std::tm tm{};
  int year = 0, mon = 0, day = 0, hh = 0, mm = 0, ss = 0, consumed = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d%n", &year, &mon, &day, &hh, &mm, &ss, &consumed) !=
      6)
    return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  int64_t us = static_cast<int64_t>(timegm(&tm)) * 1000000;
  size_t i = static_cast<size_t>(consumed);
  if (i < s.size() && s[i] == '.') {
    int64_t frac = 0;
    int digits = 0;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
      if (digits < 6) {
        frac = frac * 10 + (s[i] - '0');
        ++digits;
      }
    }
    while (digits++ < 6) frac *= 10;
    us += frac;
  }
  return us;
}

std::string format_ts(int64_t us) {
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(us % 1000000));
  return buf;
}

// Percent-encodes a query parameter value.
std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

// Nearest-rank percentile of an unsorted sample (p in [0, 100]).
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One keep-alive HTTP client on the API.
class Api {
 public:
  explicit Api(const std::string& url) : cli_(url) {
    cli_.set_keep_alive(true);
    cli_.set_tcp_nodelay(true);
    cli_.set_connection_timeout(5, 0);
    cli_.set_read_timeout(30, 0);
    cli_.set_write_timeout(30, 0);
    // The API's bearer token (an operator's or admin's), as wfctl reads it.
    if (const char* token = std::getenv("WF_TOKEN"); token && *token) {
      cli_.set_bearer_token_auth(token);
    }
  }

  // POST /v1/requests; returns the request id (throws on anything but 202).
  std::string submit(const std::string& tmpl, const json& data) {
    json body = {{"template", tmpl}, {"data", data}};
    for (int attempt = 0;; ++attempt) {
      auto res = cli_.Post("/v1/requests", body.dump(), "application/json");
      if (res && res->status == 202) return json::parse(res->body).at("request_id");
      if (attempt >= 3)
        throw std::runtime_error("submit failed: " +
                                 (res ? std::to_string(res->status) + " " + res->body
                                      : httplib::to_string(res.error())));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // GET PATH; nullopt unless 200.
  std::optional<json> get(const std::string& path) {
    auto res = cli_.Get(path);
    if (!res || res->status != 200) return std::nullopt;
    return json::parse(res->body);
  }

  int status_of(const std::string& path) {
    auto res = cli_.Get(path);
    return res ? res->status : -1;
  }

 private:
  httplib::Client cli_;
};

// ---------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------

// "t<i>". (Appending to a string rather than `"t" + std::to_string(i)`, which GCC 12
// misreads as an overlapping copy: GCC bug 105329.)
std::string TaskId(int i) {
  std::string id = "t";
  id += std::to_string(i);
  return id;
}

json chain_template(const std::string& name, int k) {
  json tasks = json::array();
  for (int i = 0; i < k; ++i) {
    json t = {{"id", TaskId(i)}, {"type", "noop"}};
    if (i > 0) t["depends_on"] = json::array({TaskId(i - 1)});
    tasks.push_back(t);
  }
  return {{"name", name},
          {"version", "1"},
          {"description", "benchmark: a chain of " + std::to_string(k) + " noop tasks"},
          {"tasks", tasks}};
}

json fanout_template(const std::string& name) {
  return {{"name", name},
          {"version", "1"},
          {"description", "benchmark: 1 -> for_each over data.items (noop) -> 1"},
          {"inputs",
           {{"type", "object"},
            {"properties", {{"items", {{"type", "array"}}}}},
            {"required", json::array({"items"})}}},
          {"tasks",
           json::array({{{"id", "start"}, {"type", "noop"}},
                        {{"id", "fan"},
                         {"type", "noop"},
                         {"depends_on", json::array({"start"})},
                         {"for_each", "${data.items}"}},
                        {{"id", "end"}, {"type", "noop"}, {"depends_on", json::array({"fan"})}}})}};
}

// Writes the template into the templates folder (atomically) and waits until the API
// serves it.
void install_template(const Options& o, const json& doc) {
  const std::string name = doc.at("name");
  Api api(o.api);
  if (!o.templates_dir.empty()) {
    std::filesystem::path dir(o.templates_dir);
    std::filesystem::path tmp = dir / ("." + name + ".json.tmp");
    {
      std::ofstream out(tmp);
      if (!out) die("cannot write " + tmp.string());
      out << doc.dump(2) << "\n";
    }
    std::filesystem::rename(tmp, dir / (name + ".json"));
  }
  auto t0 = Clock::now();
  while (api.status_of("/v1/templates/" + name) != 200) {
    if (seconds_since(t0) > 30)
      die("template " + name + " not served by the API within 30 s (is --templates the " +
          "stack's WF_TEMPLATES_DIR?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

void report(const std::string& scenario, const std::vector<std::pair<std::string, json>>& rows) {
  std::printf("\n%-32s %s\n", "scenario", scenario.c_str());
  json line = {{"scenario", scenario}};
  for (const auto& [key, value] : rows) {
    std::string shown;
    if (value.is_number_float()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f", value.get<double>());
      shown = buf;
    } else if (value.is_string()) {
      shown = value.get<std::string>();
    } else {
      shown = value.dump();
    }
    std::printf("%-32s %s\n", key.c_str(), shown.c_str());
    line[key] = value;
  }
  std::printf("\n%s\n", line.dump().c_str());
  std::fflush(stdout);
}

double round3(double x) { return static_cast<double>(static_cast<int64_t>(x * 1000 + 0.5)) / 1000; }

// Runs fn(thread_index) on c threads and joins them; rethrows the first exception.
template <typename Fn>
void parallel(int c, Fn fn) {
  std::vector<std::thread> threads;
  std::mutex mu;
  std::exception_ptr err;
  for (int t = 0; t < c; ++t) {
    threads.emplace_back([&, t] {
      try {
        fn(t);
      } catch (...) {
        std::lock_guard lk(mu);
        if (!err) err = std::current_exception();
      }
    });
  }
  for (auto& th : threads) th.join();
  if (err) std::rethrow_exception(err);
}

// Waits until one request has ended; returns its document.
json wait_request(Api& api, const std::string& id, int timeout_s, int poll_ms) {
  auto t0 = Clock::now();
  for (;;) {
    auto doc = api.get("/v1/requests/" + id);
    if (doc) {
      const std::string st = (*doc)["status"];
      if (st == "succeeded") return *doc;
      if (st == "failed" || st == "cancelled")
        die("request " + id + " ended " + st + ": " + (*doc)["error"].dump());
    }
    if (seconds_since(t0) > timeout_s) die("request " + id + " did not finish in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

void run_chain(const Options& o) {
  const std::string name = "bench_chain_" + std::to_string(o.k);
  install_template(o, chain_template(name, o.k));

  std::atomic<int> next{0};
  const int64_t start_us = now_us();
  const std::string since = format_ts(start_us - 1000);  // ms slack for the server clock
  auto t0 = Clock::now();
  parallel(o.c, [&](int) {
    Api api(o.api);
    while (next.fetch_add(1) < o.n) api.submit(name, json::object());
  });
  const double submit_s = seconds_since(t0);

  // Count this run's succeeded requests by paging the list; stop when all N are there.
  Api api(o.api);
  int succeeded = 0;
  int64_t first_created = INT64_MAX, last_finished = 0;
  for (;;) {
    succeeded = 0;
    first_created = INT64_MAX;
    last_finished = 0;
    std::string cursor;
    for (;;) {
      std::string path = "/v1/requests?template=" + name +
                         "&status=succeeded&limit=1000&created_after=" + url_encode(since);
      if (!cursor.empty()) path += "&cursor=" + url_encode(cursor);
      auto page = api.get(path);
      if (!page) die("listing requests failed");
      for (const auto& r : (*page)["requests"]) {
        ++succeeded;
        if (auto c = parse_ts(r["created_at"])) first_created = std::min(first_created, *c);
        if (auto f = parse_ts(r["finished_at"])) last_finished = std::max(last_finished, *f);
      }
      if (!(*page)["next_cursor"].is_string()) break;
      cursor = (*page)["next_cursor"];
    }
    if (succeeded >= o.n) break;
    auto bad = api.get("/v1/requests?template=" + name +
                       "&status=failed&limit=1&created_after=" + url_encode(since));
    if (bad && !(*bad)["requests"].empty()) {
      die("a request failed: " + (*bad)["requests"][0].dump());
    }
    if (seconds_since(t0) > o.timeout_s)
      die("only " + std::to_string(succeeded) + " of " + std::to_string(o.n) +
          " requests succeeded within the timeout");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  // Wall time: first submit (client clock) to the last finished_at (server clock, same host).
  const double wall_s = static_cast<double>(last_finished - start_us) / 1e6;
  const double server_s = static_cast<double>(last_finished - first_created) / 1e6;
  const double tasks = static_cast<double>(o.n) * o.k;
  report("chain", {{"requests", o.n},
                   {"tasks_per_request", o.k},
                   {"clients", o.c},
                   {"submit_s", round3(submit_s)},
                   {"wall_s", round3(wall_s)},
                   {"server_window_s", round3(server_s)},
                   {"tasks_per_s", round3(tasks / wall_s)},
                   {"requests_per_s", round3(o.n / wall_s)}});
}

void run_hop(const Options& o) {
  const int k = o.k;
  const std::string name = "bench_chain_" + std::to_string(k);
  install_template(o, chain_template(name, k));
  Api api(o.api);
  const std::string id = api.submit(name, json::object());
  json doc = wait_request(api, id, o.timeout_s, 20);

  std::map<std::string, json> by_id;
  for (const auto& t : doc["tasks"]) by_id[t["id"]] = t;
  std::vector<double> gap_ms, s2s_ms, run_ms;
  std::optional<int64_t> prev_start, prev_finish, first_start, last_finish;
  for (int i = 0; i < k; ++i) {
    const json& t = by_id.at(TaskId(i));
    auto s = parse_ts(t["started_at"]), f = parse_ts(t["finished_at"]);
    if (!s || !f) die("task t" + std::to_string(i) + " has no started_at/finished_at");
    if (i == 0) first_start = s;
    last_finish = f;
    run_ms.push_back(static_cast<double>(*f - *s) / 1000.0);
    if (prev_finish) {
      gap_ms.push_back(static_cast<double>(*s - *prev_finish) / 1000.0);
      s2s_ms.push_back(static_cast<double>(*s - *prev_start) / 1000.0);
    }
    prev_start = s;
    prev_finish = f;
  }
  auto created = parse_ts(doc["created_at"]), finished = parse_ts(doc["finished_at"]);
  report(
      "hop",
      {{"chain_length", k},
       {"hop_gap_p50_ms", round3(percentile(gap_ms, 50))},
       {"hop_gap_p99_ms", round3(percentile(gap_ms, 99))},
       {"hop_start_to_start_p50_ms", round3(percentile(s2s_ms, 50))},
       {"hop_start_to_start_p99_ms", round3(percentile(s2s_ms, 99))},
       {"hop_start_to_start_mean_ms", round3(mean(s2s_ms))},
       {"task_run_p50_ms", round3(percentile(run_ms, 50))},
       {"first_start_to_last_finish_ms",
        round3(static_cast<double>(*last_finish - *first_start) / 1000.0)},
       {"request_created_to_finished_ms",
        round3(created && finished ? static_cast<double>(*finished - *created) / 1000.0 : -1.0)}});
}

void run_fanout(const Options& o) {
  const std::string name = "bench_fanout";
  install_template(o, fanout_template(name));
  json items = json::array();
  for (int i = 0; i < o.fanout; ++i) items.push_back(i);
  Api api(o.api);
  const int64_t submit_us = now_us();
  auto t0 = Clock::now();
  const std::string id = api.submit(name, {{"items", items}});
  json doc = wait_request(api, id, o.timeout_s, 5);
  const double client_ms = seconds_since(t0) * 1000.0;
  auto created = parse_ts(doc["created_at"]), finished = parse_ts(doc["finished_at"]);
  auto started = parse_ts(doc["started_at"]);
  report("fanout",
         {{"instances", o.fanout},
          {"wall_ms", round3(static_cast<double>(*finished - submit_us) / 1000.0)},
          {"created_to_finished_ms", round3(static_cast<double>(*finished - *created) / 1000.0)},
          {"started_to_finished_ms",
           round3(started ? static_cast<double>(*finished - *started) / 1000.0 : -1.0)},
          {"client_observed_ms", round3(client_ms)}});
}

void run_submit(const Options& o) {
  const std::string name = "bench_chain_1";
  install_template(o, chain_template(name, 1));
  std::vector<std::vector<double>> lat(static_cast<size_t>(o.c));
  std::atomic<int> next{0};
  // Warm-up: one request per connection is not counted.
  auto t0 = Clock::now();
  parallel(o.c, [&](int t) {
    Api api(o.api);
    api.submit(name, json::object());
    auto& mine = lat[static_cast<size_t>(t)];
    while (next.fetch_add(1) < o.count) {
      auto s = Clock::now();
      api.submit(name, json::object());
      mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
    }
  });
  const double wall_s = seconds_since(t0);
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  report("submit", {{"requests", o.count},
                    {"connections", o.c},
                    {"wall_s", round3(wall_s)},
                    {"requests_per_s", round3(o.count / wall_s)},
                    {"latency_p50_ms", round3(percentile(all, 50))},
                    {"latency_p99_ms", round3(percentile(all, 99))},
                    {"latency_max_ms", round3(percentile(all, 100))}});
}

void run_pickup(const Options& o) {
  const std::string name = "bench_chain_1";
  install_template(o, chain_template(name, 1));
  Api api(o.api);
  std::vector<double> pick_ms, done_ms;
  for (int i = 0; i < o.count; ++i) {
    const std::string id = api.submit(name, json::object());
    json doc = wait_request(api, id, o.timeout_s, 2);
    auto created = parse_ts(doc["created_at"]);
    auto finished = parse_ts(doc["finished_at"]);
    auto started = parse_ts(doc["tasks"][0]["started_at"]);
    if (!created || !started || !finished) die("request " + id + " lacks timestamps");
    pick_ms.push_back(static_cast<double>(*started - *created) / 1000.0);
    done_ms.push_back(static_cast<double>(*finished - *created) / 1000.0);
  }
  report("pickup", {{"requests", o.count},
                    {"pickup_p50_ms", round3(percentile(pick_ms, 50))},
                    {"pickup_p99_ms", round3(percentile(pick_ms, 99))},
                    {"pickup_max_ms", round3(percentile(pick_ms, 100))},
                    {"created_to_finished_p50_ms", round3(percentile(done_ms, 50))},
                    {"created_to_finished_p99_ms", round3(percentile(done_ms, 99))}});
}

// ---------------------------------------------------------------------------
// waiting: N requests whose one task waits on an external job (rest_job)
// ---------------------------------------------------------------------------

// A stand-in for a remote job API (the shape rest_job drives: POST creates a job and
// answers its id, GET answers its status). Each job stays "running" for `hold` after it
// was created, then "done". Every poll's arrival time is recorded per job.
class JobServer {
 public:
  explicit JobServer(std::chrono::milliseconds hold) : hold_(hold) {
    svr_.new_task_queue = [] { return new httplib::ThreadPool(8); };
    svr_.set_tcp_nodelay(true);
    svr_.Post("/jobs", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string key = req.get_header_value("Idempotency-Key");
      std::lock_guard lk(mu_);
      auto it = by_key_.find(key);
      size_t id;
      if (it != by_key_.end() && !key.empty()) {
        id = it->second;  // a repeated create answers the same job
      } else {
        id = jobs_.size();
        jobs_.push_back({Clock::now(), {}});
        if (!key.empty()) by_key_[key] = id;
      }
      res.status = 201;
      res.set_content(json{{"id", std::to_string(id)}}.dump(), "application/json");
    });
    svr_.Get(R"(/jobs/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      const auto now = Clock::now();
      const size_t id = std::stoul(req.matches[1].str());
      std::lock_guard lk(mu_);
      if (id >= jobs_.size()) {
        res.status = 404;
        return;
      }
      Job& job = jobs_[id];
      job.polls.push_back(now);
      const bool done = now >= job.created + hold_;
      if (done && job.done_at == Clock::time_point{}) job.done_at = now;
      res.set_content(
          json{{"id", std::to_string(id)}, {"status", done ? "done" : "running"}}.dump(),
          "application/json");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) die("job server: cannot bind a loopback port");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
  }
  ~JobServer() {
    svr_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  size_t created() {
    std::lock_guard lk(mu_);
    return jobs_.size();
  }
  size_t done() {
    std::lock_guard lk(mu_);
    size_t n = 0;
    for (const auto& j : jobs_) n += j.done_at != Clock::time_point{};
    return n;
  }
  // Lateness of every poll: arrival - (previous poll, or the creation, + interval), ms.
  std::vector<double> lateness_ms(std::chrono::milliseconds interval, size_t* polls) {
    std::lock_guard lk(mu_);
    std::vector<double> out;
    *polls = 0;
    for (const auto& j : jobs_) {
      auto prev = j.created;
      for (auto t : j.polls) {
        out.push_back(std::chrono::duration<double, std::milli>(t - (prev + interval)).count());
        prev = t;
      }
      *polls += j.polls.size();
    }
    return out;
  }

 private:
  struct Job {
    Clock::time_point created;
    std::vector<Clock::time_point> polls;
    Clock::time_point done_at{};
  };
  std::chrono::milliseconds hold_;
  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<Job> jobs_;
  std::map<std::string, size_t> by_key_;
};

// VmRSS (bytes) and Threads of a process, from /proc/<pid>/status; {-1, -1} if unreadable.
std::pair<int64_t, int> proc_usage(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  int64_t rss = -1;
  int threads = -1;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stoll(line.substr(6)) * 1024;
    if (line.rfind("Threads:", 0) == 0) threads = std::stoi(line.substr(8));
  }
  return {rss, threads};
}

json waiting_template(const std::string& name, int port, int interval_ms) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port) + "/jobs";
  return {{"name", name},
          {"version", "1"},
          {"description", "benchmark: one task waiting on an external job"},
          {"tasks", json::array({{{"id", "wait"},
                                  {"type", "rest_job"},
                                  {"params",
                                   {{"create", {{"url", base}, {"job_id", "/id"}}},
                                    {"poll",
                                     {{"url", base + "/{job_id}"},
                                      {"status", "/status"},
                                      {"success", json::array({"done"})},
                                      {"failure", json::array({"failed"})},
                                      {"interval_ms", interval_ms}}}}}}})}};
}

// Pages GET /v1/requests for one template and status; calls fn(request) for each.
template <typename Fn>
int list_requests(Api& api, const std::string& tmpl, const std::string& status,
                  const std::string& since, Fn fn) {
  int n = 0;
  std::string cursor;
  for (;;) {
    std::string path = "/v1/requests?template=" + tmpl + "&status=" + status + "&limit=1000";
    if (!since.empty()) path += "&created_after=" + url_encode(since);
    if (!cursor.empty()) path += "&cursor=" + url_encode(cursor);
    auto page = api.get(path);
    if (!page) die("listing requests failed");
    for (const auto& r : (*page)["requests"]) {
      ++n;
      fn(r);
    }
    if (!(*page)["next_cursor"].is_string()) return n;
    cursor = (*page)["next_cursor"];
  }
}

// True when no request of the template is pending or running: two one-row listings, so
// waiting for a large run to end does not load the database it measures.
bool none_unfinished(Api& api, const std::string& tmpl, const std::string& since) {
  for (const char* status : {"pending", "running"}) {
    std::string path = "/v1/requests?template=" + tmpl + "&status=" + status + "&limit=1";
    if (!since.empty()) path += "&created_after=" + url_encode(since);
    auto page = api.get(path);
    if (!page) die("listing requests failed");
    if (!(*page)["requests"].empty()) return false;
  }
  return true;
}

void fail_if_any_failed(Api& api, const std::string& tmpl, const std::string& since) {
  std::string path = "/v1/requests?template=" + tmpl + "&status=failed&limit=1";
  if (!since.empty()) path += "&created_after=" + url_encode(since);
  auto bad = api.get(path);
  if (bad && !(*bad)["requests"].empty()) die("a request failed: " + (*bad)["requests"][0].dump());
}

void run_waiting(const Options& o) {
  const auto interval = std::chrono::milliseconds(o.interval_ms);
  JobServer jobs(std::chrono::seconds(o.hold_s));
  const std::string name = "bench_waiting";
  install_template(o, waiting_template(name, jobs.port(), o.interval_ms));

  const std::string since = format_ts(now_us() - 1000);
  std::atomic<int> next{0};
  auto t0 = Clock::now();
  parallel(o.c, [&](int) {
    Api api(o.api);
    while (next.fetch_add(1) < o.n) api.submit(name, json::object());
  });
  const double submit_s = seconds_since(t0);

  // Wait until every job exists (every task has started and is waiting), then sample the
  // engine while they all wait, until the first job is done.
  while (jobs.created() < static_cast<size_t>(o.n)) {
    if (seconds_since(t0) > o.timeout_s)
      die("only " + std::to_string(jobs.created()) + " of " + std::to_string(o.n) +
          " jobs created within the timeout (engine.max_inflight below N?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double all_waiting_s = seconds_since(t0);
  int64_t rss_max = -1;
  int threads_max = -1, samples = 0;
  do {
    if (o.engine_pid > 0) {
      auto [rss, threads] = proc_usage(o.engine_pid);
      rss_max = std::max(rss_max, rss);
      threads_max = std::max(threads_max, threads);
      ++samples;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (jobs.done() == 0);

  Api api(o.api);
  int succeeded = 0;
  for (;;) {
    if (none_unfinished(api, name, since)) {
      fail_if_any_failed(api, name, since);
      succeeded = list_requests(api, name, "succeeded", since, [](const json&) {});
      if (succeeded >= o.n) break;
    }
    if (seconds_since(t0) > o.timeout_s)
      die("only " + std::to_string(succeeded) + " of " + std::to_string(o.n) +
          " requests succeeded within the timeout");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const double wall_s = seconds_since(t0);
  size_t polls = 0;
  std::vector<double> late = jobs.lateness_ms(interval, &polls);
  report("waiting", {{"requests", o.n},
                     {"hold_s", o.hold_s},
                     {"recheck_interval_ms", o.interval_ms},
                     {"submit_s", round3(submit_s)},
                     {"all_waiting_after_s", round3(all_waiting_s)},
                     {"wall_s", round3(wall_s)},
                     {"engine_rss_mb_max",
                      round3(rss_max < 0 ? -1.0 : static_cast<double>(rss_max) / 1048576)},
                     {"engine_threads_max", threads_max},
                     {"engine_samples", samples},
                     {"polls", static_cast<int64_t>(polls)},
                     {"recheck_lateness_p50_ms", round3(percentile(late, 50))},
                     {"recheck_lateness_p99_ms", round3(percentile(late, 99))},
                     {"recheck_lateness_max_ms", round3(percentile(late, 100))}});
}

// ---------------------------------------------------------------------------
// backlog: B requests queued with no engine running, then drained by one engine
// ---------------------------------------------------------------------------

void run_backlog(const Options& o) {
  const std::string name = "bench_backlog";
  if (o.phase == "submit") {
    install_template(o, chain_template(name, 1));
    std::atomic<int> next{0};
    auto t0 = Clock::now();
    parallel(o.c, [&](int) {
      Api api(o.api);
      while (next.fetch_add(1) < o.n) api.submit(name, json::object());
    });
    const double submit_s = seconds_since(t0);
    report("backlog_submit", {{"requests", o.n},
                              {"clients", o.c},
                              {"submit_s", round3(submit_s)},
                              {"requests_per_s", round3(o.n / submit_s)}});
    return;
  }
  if (o.phase != "drain") die("backlog: --phase submit|drain");
  // Every request of the template is this run's (a throw-away stack).
  Api api(o.api);
  auto t0 = Clock::now();
  int64_t first_started = INT64_MAX, last_finished = 0, first_finished = INT64_MAX;
  for (;;) {
    if (!none_unfinished(api, name, "")) {
      if (seconds_since(t0) > o.timeout_s) die("the backlog did not drain within the timeout");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    first_started = INT64_MAX;
    last_finished = 0;
    first_finished = INT64_MAX;
    int n = list_requests(api, name, "succeeded", "", [&](const json& r) {
      if (auto s = parse_ts(r["started_at"])) first_started = std::min(first_started, *s);
      if (auto f = parse_ts(r["finished_at"])) {
        last_finished = std::max(last_finished, *f);
        first_finished = std::min(first_finished, *f);
      }
    });
    if (n >= o.n) break;
    fail_if_any_failed(api, name, "");
    if (seconds_since(t0) > o.timeout_s)
      die("only " + std::to_string(n) + " of " + std::to_string(o.n) +
          " requests succeeded within the timeout");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const double drain_s = static_cast<double>(last_finished - first_started) / 1e6;
  report("backlog", {{"requests", o.n},
                     {"drain_s", round3(drain_s)},
                     {"requests_per_s", round3(o.n / drain_s)},
                     {"first_started_to_first_finished_ms",
                      round3(static_cast<double>(first_finished - first_started) / 1000.0)}});
}

void usage() {
  std::cout
      << "usage: wf-bench SCENARIO [options]\n"
         "scenarios:\n"
         "  chain    N requests x a chain of K noop tasks, C concurrent clients (tasks/s)\n"
         "  hop      one request, a chain of K (default 200) noop tasks (ms per hop)\n"
         "  fanout   one request: 1 -> F parallel noop (for_each) -> 1 (wall time)\n"
         "  submit   API ingest only, COUNT requests on C keep-alive connections\n"
         "  pickup   COUNT requests one at a time: submit -> first task started\n"
         "  waiting  N requests (default 10000) whose task polls a local job server every\n"
         "           --interval-ms until the job ends after --hold-s: engine RSS, threads,\n"
         "           recheck lateness\n"
         "  backlog  --phase submit: queue N one-task requests (run with no engine);\n"
         "           --phase drain: wait until they succeeded, report the drain rate\n"
         "options:\n"
         "  --api URL          API base URL (default: $WF_API_URL, else http://127.0.0.1:8470)\n"
         "  --templates DIR    the stack's templates folder; bench templates are written there\n"
         "  -n N               requests: chain (default 2000), waiting (10000), backlog (1000)\n"
         "  -k K               chain: tasks per request (default 5); hop: chain length (200)\n"
         "  -c C               concurrent submitting clients (default 32)\n"
         "  --count M          submit: requests (default 20000); pickup: requests (200)\n"
         "  --fanout F         fanout: instances (default 1000)\n"
         "  --timeout S        give up after S seconds (default 600)\n"
         "  --hold-s S         waiting: how long each job runs (default 20)\n"
         "  --interval-ms MS   waiting: the task's recheck interval (default 1000)\n"
         "  --engine-pid PID   waiting: the engine process to sample (RSS, threads)\n"
         "  --phase P          backlog: submit or drain\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* env = std::getenv("WF_API_URL")) o.api = env;
  if (o.api.empty()) o.api = "http://127.0.0.1:8470";
  if (const char* env = std::getenv("WF_TEMPLATES_DIR")) o.templates_dir = env;
  bool count_set = false, k_set = false, n_set = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto value = [&](size_t& i) -> std::string {
    if (i + 1 >= args.size()) die("missing value for " + args[i]);
    return args[++i];
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (a == "--api") {
      o.api = value(i);
    } else if (a == "--templates") {
      o.templates_dir = value(i);
    } else if (a == "-n") {
      o.n = std::stoi(value(i));
      n_set = true;
    } else if (a == "-k") {
      o.k = std::stoi(value(i));
      k_set = true;
    } else if (a == "-c") {
      o.c = std::stoi(value(i));
    } else if (a == "--count") {
      o.count = std::stoi(value(i));
      count_set = true;
    } else if (a == "--fanout") {
      o.fanout = std::stoi(value(i));
    } else if (a == "--timeout") {
      o.timeout_s = std::stoi(value(i));
    } else if (a == "--hold-s") {
      o.hold_s = std::stoi(value(i));
    } else if (a == "--interval-ms") {
      o.interval_ms = std::stoi(value(i));
    } else if (a == "--engine-pid") {
      o.engine_pid = std::stoi(value(i));
    } else if (a == "--phase") {
      o.phase = value(i);
    } else if (o.scenario.empty() && !a.empty() && a[0] != '-') {
      o.scenario = a;
    } else {
      die("unknown argument: " + a + " (see --help)");
    }
  }
  if (o.scenario.empty()) {
    usage();
    return 2;
  }
  if (o.n < 1 || o.k < 1 || o.c < 1 || o.count < 1 || o.fanout < 1 || o.hold_s < 0 ||
      o.interval_ms < 1)
    die("counts must be >= 1");
  try {
    if (o.scenario == "chain") {
      run_chain(o);
    } else if (o.scenario == "hop") {
      if (!k_set) o.k = 200;
      run_hop(o);
    } else if (o.scenario == "fanout") {
      run_fanout(o);
    } else if (o.scenario == "submit") {
      run_submit(o);
    } else if (o.scenario == "pickup") {
      if (!count_set) o.count = 200;
      run_pickup(o);
    } else if (o.scenario == "waiting") {
      if (!n_set) o.n = 10000;
      run_waiting(o);
    } else if (o.scenario == "backlog") {
      if (!n_set) o.n = 1000;
      run_backlog(o);
    } else {
      die("unknown scenario: " + o.scenario + " (see --help)");
    }
  } catch (const std::exception& e) {
    die(e.what());
  }
  return 0;
}
