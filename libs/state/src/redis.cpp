#include "wf/redis.h"

#include <hiredis/hiredis.h>

namespace wf {

struct Redis::Conn {
  redisContext* ctx = nullptr;
  ~Conn() {
    if (ctx) redisFree(ctx);
  }
};

namespace {

RedisReply Convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

}  // namespace

Redis::Redis(std::string url, size_t pool_size, int timeout_ms)
    : url_(std::move(url)), timeout_ms_(timeout_ms) {
  // redis://host:port[/db]
  std::string rest = url_;
  if (rest.rfind("redis://", 0) == 0) rest = rest.substr(8);
  auto slash = rest.find('/');
  if (slash != std::string::npos) {
    db_ = std::atoi(rest.substr(slash + 1).c_str());
    rest = rest.substr(0, slash);
  }
  auto at = rest.rfind('@');
  if (at != std::string::npos) rest = rest.substr(at + 1);
  auto colon = rest.rfind(':');
  if (colon != std::string::npos) {
    port_ = std::atoi(rest.substr(colon + 1).c_str());
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) host_ = rest;
  for (size_t i = 0; i < std::max<size_t>(pool_size, 1); ++i) {
    free_.push_back(std::make_unique<Conn>());
  }
}

Redis::~Redis() = default;

Result<Redis::Conn*> Redis::Connect(Conn* c) {
  if (c->ctx && c->ctx->err == 0) return c;
  if (c->ctx) {
    redisFree(c->ctx);
    c->ctx = nullptr;
  }
  timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
  redisContext* ctx = redisConnectWithTimeout(host_.c_str(), port_, tv);
  if (!ctx || ctx->err) {
    std::string err = ctx ? ctx->errstr : "out of memory";
    if (ctx) redisFree(ctx);
    return Status::Unavailable("redis " + host_ + ":" + std::to_string(port_) +
                               " unavailable: " + err);
  }
  redisSetTimeout(ctx, tv);
  c->ctx = ctx;
  if (db_ != 0) {
    auto* r = static_cast<redisReply*>(redisCommand(ctx, "SELECT %d", db_));
    if (r) freeReplyObject(r);
  }
  return c;
}

Result<RedisReply> Redis::Command(const std::vector<std::string>& argv) {
  std::unique_ptr<Conn> conn;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    conn = std::move(free_.back());
    free_.pop_back();
  }
  Result<RedisReply> result = Status::Internal("unreachable");
  auto ready = Connect(conn.get());
  if (!ready.ok()) {
    result = ready.status();
  } else {
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const auto& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(conn->ctx, static_cast<int>(args.size()), args.data(), lens.data()));
    if (!r) {
      result = Status::Unavailable(std::string("redis command failed: ") + conn->ctx->errstr);
      redisFree(conn->ctx);
      conn->ctx = nullptr;
    } else if (r->type == REDIS_REPLY_ERROR) {
      result = Status::Internal(std::string("redis error: ") + std::string(r->str, r->len));
      freeReplyObject(r);
    } else {
      result = Convert(r);
      freeReplyObject(r);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(conn));
  }
  cv_.notify_one();
  return result;
}

}  // namespace wf
