#include "wf/db.h"

#include <pqxx/pqxx>

namespace wf {

struct Database::Slot {
  std::unique_ptr<pqxx::connection> conn;
};

Database::Database(std::string url, size_t pool_size, std::string on_connect_sql)
    : url_(std::move(url)), on_connect_sql_(std::move(on_connect_sql)) {
  for (size_t i = 0; i < std::max<size_t>(pool_size, 1); ++i) {
    free_.push_back(std::make_unique<Slot>());
  }
}

Database::~Database() = default;

Status Database::Run(const std::function<void(pqxx::connection_base&)>& fn) {
  std::unique_ptr<Slot> slot;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    slot = std::move(free_.back());
    free_.pop_back();
  }
  Status status;
  try {
    if (!slot->conn || !slot->conn->is_open()) {
      slot->conn.reset();
      auto conn = std::make_unique<pqxx::connection>(url_);
      if (!on_connect_sql_.empty()) {
        pqxx::nontransaction tx(*conn);
        tx.exec(on_connect_sql_);
      }
      slot->conn = std::move(conn);
    }
    fn(*slot->conn);
  } catch (const pqxx::broken_connection& e) {
    slot->conn.reset();
    status = Status::Unavailable(std::string("database unavailable: ") + e.what());
  } catch (const pqxx::in_doubt_error& e) {
    slot->conn.reset();
    status = Status::Unavailable(std::string("database commit in doubt: ") + e.what());
  } catch (const pqxx::sql_error& e) {
    // A failed statement on a connection that since died shows up as an sql_error too.
    if (slot->conn && !slot->conn->is_open()) {
      slot->conn.reset();
      status = Status::Unavailable(std::string("database unavailable: ") + e.what());
    } else {
      status = Status::Internal(std::string("database error: ") + e.what());
    }
  } catch (const std::exception& e) {
    if (slot->conn && !slot->conn->is_open()) slot->conn.reset();
    status = Status::Internal(std::string("database error: ") + e.what());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(slot));
  }
  cv_.notify_one();
  return status;
}

Status Database::Ping() {
  return Run([](pqxx::connection_base& c) {
    pqxx::nontransaction tx(c);
    tx.exec("SELECT 1");
  });
}

std::string RedactUrl(const std::string& url) {
  // postgresql://user:password@host/db -> postgresql://user:***@host/db
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  auto at = url.find('@', scheme + 3);
  if (at == std::string::npos) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace wf
