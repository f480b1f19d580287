#include "wf/presence.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

#include "wf/logging.h"

namespace wf {
namespace {

std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string HostName() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

Presence::Presence(Redis& redis, std::string kind, std::string id, std::string version,
                   std::function<json()> describe, int interval_ms)
    : redis_(redis),
      kind_(std::move(kind)),
      id_(std::move(id)),
      version_(std::move(version)),
      started_at_(NowUtc()),
      describe_(std::move(describe)),
      interval_ms_(interval_ms) {}

Presence::~Presence() { Stop(); }

void Presence::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      Beat();
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [&] { return stop_; });
    }
  });
}

void Presence::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  redis_.Command({"DEL", "wf:presence:" + kind_ + ":" + id_});
}

void Presence::Beat() {
  json record = {{"kind", kind_},
                 {"id", id_},
                 {"host", HostName()},
                 {"pid", static_cast<int>(getpid())},
                 {"version", version_},
                 {"started_at", started_at_},
                 {"heartbeat_at", NowUtc()},
                 {"state", "running"}};
  LogShippingStats ship = LogShipStats();
  if (ship.enabled) {
    record["log_shipping"] = {{"queued", ship.queued},
                              {"sent", ship.sent},
                              {"dropped", ship.dropped},
                              {"reconnects", ship.reconnects},
                              {"connected", ship.connected}};
  }
  if (describe_) {
    json extra = describe_();
    if (extra.is_object()) record.update(extra);
  }
  int ttl_s = std::max(1, interval_ms_ * 3 / 1000);
  auto r = redis_.Command(
      {"SET", "wf:presence:" + kind_ + ":" + id_, record.dump(), "EX", std::to_string(ttl_s)});
  if (!r.ok()) spdlog::warn("presence heartbeat failed: {}", r.status().message());
}

Result<std::vector<json>> ListPresence(Redis& redis) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto r = redis.Command({"SCAN", cursor, "MATCH", "wf:presence:*", "COUNT", "200"});
    if (!r.ok()) return r.status();
    if (r->elements.size() != 2) return Status::Internal("unexpected SCAN reply");
    cursor = r->elements[0].str;
    for (const auto& k : r->elements[1].elements) keys.push_back(k.str);
  } while (cursor != "0");
  std::vector<json> out;
  if (keys.empty()) return out;
  std::vector<std::string> argv = {"MGET"};
  argv.insert(argv.end(), keys.begin(), keys.end());
  auto r = redis.Command(argv);
  if (!r.ok()) return r.status();
  for (const auto& e : r->elements) {
    if (e.type != RedisReply::Type::kString) continue;  // expired between SCAN and MGET
    json v = json::parse(e.str, nullptr, false);
    if (!v.is_discarded()) out.push_back(std::move(v));
  }
  return out;
}

}  // namespace wf
