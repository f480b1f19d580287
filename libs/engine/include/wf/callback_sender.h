// Delivers request callbacks: when a request with a callback_url ends, a row in
// `callbacks` is created by the same statement (a trigger), and any engine's sender
// POSTs the final status and outputs to the URL, signed, retrying with backoff.
//
//   POST <callback_url>
//   Content-Type: application/json
//   Idempotency-Key: <request id>          the same on every attempt
//   X-WF-Request-Id: <request id>
//   X-WF-Timestamp: <unix seconds>
//   X-WF-Signature: sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>
//
// A 2xx answer delivers the callback; anything else (or no answer) is retried after
// retry_base_ms * 2^(attempt-1) (at most an hour, with jitter) until max_attempts, then
// the callback is marked failed. Every attempt is recorded on the callback row, which
// the API shows on the request. Delivery is at least once: a receiver deduplicates by
// Idempotency-Key.
//
// One thread claims due callbacks (LISTEN wf_callbacks, polling as a fallback) under a
// lease, so several engines share the work; up to `concurrency` deliveries run at once.
#pragma once

#include <memory>
#include <string>

#include "wf/config.h"
#include "wf/core/status.h"

namespace wf {

class Database;

// The signature header's value for `body` sent at `timestamp` (unix seconds).
std::string CallbackSignature(const std::string& key, const std::string& timestamp,
                              const std::string& body);

// Reads the signing key file: its content without trailing whitespace, at least 16 bytes.
Result<std::string> LoadCallbackKey(const std::string& path);

class CallbackSender {
 public:
  CallbackSender(const Config::Callbacks& config, std::string key, Database& db, std::string owner);
  ~CallbackSender();

  void Start();
  void Stop();  // waits for the deliveries in flight (bounded by their timeout)

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wf
