#include "wf/syslog_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <vector>

namespace wf {
namespace {

// Bytes read from one connection per wake-up, and datagrams per wake-up: a busy client
// gets its turn like the others.
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kDatagramsPerWake = 64;

struct Connection {
  int fd;
  SyslogFramer framer;
  std::string peer;
  std::chrono::steady_clock::time_point last_read;
};

// Closes the connections that sent nothing for `idle_timeout_s` (when > 0).
void CloseIdle(std::list<Connection>* conns, int idle_timeout_s, LogMetrics& metrics) {
  if (idle_timeout_s <= 0) return;
  const auto cutoff = std::chrono::steady_clock::now() - std::chrono::seconds(idle_timeout_s);
  for (auto it = conns->begin(); it != conns->end();) {
    if (it->last_read > cutoff) {
      ++it;
      continue;
    }
    if (it->framer.pending_bytes() > 0) {
      metrics.dropped_truncated.fetch_add(1, std::memory_order_relaxed);
    }
    spdlog::info("syslog: closing idle tcp connection from {}", it->peer);
    ::close(it->fd);
    it = conns->erase(it);
  }
  metrics.connections.store(conns->size(), std::memory_order_relaxed);
}

Status SysError(const std::string& what) {
  return Status::Unavailable(what + ": " + std::strerror(errno));
}

Result<int> OpenSocket(int type, const std::string& bind, int port, int* bound_port) {
  const int fd = ::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return SysError("socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, bind.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return Status::Invalid("syslog.bind: '" + bind + "' is not an IPv4 address");
  }
  const std::string where =
      (type == SOCK_DGRAM ? "udp " : "tcp ") + bind + ":" + std::to_string(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Status s = SysError("cannot bind " + where);
    ::close(fd);
    return s;
  }
  if (type == SOCK_STREAM && ::listen(fd, 128) != 0) {
    Status s = SysError("cannot listen on " + where);
    ::close(fd);
    return s;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *bound_port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

SyslogReceiver::SyslogReceiver(ReceiverOptions options, LogMetrics& metrics, Handler handler)
    : options_(std::move(options)), metrics_(metrics), handler_(std::move(handler)) {}

SyslogReceiver::~SyslogReceiver() {
  Stop();
  for (int fd : {udp_fd_, tcp_fd_, wake_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

Status SyslogReceiver::Bind() {
  auto udp = OpenSocket(SOCK_DGRAM, options_.bind, options_.udp_port, &udp_port_);
  if (!udp.ok()) return udp.status();
  udp_fd_ = *udp;
  const int rcvbuf = 4 << 20;
  ::setsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  auto tcp = OpenSocket(SOCK_STREAM, options_.bind, options_.tcp_port, &tcp_port_);
  if (!tcp.ok()) return tcp.status();
  tcp_fd_ = *tcp;
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return SysError("eventfd");
  return Status::Ok();
}

void SyslogReceiver::Start() {
  thread_ = std::thread([this] { Run(); });
}

void SyslogReceiver::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
}

void SyslogReceiver::Deliver(std::string_view raw) {
  auto parsed = ParseSyslog(raw, options_.limits);
  if (!parsed.ok()) {
    metrics_.dropped_parse.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("syslog: dropped a message: {}", parsed.status().message());
    return;
  }
  handler_(*parsed, raw);
}

void SyslogReceiver::Run() {
  const size_t max_frame = options_.limits.max_message_bytes;
  std::list<Connection> conns;
  std::vector<pollfd> fds;
  std::vector<std::list<Connection>::iterator> order;  // conns in fds order (from index 3)
  std::vector<char> dgram(max_frame + 1);
  std::vector<char> chunk(kReadChunk);

  auto close_conn = [&](std::list<Connection>::iterator it) {
    ::close(it->fd);
    conns.erase(it);
    metrics_.connections.store(conns.size(), std::memory_order_relaxed);
  };

  while (true) {
    fds.clear();
    order.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({udp_fd_, POLLIN, 0});
    fds.push_back({tcp_fd_, POLLIN, 0});
    for (auto it = conns.begin(); it != conns.end(); ++it) {
      fds.push_back({it->fd, POLLIN, 0});
      order.push_back(it);
    }
    // Without an idle limit poll() waits for traffic; with one, until the next connection
    // would time out.
    const auto idle = std::chrono::seconds(options_.idle_timeout_s);
    int timeout_ms = -1;
    if (options_.idle_timeout_s > 0 && !conns.empty()) {
      auto oldest = conns.front().last_read;
      for (const auto& c : conns) oldest = std::min(oldest, c.last_read);
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          oldest + idle - std::chrono::steady_clock::now());
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, 60000));
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("syslog: poll: {}", std::strerror(errno));
      break;
    }
    if (fds[0].revents != 0) break;

    if (fds[1].revents & POLLIN) {
      for (int k = 0; k < kDatagramsPerWake; ++k) {
        const ssize_t n = ::recv(udp_fd_, dgram.data(), dgram.size(), MSG_TRUNC);
        if (n < 0) break;  // EAGAIN, or an error we cannot do anything about
        metrics_.bytes_udp.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        if (static_cast<size_t>(n) > max_frame) {
          metrics_.dropped_oversize.fetch_add(1, std::memory_order_relaxed);
          metrics_.received_udp.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        std::string_view raw(dgram.data(), static_cast<size_t>(n));
        // Some senders end datagrams with LF or NUL.
        while (!raw.empty() && (raw.back() == '\n' || raw.back() == '\0' || raw.back() == '\r')) {
          raw.remove_suffix(1);
        }
        Deliver(raw);
        // Counted once handled, so a reader that sees the count sees the effects.
        metrics_.received_udp.fetch_add(1, std::memory_order_relaxed);
      }
    }

    if (fds[2].revents & POLLIN) {
      while (true) {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        const int fd = ::accept4(tcp_fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        if (conns.size() >= options_.max_connections) {
          metrics_.dropped_connections.fetch_add(1, std::memory_order_relaxed);
          ::close(fd);
          continue;
        }
        char ip[INET_ADDRSTRLEN] = "?";
        ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        conns.push_back(Connection{fd, SyslogFramer(max_frame),
                                   std::string(ip) + ":" + std::to_string(ntohs(peer.sin_port)),
                                   std::chrono::steady_clock::now()});
        metrics_.connections.store(conns.size(), std::memory_order_relaxed);
      }
    }

    for (size_t i = 3; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto it = order[i - 3];
      const ssize_t n = ::recv(it->fd, chunk.data(), chunk.size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (n <= 0) {
        if (it->framer.pending_bytes() > 0) {
          metrics_.dropped_truncated.fetch_add(1, std::memory_order_relaxed);
        }
        close_conn(it);
        continue;
      }
      metrics_.bytes_tcp.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      it->last_read = std::chrono::steady_clock::now();
      Status s = it->framer.Feed(std::string_view(chunk.data(), static_cast<size_t>(n)),
                                 [&](std::string_view frame) {
                                   Deliver(frame);
                                   metrics_.received_tcp.fetch_add(1, std::memory_order_relaxed);
                                 });
      if (!s.ok()) {
        metrics_.dropped_frame.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("syslog: closing tcp connection from {}: {}", it->peer, s.message());
        close_conn(it);
      }
    }
    CloseIdle(&conns, options_.idle_timeout_s, metrics_);
  }
  for (auto& c : conns) ::close(c.fd);
  metrics_.connections.store(0, std::memory_order_relaxed);
}

}  // namespace wf
