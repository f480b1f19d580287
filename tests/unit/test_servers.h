// Local servers for unit tests of task modules that talk to outside systems: an HTTP
// server (cpp-httplib) and a minimal SMTP receiver that stands in for a mail server. Both
// listen on a free loopback port and stop in their destructors.
#pragma once

#include "double_server.h"  // LocalHttpServer

#include <httplib.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wf::test {

// Speaks enough of RFC 5321 (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and of
// RFC 4954 AUTH PLAIN to accept messages and keep them. One connection at a time.
class SmtpReceiver {
 public:
  struct Message {
    std::string helo;
    std::string auth_user;          // who authenticated (AUTH PLAIN), "" if nobody
    std::string mail_from;          // the MAIL FROM argument, e.g. "<a@b>"
    std::vector<std::string> rcpt;  // RCPT TO arguments
    std::string data;               // the message as received, dot-unstuffed, CRLF kept
  };

  SmtpReceiver();
  ~SmtpReceiver();
  int port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }

  // The reply to every RCPT TO (default "250 OK"), e.g. "451 4.3.0 try again later".
  void SetRcptReply(const std::string& reply);
  // Advertises AUTH PLAIN and requires these credentials before MAIL.
  void RequireAuth(const std::string& user, const std::string& password);
  std::vector<Message> messages();
  // Waits until `n` messages were accepted (at most 30 s, against a hang); true if they were.
  // A message is kept before its "250" is sent, so after a successful send it is here.
  bool WaitForMessages(size_t n);

 private:
  void Serve();
  void Handle(int fd);

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string rcpt_reply_ = "250 OK";
  std::string auth_user_, auth_password_;
  std::vector<Message> messages_;
  bool stopping_ = false;
};

}  // namespace wf::test
