// wf-syslog: receives syslog (UDP, TCP), stores it per trace and request, serves it over
// HTTP and optionally forwards it upstream. Wires the libraries together.
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "wf/core/ids.h"
#include "wf/log_metrics.h"
#include "wf/log_server.h"
#include "wf/logstore.h"
#include "wf/presence.h"
#include "wf/redis.h"
#include "wf/service.h"
#include "wf/syslog_forwarder.h"
#include "wf/syslog_receiver.h"

namespace {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Writes the bound ports as JSON, atomically, for whoever started us on port 0.
bool WritePortsFile(const std::string& path, int udp, int tcp, int http) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << nlohmann::json{{"udp", udp}, {"tcp", tcp}, {"http", http}}.dump() << "\n";
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string ports_file;
  wf::ServiceInit init = wf::InitService(
      "wf-syslog", argc, argv,
      {{"--ports-file", "write the bound ports as JSON {\"udp\",\"tcp\",\"http\"} to this file",
        &ports_file}});
  if (init.exit_now) return init.exit_code;
  const wf::Config::Syslog& cfg = init.config.syslog;

  std::unique_ptr<wf::SyslogForwarder> forwarder;
  wf::LogMetrics metrics;
  if (!cfg.forward_url.empty()) {
    auto target = wf::ParseForwardUrl(cfg.forward_url);
    if (!target.ok()) {
      spdlog::critical("configuration error: {}", target.status().message());
      return 2;
    }
    forwarder =
        std::make_unique<wf::SyslogForwarder>(*target, static_cast<size_t>(cfg.forward_queue),
                                              &metrics.forwarded, &metrics.dropped_forward);
  }

  wf::LogStore store(cfg.dir);
  if (wf::Status s = store.Open(); !s.ok()) {
    spdlog::critical("log store: {}", s.message());
    return 1;
  }
  spdlog::info("log store {}", cfg.dir);

  wf::ReceiverOptions ropts;
  ropts.bind = cfg.bind;
  ropts.udp_port = cfg.udp_port;
  ropts.tcp_port = cfg.tcp_port;
  ropts.max_connections = static_cast<size_t>(cfg.max_connections);
  ropts.idle_timeout_s = cfg.idle_timeout_s;
  ropts.limits.max_message_bytes = static_cast<size_t>(cfg.max_frame_bytes);
  ropts.limits.max_field_bytes = static_cast<size_t>(cfg.max_field_bytes);

  auto handle = [&](const wf::SyslogMessage& m, std::string_view) {
    wf::LogRecord r = wf::RecordFromSyslog(m, NowMicros());
    if (m.msg_id == "seal") {
      // A control message from the engine: the request has ended.
      bool created = false;
      auto seal = store.Seal(r.trace_id, r.request_id, &created);
      if (!seal.ok()) {
        metrics.dropped_bad_id.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("seal of request '{}' failed: {}", r.request_id, seal.status().message());
      } else if (created) {
        metrics.sealed.fetch_add(1, std::memory_order_relaxed);
      }
      return;
    }
    switch (store.Append(r)) {
      case wf::AppendResult::kStored:
        metrics.stored.fetch_add(1, std::memory_order_relaxed);
        break;
      case wf::AppendResult::kSealed:
        metrics.dropped_sealed.fetch_add(1, std::memory_order_relaxed);
        break;
      case wf::AppendResult::kBadId:
        metrics.dropped_bad_id.fetch_add(1, std::memory_order_relaxed);
        break;
      case wf::AppendResult::kIoError:
        metrics.dropped_io.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("log store: cannot write a line of app '{}'", r.app);
        break;
    }
    if (forwarder) forwarder->Enqueue(wf::FormatSyslog5424(m));
  };

  wf::SyslogReceiver receiver(ropts, metrics, handle);
  if (wf::Status s = receiver.Bind(); !s.ok()) {
    spdlog::critical("{}", s.message());
    return s.code() == wf::StatusCode::kInvalidArgument ? 2 : 1;
  }
  wf::LogServerOptions hopts;
  hopts.bind = cfg.bind;
  hopts.port = cfg.http_port;
  hopts.threads = cfg.http_threads;
  hopts.follow_timeout_s = cfg.follow_timeout_s;
  wf::LogServer server(hopts, store, metrics);
  if (!server.Bind()) return 1;
  spdlog::info("syslog on udp {}:{} and tcp {}:{}, http on {}:{}", cfg.bind, receiver.udp_port(),
               cfg.bind, receiver.tcp_port(), cfg.bind, server.port());
  if (!ports_file.empty() &&
      !WritePortsFile(ports_file, receiver.udp_port(), receiver.tcp_port(), server.port())) {
    spdlog::critical("cannot write the ports file {}", ports_file);
    return 1;
  }

  if (forwarder) forwarder->Start();
  receiver.Start();
  std::thread serving([&] { server.Serve(); });

  // Retention, at start and then every retention_interval_s.
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread retention([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      lock.unlock();
      const wf::RetentionResult r = store.RunRetention(
          std::chrono::system_clock::now(), std::chrono::hours(24) * cfg.retention_days,
          static_cast<uint64_t>(cfg.retention_max_bytes));
      if (r.deleted_requests > 0 || r.sealed_stale > 0) {
        spdlog::info("retention deleted {} request logs ({} bytes), sealed {} idle ones",
                     r.deleted_requests, r.deleted_bytes, r.sealed_stale);
      }
      metrics.sealed.fetch_add(static_cast<uint64_t>(r.sealed_stale));
      metrics.retention_deleted.fetch_add(static_cast<uint64_t>(r.deleted_requests));
      metrics.retention_deleted_bytes.fetch_add(r.deleted_bytes);
      lock.lock();
      cv.wait_for(lock, std::chrono::seconds(cfg.retention_interval_s), [&] { return stopping; });
    }
  });

  wf::Redis redis(init.config.redis_url, 2);
  const std::string id = "syslog-" + wf::NewUuid().substr(0, 8);
  wf::Presence presence(redis, "syslog", id, wf::Version(), [&] {
    return nlohmann::json{{"url", "http://" + cfg.bind + ":" + std::to_string(server.port())},
                          {"udp_port", receiver.udp_port()},
                          {"tcp_port", receiver.tcp_port()},
                          {"received", metrics.received_udp.load() + metrics.received_tcp.load()},
                          {"stored", metrics.stored.load()},
                          {"sealed", metrics.sealed.load()},
                          {"forwarded", metrics.forwarded.load()}};
  });
  presence.Start();

  const int sig = wf::WaitForStopSignal();
  spdlog::info("signal {}: stopping", sig);
  receiver.Stop();
  server.Stop();
  serving.join();
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
  }
  cv.notify_all();
  retention.join();
  if (forwarder) forwarder->Stop();
  presence.Stop();
  spdlog::info("stopped");
  wf::StopService();
  return 0;
}
