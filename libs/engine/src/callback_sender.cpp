#include "wf/callback_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "wf/core/crypto.h"
#include "wf/db.h"
#include "wf/http_client.h"
#include "wf/request_store.h"

namespace wf {
namespace {

constexpr const char* kChannel = "wf_callbacks";

class Wakeup : public pqxx::notification_receiver {
 public:
  explicit Wakeup(pqxx::connection_base& c) : pqxx::notification_receiver(c, kChannel) {}
  void operator()(const std::string&, int) override {}
};

}  // namespace

std::string CallbackSignature(const std::string& key, const std::string& timestamp,
                              const std::string& body) {
  return "sha256=" + HmacSha256Hex(key, timestamp + "." + body);
}

Result<std::string> LoadCallbackKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Invalid("callbacks.signing_key_file: cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string key = ss.str();
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
  if (key.size() < 16) {
    return Status::Invalid("callbacks.signing_key_file: '" + path +
                           "' holds a key shorter than 16 bytes");
  }
  return key;
}

class CallbackSender::Impl {
 public:
  Impl(const Config::Callbacks& config, std::string key, Database& db, std::string owner)
      : cfg_(config), key_(std::move(key)), db_(db), store_(db), owner_(std::move(owner)) {}

  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // A claim lease outlives one delivery attempt, so no other sender takes a callback that
  // is being delivered.
  int LeaseMs() const { return cfg_.timeout_ms * 2 + 5000; }

  void Pause(int ms) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_; });
  }

  bool stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

  void Loop() {
    std::unique_ptr<pqxx::connection> listen;
    std::unique_ptr<Wakeup> wakeup;
    int backoff_ms = 100;
    while (!stopping()) {
      if (!listen) {
        try {
          listen = std::make_unique<pqxx::connection>(db_.url());
          wakeup = std::make_unique<Wakeup>(*listen);
          backoff_ms = 100;
        } catch (const std::exception& e) {
          wakeup.reset();
          listen.reset();
          spdlog::warn("callbacks: cannot listen: {} (retrying in {} ms)", e.what(), backoff_ms);
          Pause(backoff_ms);
          backoff_ms = std::min(backoff_ms * 2, 5000);
          continue;
        }
      }
      auto jobs = store_.ClaimCallbacks(owner_, cfg_.concurrency, LeaseMs());
      if (!jobs.ok()) {
        spdlog::warn("callbacks: claim failed: {} (retrying in {} ms)", jobs.status().ToString(),
                     backoff_ms);
        Pause(backoff_ms);
        backoff_ms = std::min(backoff_ms * 2, 5000);
        continue;
      }
      if (!jobs->empty()) {
        DeliverAll(std::move(*jobs));
        continue;  // more may be due
      }
      try {
        // Retries come due without a notification: poll at least every half second, and
        // stop promptly (Stop() cannot interrupt this wait).
        listen->await_notification(0, 500 * 1000);
      } catch (const std::exception& e) {
        spdlog::warn("callbacks: listen connection lost: {}", e.what());
        wakeup.reset();
        listen.reset();
      }
    }
    wakeup.reset();
    listen.reset();
  }

  void DeliverAll(std::vector<CallbackJob> jobs) {
    std::vector<std::thread> threads;
    threads.reserve(jobs.size());
    for (auto& job : jobs) threads.emplace_back([this, &job] { Deliver(job); });
    for (auto& t : threads) t.join();
  }

  void Deliver(const CallbackJob& job) {
    HttpRequest req;
    req.method = "POST";
    req.url = job.url;
    req.body = job.payload.dump();
    const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    req.headers = {{"Content-Type", "application/json"},
                   {"Idempotency-Key", job.request_id},
                   {"X-WF-Request-Id", job.request_id},
                   {"X-WF-Timestamp", ts},
                   {"X-WF-Signature", CallbackSignature(key_, ts, req.body)}};
    req.timeout_ms = cfg_.timeout_ms;
    req.connect_timeout_ms = std::min(cfg_.timeout_ms, 5000);
    req.max_response_bytes = 64 << 10;

    const auto start = std::chrono::steady_clock::now();
    auto res = HttpCall(req);
    CallbackAttempt a;
    a.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    if (!res.ok()) {
      a.error = res.status().message();
    } else {
      a.http_status = res->status;
      if (res->status < 200 || res->status > 299) {
        a.error = "HTTP " + std::to_string(res->status);
      }
    }
    const int attempt = job.attempts + 1;
    const int64_t retry_in = RetryDelayMs(attempt);
    Status s = store_.RecordCallbackAttempt(owner_, job, a, retry_in, cfg_.max_attempts);
    if (!s.ok()) {
      spdlog::warn("callbacks: request {}: cannot record attempt {}: {}", job.request_id, attempt,
                   s.ToString());
    } else if (a.error.empty()) {
      spdlog::info("callbacks: request {}: delivered to {} (attempt {}, HTTP {})", job.request_id,
                   DisplayUrl(job.url), attempt, a.http_status);
    } else if (attempt >= cfg_.max_attempts) {
      spdlog::error("callbacks: request {}: giving up on {} after {} attempts: {}", job.request_id,
                    DisplayUrl(job.url), attempt, a.error);
    } else {
      spdlog::warn("callbacks: request {}: attempt {} to {} failed: {} (retry in {} ms)",
                   job.request_id, attempt, DisplayUrl(job.url), a.error, retry_in);
    }
  }

  int64_t RetryDelayMs(int attempt) {
    constexpr int64_t kMaxMs = 3600 * 1000;
    int64_t delay = cfg_.retry_base_ms;
    for (int i = 1; i < attempt && delay < kMaxMs; ++i) delay *= 2;
    delay = std::min(delay, kMaxMs);
    std::lock_guard<std::mutex> lock(mu_);
    // Up to 20 % jitter, so that a receiver coming back is not hit by every retry at once.
    return delay + std::uniform_int_distribution<int64_t>(0, delay / 5)(rng_);
  }

  const Config::Callbacks cfg_;
  const std::string key_;
  Database& db_;
  RequestStore store_;
  const std::string owner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::mt19937_64 rng_{std::random_device{}()};
  std::thread thread_;
};

CallbackSender::CallbackSender(const Config::Callbacks& config, std::string key, Database& db,
                               std::string owner)
    : impl_(std::make_unique<Impl>(config, std::move(key), db, std::move(owner))) {}
CallbackSender::~CallbackSender() { impl_->Stop(); }
void CallbackSender::Start() { impl_->Start(); }
void CallbackSender::Stop() { impl_->Stop(); }

}  // namespace wf
