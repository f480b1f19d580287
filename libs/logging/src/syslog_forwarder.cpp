#include "wf/syslog_forwarder.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wf {
namespace {

thread_local bool tls_sender_thread = false;

}  // namespace

bool SyslogForwarder::OnSenderThread() { return tls_sender_thread; }

Result<ForwardTarget> ParseForwardUrl(const std::string& url, const std::string& key) {
  ForwardTarget t;
  std::string rest;
  if (url.rfind("tcp://", 0) == 0) {
    rest = url.substr(6);
  } else if (url.rfind("udp://", 0) == 0) {
    t.tcp = false;
    rest = url.substr(6);
  } else {
    return Status::Invalid(key + ": '" + url + "' must be tcp://host:port or udp://host:port");
  }
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
    return Status::Invalid(key + ": '" + url + "' needs a host and a port");
  }
  t.host = rest.substr(0, colon);
  if (t.host.front() == '[' && t.host.back() == ']') t.host = t.host.substr(1, t.host.size() - 2);
  const std::string port = rest.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) < 1 || std::stoi(port) > 65535) {
    return Status::Invalid(key + ": port '" + port + "' is not in 1..65535");
  }
  t.port = std::stoi(port);
  if (t.host.find_first_of("/?#@ ") != std::string::npos) {
    return Status::Invalid(key + ": '" + url + "' has a bad host");
  }
  return t;
}

SyslogForwarder::SyslogForwarder(ForwardTarget target, size_t max_queue,
                                 std::atomic<uint64_t>* sent, std::atomic<uint64_t>* dropped)
    : target_(std::move(target)),
      max_queue_(max_queue),
      sent_(sent != nullptr ? sent : &own_sent_),
      dropped_(dropped != nullptr ? dropped : &own_dropped_) {}

SyslogForwarder::~SyslogForwarder() {
  Stop(0);
  Disconnect();
}

void SyslogForwarder::Start() {
  thread_ = std::thread([this] { Run(); });
}

void SyslogForwarder::Stop(int grace_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
    stop_deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SyslogForwarder::Enqueue(std::string message) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || queue_.size() >= max_queue_) {
      dropped_->fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(message));
  }
  cv_.notify_one();
}

void SyslogForwarder::Disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SyslogForwarder::Connect() {
  if (fd_ >= 0) return true;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = target_.tcp ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* res = nullptr;
  const int rc =
      ::getaddrinfo(target_.host.c_str(), std::to_string(target_.port).c_str(), &hints, &res);
  if (rc != 0) {
    if (!failing_) {
      spdlog::warn("syslog forward: cannot resolve {}: {}; retrying", target_.host,
                   ::gai_strerror(rc));
    }
    failing_ = true;
    return false;
  }
  int error = 0;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      if (target_.tcp) {
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      fd_ = fd;
      if (failing_) spdlog::info("syslog forward: connected to {}:{}", target_.host, target_.port);
      failing_ = false;
      break;
    }
    error = errno;
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (fd_ < 0) {
    if (!failing_) {
      spdlog::warn("syslog forward: cannot connect to {}:{}: {}; retrying", target_.host,
                   target_.port, std::strerror(error));
    }
    failing_ = true;
  }
  return fd_ >= 0;
}

bool SyslogForwarder::Send(const std::string& message) {
  std::string frame;
  if (target_.tcp) {
    frame = std::to_string(message.size()) + " " + message;
  } else {
    frame = message;
  }
  std::string_view rest = frame;
  while (!rest.empty()) {
    const ssize_t n = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (!target_.tcp) {
        // A datagram the upstream did not take is lost; the socket stays usable.
        dropped_->fetch_add(1, std::memory_order_relaxed);
        return true;
      }
      spdlog::warn("syslog forward: send to {}:{} failed: {}", target_.host, target_.port,
                   std::strerror(errno));
      return false;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  sent_->fetch_add(1, std::memory_order_relaxed);
  return true;
}

void SyslogForwarder::Run() {
  tls_sender_thread = true;
  int backoff_ms = 100;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping with nothing left
    if (stop_ && std::chrono::steady_clock::now() >= stop_deadline_) break;
    std::string message = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    const bool sent = Connect() && Send(message);
    lock.lock();
    if (sent) {
      backoff_ms = 100;
      continue;
    }
    // Keep the message and retry after a pause; the queue keeps filling meanwhile.
    Disconnect();
    queue_.push_front(std::move(message));
    if (stop_) break;
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stop_; });
    backoff_ms = std::min(backoff_ms * 2, 5000);
  }
  dropped_->fetch_add(queue_.size(), std::memory_order_relaxed);
  queue_.clear();
}

}  // namespace wf
