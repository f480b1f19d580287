#include "double_server.h"

#include <stdexcept>

namespace wf::test {

LocalHttpServer::LocalHttpServer() {
  server_.new_task_queue = [] { return new httplib::ThreadPool(16); };
  server_.set_tcp_nodelay(true);  // no Nagle delay on small answers
}

LocalHttpServer::~LocalHttpServer() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

void LocalHttpServer::Start() {
  // One request per connection: a kept-alive connection would hold stop() for seconds.
  server_.set_keep_alive_max_count(1);
  port_ = server_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("test double: cannot bind a loopback port");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  // The socket listens already (connections queue); this only waits for the accept loop.
  for (int i = 0; i < 500 && !server_.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void FailurePlan::Add(const std::string& call, int status, int times, std::string body) {
  failures_[call] = {status, times, std::move(body)};
}

bool FailurePlan::Take(const std::string& call, httplib::Response& res) {
  auto it = failures_.find(call);
  if (it == failures_.end() || it->second.times <= 0) return false;
  it->second.times--;
  res.status = it->second.status;
  res.set_content(it->second.body, "application/json");
  return true;
}

}  // namespace wf::test
