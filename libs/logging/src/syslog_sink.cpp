#include "wf/syslog_sink.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "wf/logging.h"
#include "wf/redact.h"

namespace wf {
namespace {

constexpr size_t kSealReserve = 1024;  // seals may go this far past the queue bound
constexpr size_t kBatch = 256;         // lines taken from the queue at once

int Severity(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return 7;
    case spdlog::level::info:
      return 6;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::err:
      return 3;
    case spdlog::level::critical:
      return 2;
    default:
      return 6;
  }
}

std::string Timestamp(spdlog::log_clock::time_point t) {
  auto since = t.time_since_epoch();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
  std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

SyslogMessage::SdParams IdParams(const LogIds& ids) {
  SyslogMessage::SdParams p;
  if (!ids.trace_id.empty()) p.emplace_back("trace_id", ids.trace_id);
  if (!ids.request_id.empty()) p.emplace_back("request_id", ids.request_id);
  if (!ids.task_id.empty()) p.emplace_back("task_id", ids.task_id);
  return p;
}

bool WaitFd(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  return r > 0 && (p.revents & (events | POLLERR | POLLHUP));
}

}  // namespace

Result<SyslogEndpoint> ParseSyslogUrl(const std::string& url) {
  SyslogEndpoint ep;
  std::string rest;
  if (url.rfind("tcp://", 0) == 0) {
    rest = url.substr(6);
  } else if (url.rfind("udp://", 0) == 0) {
    ep.tcp = false;
    rest = url.substr(6);
  } else {
    return Status::Invalid("'" + url + "': expected tcp://host:port or udp://host:port");
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return Status::Invalid("'" + url + "': unclosed '['");
    ep.host = rest.substr(1, close - 1);
    colon = close + 1;
    if (colon >= rest.size() || rest[colon] != ':') colon = std::string::npos;
  } else {
    colon = rest.rfind(':');
    if (colon != std::string::npos) ep.host = rest.substr(0, colon);
  }
  if (colon == std::string::npos) return Status::Invalid("'" + url + "': a port is required");
  if (ep.host.empty()) return Status::Invalid("'" + url + "': a host is required");
  ep.port = rest.substr(colon + 1);
  bool digits = !ep.port.empty() && ep.port.size() <= 5;
  for (char c : ep.port) digits = digits && c >= '0' && c <= '9';
  if (!digits || std::stoi(ep.port) < 1 || std::stoi(ep.port) > 65535) {
    return Status::Invalid("'" + url + "': port must be a number in [1, 65535]");
  }
  return ep;
}

Result<int> ParseSyslogFacility(const std::string& text) {
  static const char* kNames[] = {"kern", "user", "mail", "daemon", "auth",     "syslog",
                                 "lpr",  "news", "uucp", "cron",   "authpriv", "ftp"};
  for (int i = 0; i < 12; ++i) {
    if (text == kNames[i]) return i;
  }
  if (text.size() == 6 && text.rfind("local", 0) == 0 && text[5] >= '0' && text[5] <= '7') {
    return 16 + (text[5] - '0');
  }
  bool digits = !text.empty() && text.size() <= 2;
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  if (digits && std::stoi(text) <= 23) return std::stoi(text);
  return Status::Invalid("'" + text + "' is not a syslog facility (user, daemon, local0..local7 " +
                         "or a number 0..23)");
}

SyslogSink::SyslogSink(LogShipOptions options, SyslogEndpoint endpoint)
    : options_(std::move(options)), endpoint_(std::move(endpoint)) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  hostname_ = host;
  proc_id_ = std::to_string(getpid());
}

Result<std::shared_ptr<SyslogSink>> SyslogSink::Create(const LogShipOptions& options) {
  auto ep = ParseSyslogUrl(options.url);
  if (!ep.ok()) return ep.status();
  std::shared_ptr<SyslogSink> sink(new SyslogSink(options, *ep));
  sink->thread_ = std::thread([raw = sink.get()] { raw->Run(); });
  return sink;
}

SyslogSink::~SyslogSink() { Stop(0); }

std::string SyslogSink::Fit(SyslogMessage& m) const {
  std::string out = FormatSyslog5424(m);
  if (out.size() <= options_.max_message_bytes) return out;
  static const std::string kCut = " [truncated]";
  size_t overhead = out.size() - m.message.size() + kCut.size() + 3;  // 3: a BOM
  if (overhead >= options_.max_message_bytes) return {};
  size_t keep = std::min(m.message.size(), options_.max_message_bytes - overhead);
  while (keep > 0 && (static_cast<unsigned char>(m.message[keep]) & 0xC0) == 0x80) keep--;
  m.message.resize(keep);
  m.message += kCut;
  out = FormatSyslog5424(m);
  return out.size() <= options_.max_message_bytes ? out : std::string();
}

