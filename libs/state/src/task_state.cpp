#include "wf/redis_task_state.h"

namespace wf {

RedisTaskState::RedisTaskState(Redis& redis, const std::string& request_id,
                               const std::string& task_id)
    : redis_(redis),
      key_(Key(request_id, task_id)),
      index_key_(IndexKey(request_id)),
      task_id_(task_id) {}

namespace {

// HSET the variable and remember that this task has state, in one round trip.
const char* kSetScript =
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) "
    "redis.call('SADD', KEYS[2], ARGV[3]) return 1";

// Expire every task hash listed in the index, then the index.
const char* kExpireScript =
    "for _, task in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
    "  redis.call('EXPIRE', ARGV[2] .. task, ARGV[1]) end "
    "redis.call('EXPIRE', KEYS[1], ARGV[1]) return 1";

}  // namespace

std::string RedisTaskState::Key(const std::string& request_id, const std::string& task_id) {
  return "wf:state:" + request_id + ":" + task_id;
}

std::string RedisTaskState::IndexKey(const std::string& request_id) {
  return "wf:state-tasks:" + request_id;
}

Result<std::optional<json>> RedisTaskState::Get(const std::string& key) {
  auto r = redis_.Command({"HGET", key_, key});
  if (!r.ok()) return r.status();
  if (r->type != RedisReply::Type::kString) return std::optional<json>();
  json value = json::parse(r->str, nullptr, false);
  if (value.is_discarded()) return Status::Internal("task variable '" + key + "' is not JSON");
  return std::optional<json>(std::move(value));
}

Status RedisTaskState::Set(const std::string& key, const json& value) {
  auto r = redis_.Command({"EVAL", kSetScript, "2", key_, index_key_, key, value.dump(), task_id_});
  return r.ok() ? Status::Ok() : r.status();
}

Result<bool> RedisTaskState::Has(const std::string& key) {
  auto r = redis_.Command({"HEXISTS", key_, key});
  if (!r.ok()) return r.status();
  return r->integer == 1;
}

Status RedisTaskState::Erase(const std::string& key) {
  auto r = redis_.Command({"HDEL", key_, key});
  return r.ok() ? Status::Ok() : r.status();
}

Result<json> RedisTaskState::All() {
  auto r = redis_.Command({"HGETALL", key_});
  if (!r.ok()) return r.status();
  json out = json::object();
  for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
    json v = json::parse(r->elements[i + 1].str, nullptr, false);
    out[r->elements[i].str] = v.is_discarded() ? json(r->elements[i + 1].str) : v;
  }
  return out;
}

Result<std::map<std::string, json>> LoadRequestState(Redis& redis, const std::string& request_id) {
  std::map<std::string, json> out;
  auto tasks = redis.Command({"SMEMBERS", RedisTaskState::IndexKey(request_id)});
  if (!tasks.ok()) return tasks.status();
  for (const auto& t : tasks->elements) {
    RedisTaskState state(redis, request_id, t.str);
    auto all = state.All();
    if (!all.ok()) return all.status();
    if (!all->empty()) out[t.str] = std::move(*all);
  }
  return out;
}

Status ExpireRequestState(Redis& redis, const std::string& request_id, int seconds) {
  auto r = redis.Command({"EVAL", kExpireScript, "1", RedisTaskState::IndexKey(request_id),
                          std::to_string(seconds), "wf:state:" + request_id + ":"});
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace wf
