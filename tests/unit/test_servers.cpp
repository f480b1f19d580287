#include "test_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace wf::test {

SmtpReceiver::SmtpReceiver() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("cannot listen on a loopback port");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

SmtpReceiver::~SmtpReceiver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  shutdown(listen_fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
}

void SmtpReceiver::SetRcptReply(const std::string& reply) {
  std::lock_guard<std::mutex> lock(mu_);
  rcpt_reply_ = reply;
}

void SmtpReceiver::RequireAuth(const std::string& user, const std::string& password) {
  std::lock_guard<std::mutex> lock(mu_);
  auth_user_ = user;
  auth_password_ = password;
}

std::vector<SmtpReceiver::Message> SmtpReceiver::messages() {
  std::lock_guard<std::mutex> lock(mu_);
  return messages_;
}

bool SmtpReceiver::WaitForMessages(size_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(30), [&] { return stopping_ || messages_.size() >= n; });
  return messages_.size() >= n;
}

void SmtpReceiver::Serve() {
  while (true) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) < 0) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    if (!(p.revents & POLLIN)) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Handle(fd);
    close(fd);
  }
}

namespace {

std::string Base64Decode(const std::string& in) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    size_t v = kAlphabet.find(c);
    if (v == std::string::npos) continue;  // '=' padding
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

}  // namespace

void SmtpReceiver::Handle(int fd) {
  std::string buffer;
  std::string want_user, want_password;
  {
    std::lock_guard<std::mutex> lock(mu_);
    want_user = auth_user_;
    want_password = auth_password_;
  }
  std::string authenticated;
  auto send_line = [&](const std::string& line) {
    std::string out = line + "\r\n";
    return ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
  };
  // One line without its CRLF; false on EOF or error.
  auto read_line = [&](std::string* line) {
    while (true) {
      size_t eol = buffer.find("\r\n");
      if (eol != std::string::npos) {
        *line = buffer.substr(0, eol);
        buffer.erase(0, eol + 2);
        return true;
      }
      char chunk[4096];
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(n));
    }
  };
  auto upper_verb = [](const std::string& line) {
    std::string verb = line.substr(0, line.find(' '));
    for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return verb;
  };
  if (!send_line("220 localhost test SMTP receiver")) return;
  Message current;
  std::string line;
  while (read_line(&line)) {
    std::string verb = upper_verb(line);
    std::string arg = line.size() > verb.size() ? line.substr(verb.size() + 1) : "";
    if (verb == "EHLO" || verb == "HELO") {
      current = Message{};
      current.helo = arg;
      if (verb == "EHLO") {
        send_line("250-localhost");
        if (!want_user.empty()) send_line("250-AUTH PLAIN");
        send_line("250-8BITMIME");
        send_line("250 SIZE 10485760");
      } else {
        send_line("250 localhost");
      }
    } else if (verb == "AUTH") {
      // "AUTH PLAIN <base64>" or "AUTH PLAIN", then the base64 on the next line.
      std::string response = arg.size() > 6 ? arg.substr(6) : "";
      if (response.empty()) {
        send_line("334 ");
        if (!read_line(&response)) return;
      }
      std::string plain = Base64Decode(response);  // authzid \0 authcid \0 password
      size_t a = plain.find('\0');
      size_t b = a == std::string::npos ? a : plain.find('\0', a + 1);
      if (b != std::string::npos && plain.substr(a + 1, b - a - 1) == want_user &&
          plain.substr(b + 1) == want_password && !want_user.empty()) {
        authenticated = want_user;
        send_line("235 2.7.0 authenticated");
      } else {
        send_line("535 5.7.8 authentication failed");
      }
    } else if (verb == "MAIL") {
      if (!want_user.empty() && authenticated.empty()) {
        send_line("530 5.7.0 authentication required");
        continue;
      }
      current.auth_user = authenticated;
      current.mail_from = arg.substr(arg.find(':') + 1);
      current.mail_from = current.mail_from.substr(0, current.mail_from.find(' '));
      send_line("250 OK");
    } else if (verb == "RCPT") {
      std::string reply;
      {
        std::lock_guard<std::mutex> lock(mu_);
        reply = rcpt_reply_;
      }
      if (reply.rfind("250", 0) == 0) current.rcpt.push_back(arg.substr(arg.find(':') + 1));
      send_line(reply);
    } else if (verb == "DATA") {
      if (current.rcpt.empty()) {
        send_line("554 no valid recipients");
        continue;
      }
      send_line("354 end data with <CR><LF>.<CR><LF>");
      std::string data;
      bool ended = false;
      while (read_line(&line)) {
        if (line == ".") {
          ended = true;
          break;
        }
        if (!line.empty() && line[0] == '.') line.erase(0, 1);
        data += line + "\r\n";
      }
      if (!ended) return;
      current.data = data;
      {
        std::lock_guard<std::mutex> lock(mu_);
        messages_.push_back(current);
      }
      cv_.notify_all();
      send_line("250 OK queued");
      current.rcpt.clear();
    } else if (verb == "RSET") {
      current.rcpt.clear();
      send_line("250 OK");
    } else if (verb == "NOOP") {
      send_line("250 OK");
    } else if (verb == "QUIT") {
      send_line("221 bye");
      return;
    } else {
      send_line("502 command not implemented");
    }
  }
}

}  // namespace wf::test