std::string SyslogSink::Format(const spdlog::details::log_msg& msg) const {
  SyslogMessage m;
  m.facility = options_.facility;
  m.severity = Severity(msg.level);
  m.timestamp = Timestamp(msg.time);
  m.hostname = hostname_;
  m.app_name = options_.app_name;
  m.proc_id = proc_id_;
  auto ids = IdParams(CurrentLogIds());
  if (!ids.empty()) m.structured_data.emplace_back(std::string(kSyslogSdId), std::move(ids));
  m.message = RedactLine(std::string_view(msg.payload.data(), msg.payload.size()));
  return Fit(m);
}

void SyslogSink::log(const spdlog::details::log_msg& msg) {
  if (!should_log(msg.level)) return;
  std::string line = Format(msg);
  if (line.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    dropped_++;
    return;
  }
  Enqueue(std::move(line), false);
}

void SyslogSink::SendSeal(const std::string& trace_id, const std::string& request_id) {
  SyslogMessage m;
  m.facility = options_.facility;
  m.severity = 6;
  m.timestamp = Timestamp(spdlog::log_clock::now());
  m.hostname = hostname_;
  m.app_name = options_.app_name;
  m.proc_id = proc_id_;
  m.msg_id = "seal";
  m.structured_data.push_back(
      {std::string(kSyslogSdId), IdParams(LogIds{trace_id, request_id, ""})});
  m.message = "request log complete";
  Enqueue(FormatSyslog5424(m), true);
}

void SyslogSink::Enqueue(std::string message, bool seal) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t limit = options_.queue + (seal ? kSealReserve : 0);
    if (stop_ || queue_.size() >= limit) {
      dropped_++;
      return;
    }
    queue_.push_back(std::move(message));
  }
  cv_.notify_one();
}

void SyslogSink::Stop(int timeout_ms) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!stop_) {
      drained_.wait_for(lock, std::chrono::milliseconds(std::max(0, timeout_ms)),
                        [&] { return queue_.empty() && !sending_; });
      stop_ = true;
    }
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  dropped_ += static_cast<int64_t>(queue_.size());
  queue_.clear();
}

LogShippingStats SyslogSink::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  LogShippingStats s;
  s.enabled = true;
  s.queued = static_cast<int64_t>(queue_.size());
  s.sent = sent_;
  s.dropped = dropped_;
  s.reconnects = reconnects_;
  s.connected = connected_;
  return s;
}

bool SyslogSink::Connect() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = endpoint_.tcp ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(endpoint_.host.c_str(), endpoint_.port.c_str(), &hints, &res) != 0) return false;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int r = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r < 0 && errno == EINPROGRESS && WaitFd(fd, POLLOUT, options_.send_timeout_ms)) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      r = err == 0 ? 0 : -1;
    }
    if (r == 0) {
      fd_ = fd;
      break;
    }
    ::close(fd);
  }
  freeaddrinfo(res);
  return fd_ >= 0;
}

void SyslogSink::Disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::lock_guard<std::mutex> lock(mu_);
  connected_ = false;
}

bool SyslogSink::PeerClosed() {
  if (!endpoint_.tcp) return false;
  char b;
  ssize_t r = ::recv(fd_, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r == 0) return true;
  return r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

bool SyslogSink::WriteAll(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
        WaitFd(fd_, POLLOUT, options_.send_timeout_ms)) {
      continue;
    }
    return false;
  }
  return true;
}

void SyslogSink::Run() {
  int backoff_ms = 100;
  std::deque<std::string> batch;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) break;
    lock.unlock();
    if (fd_ < 0) {
      if (!Connect()) {
        lock.lock();
        cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stop_; });
        backoff_ms = std::min(backoff_ms * 2, 2000);
        continue;
      }
      backoff_ms = 100;
      std::lock_guard<std::mutex> g(mu_);
      connected_ = true;
      if (connects_++ > 0) reconnects_++;
    }
    if (PeerClosed()) {
      Disconnect();
      lock.lock();
      continue;
    }
    lock.lock();
    while (!queue_.empty() && batch.size() < kBatch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    sending_ = true;
    lock.unlock();
    size_t sent = 0;
    int64_t failed_udp = 0;
    bool broken = false;
    for (const auto& line : batch) {
      if (endpoint_.tcp) {
        if (!WriteAll(std::to_string(line.size()) + " " + line)) {
          broken = true;
          break;
        }
        sent++;
      } else {
        ssize_t n = ::send(fd_, line.data(), line.size(), MSG_NOSIGNAL);
        if (n == static_cast<ssize_t>(line.size())) {
          sent++;
        } else {
          failed_udp++;  // a datagram is not retried
        }
      }
    }
    if (broken) Disconnect();
    lock.lock();
    sent_ += static_cast<int64_t>(sent);
    dropped_ += failed_udp;
    // Lines of a broken write go back to the head of the queue, in order.
    for (size_t i = batch.size(); i > sent + static_cast<size_t>(failed_udp); --i) {
      queue_.push_front(std::move(batch[i - 1]));
    }
    batch.clear();
    sending_ = false;
    if (queue_.empty()) drained_.notify_all();
  }
  lock.unlock();
  if (fd_ >= 0) Disconnect();
}

}  // namespace wf
