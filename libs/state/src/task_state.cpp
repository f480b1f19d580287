#include "wf/redis_task_state.h"

namespace wf {

RedisTaskState::RedisTaskState(Redis& redis, const std::string& request_id,
                               const std::string& task_id)
    : redis_(redis), key_(Key(request_id, task_id)) {}

std::string RedisTaskState::Key(const std::string& request_id, const std::string& task_id) {
  return "wf:state:" + request_id + ":" + task_id;
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
  auto r = redis_.Command({"HSET", key_, key, value.dump()});
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

}  // namespace wf
