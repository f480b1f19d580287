#include "remote_api.h"
#include "wf/core/crypto.h"

#include <algorithm>

namespace wf::remote {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxJsonDepth = 64;

}  // namespace

std::string JoinUrl(std::string_view base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::string out(base);
  out += '/';
  out += path;
  return out;
}

void AddAuth(HttpRequest* req, const Auth& auth) {
  if (!auth.token.empty()) {
    req->headers.emplace_back("Authorization", "Bearer " + auth.token);
  } else if (!auth.user.empty()) {
    req->headers.emplace_back("Authorization",
                              "Basic " + Base64Encode(auth.user + ":" + auth.password));
  }
}

Result<json> ParseJson(std::string_view body, size_t limit) {
  if (body.size() > limit) {
    return Status::Invalid("the response is larger than " + std::to_string(limit) + " bytes");
  }
  if (JsonNestingDepth(body, kMaxJsonDepth) > kMaxJsonDepth) {
    return Status::Invalid("the response nests deeper than " + std::to_string(kMaxJsonDepth));
  }
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::Invalid("the response is not JSON");
  return doc;
}

std::string Printable(std::string_view text, size_t limit) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < limit; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
  }
  if (text.size() > limit) out += "...";
  // Cutting may split a UTF-8 sequence; nlohmann would refuse the message later.
  if (!IsValidUtf8(out)) {
    for (char& c : out) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  return out;
}

std::string ErrorText(std::string_view body) {
  auto doc = ParseJson(body);
  if (!doc.ok() || !doc->is_object()) return Printable(body);
  std::string text;
  auto append = [&](const std::string& part) {
    if (part.empty()) return;
    if (!text.empty()) text += "; ";
    text += part;
  };
  auto str = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  if (auto it = doc->find("errors"); it != doc->end() && it->is_array()) {
    for (const auto& e : *it) {
      if (!e.is_object()) {
        append(str(e));
        continue;
      }
      std::string part = e.contains("title") ? str(e["title"]) : "";
      if (e.contains("detail")) {
        if (!part.empty()) part += ": ";
        part += str(e["detail"]);
      }
      if (auto src = e.find("source"); src != e.end() && src->contains("pointer")) {
        part += " (at " + str((*src)["pointer"]) + ")";
      }
      append(part);
    }
  } else if (auto d = doc->find("detail"); d != doc->end()) {
    append(str(*d));
  } else {
    for (const auto& [key, value] : doc->items()) {
      if (value.is_array()) {
        std::string joined;
        for (const auto& v : value) {
          if (!joined.empty()) joined += ' ';
          joined += str(v);
        }
        append(key + ": " + joined);
      } else {
        append(key + ": " + str(value));
      }
    }
  }
  return Printable(text.empty() ? std::string(body) : text);
}

Reply Exchange(HttpRequest req, const TaskContext& ctx, const std::string& what, bool expect_json) {
  Reply reply;
  const auto now = Clock::now();
  const auto deadline = ctx.deadline();
  if (deadline != Clock::time_point{} && deadline != Clock::time_point::max()) {
    if (deadline <= now) {
      reply.kind = Reply::Kind::kRetry;
      reply.error = what + ": the task's deadline passed before the call";
      return reply;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    if (left < req.timeout_ms) req.timeout_ms = std::max<long>(1, static_cast<long>(left));
    req.connect_timeout_ms = std::min(req.connect_timeout_ms, req.timeout_ms);
  }
  req.max_response_bytes = std::max(req.max_response_bytes, kMaxJsonBytes + 1);
  HttpErrorKind kind = HttpErrorKind::kNone;
  auto r = HttpCall(req, &kind);
  if (!r.ok()) {
    reply.error_kind = kind;
    reply.kind = kind == HttpErrorKind::kConnect || kind == HttpErrorKind::kTimeout
                     ? Reply::Kind::kRetry
                     : Reply::Kind::kFail;
    reply.error = what + ": " + r.status().message();
    return reply;
  }
  reply.status = r->status;
  if (r->status < 200 || r->status >= 300) {
    reply.kind = r->status == 429 || r->status >= 500 ? Reply::Kind::kRetry : Reply::Kind::kFail;
    reply.error = what + ": HTTP " + std::to_string(r->status);
    std::string text = ErrorText(r->body);
    if (!text.empty()) reply.error += ": " + text;
    return reply;
  }
  if (!expect_json) {
    reply.body = std::move(r->body);
    return reply;
  }
  if (r->body.empty()) return reply;
  auto doc = ParseJson(r->body);
  if (!doc.ok()) {
    reply.kind = Reply::Kind::kFail;
    reply.error = what + ": HTTP " + std::to_string(r->status) + ", but " + doc.status().message();
    return reply;
  }
  reply.doc = std::move(*doc);
  return reply;
}

std::optional<TaskOutcome> SaveState(TaskContext& ctx, const std::string& key, const json& value) {
  Status s = ctx.state().Set(key, value);
  if (s.ok()) return std::nullopt;
  return TaskOutcome::Failed("task state unavailable, saving '" + key + "': " + s.message(), true);
}

std::optional<TaskOutcome> SaveStates(TaskContext& ctx,
                                      std::initializer_list<std::pair<const char*, json>> kv) {
  for (const auto& [key, value] : kv) {
    if (auto o = SaveState(ctx, key, value)) return o;
  }
  return std::nullopt;
}

TaskOutcome RetryLater(TaskContext& ctx, const Reply& reply, std::chrono::milliseconds base,
                       int max_retries) {
  auto saved = ctx.state().Get("retries");
  int64_t n = saved.ok() && saved->has_value() && (*saved)->is_number_integer()
                  ? (*saved)->get<int64_t>()
                  : 0;
  if (n >= max_retries) {
    return TaskOutcome::Failed(
        reply.error + " (still failing after " + std::to_string(n) + " tries in a row)", true);
  }
  if (auto o = SaveState(ctx, "retries", n + 1)) return *o;
  ctx.log().warn("{}; trying again later ({} of {})", reply.error, n + 1, max_retries);
  auto delay = std::chrono::milliseconds(60000);
  if (n < 20) delay = std::min(delay, base * (int64_t{1} << n));
  return TaskOutcome::Pending(std::max(delay, std::chrono::milliseconds(1)));
}

Status CallSucceeded(TaskContext& ctx) {
  auto has = ctx.state().Has("retries");
  if (!has.ok()) return has.status();
  return *has ? ctx.state().Erase("retries") : Status::Ok();
}

std::string ParamPath(std::string_view pointer) {
  std::string out = "params";
  size_t i = 0;
  while (i < pointer.size()) {
    if (pointer[i] == '/') {
      out += '.';
      ++i;
      continue;
    }
    if (pointer[i] == '~' && i + 1 < pointer.size()) {
      out += pointer[i + 1] == '1' ? '/' : '~';
      i += 2;
      continue;
    }
    out += pointer[i++];
  }
  return out;
}

TaskOutcome InvalidParams(const Status& s) {
  return TaskOutcome::Failed("invalid params: " + s.message() + " (at " + ParamPath(s.path()) +
                             ")");
}

Status ParamChecker::Unknown(const std::vector<std::string_view>& known) const {
  for (const auto& [key, _] : params.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Status::Invalid("unknown param", JsonPathJoin(path, key));
    }
  }
  return Status::Ok();
}

Status ParamChecker::String(const char* key, bool required, bool non_empty) const {
  auto it = params.find(key);
  if (it == params.end()) {
    return required
               ? Status::Invalid(std::string("'") + key + "' is required", JsonPathJoin(path, key))
               : Status::Ok();
  }
  if (Expr(*it)) return Status::Ok();
  if (!it->is_string()) {
    return Status::Invalid(std::string("must be a string, not ") + JsonTypeName(*it),
                           JsonPathJoin(path, key));
  }
  if (non_empty && it->get_ref<const std::string&>().empty()) {
    return Status::Invalid("must not be empty", JsonPathJoin(path, key));
  }
  return Status::Ok();
}

Status ParamChecker::Bool(const char* key) const {
  auto it = params.find(key);
  if (it == params.end() || Expr(*it) || it->is_boolean()) return Status::Ok();
  return Status::Invalid(std::string("must be a boolean, not ") + JsonTypeName(*it),
                         JsonPathJoin(path, key));
}

Status ParamChecker::Object(const char* key) const {
  auto it = params.find(key);
  if (it == params.end() || Expr(*it) || it->is_object()) return Status::Ok();
  return Status::Invalid(std::string("must be an object, not ") + JsonTypeName(*it),
                         JsonPathJoin(path, key));
}

Status ParamChecker::Int(const char* key, int64_t lo, int64_t hi) const {
  auto it = params.find(key);
  if (it == params.end() || Expr(*it)) return Status::Ok();
  bool ok = false;
  if (it->is_number_unsigned()) {
    auto u = it->get<uint64_t>();
    ok = hi >= 0 && u <= static_cast<uint64_t>(hi) && (lo <= 0 || u >= static_cast<uint64_t>(lo));
  } else if (it->is_number_integer()) {
    ok = it->get<int64_t>() >= lo && it->get<int64_t>() <= hi;
  }
  if (ok) return Status::Ok();
  return Status::Invalid("must be an integer from " + std::to_string(lo) + " to " +
                             std::to_string(hi) + ", not " + it->dump(),
                         JsonPathJoin(path, key));
}

Status ParamChecker::Url(const char* key, bool required) const {
  if (Status s = String(key, required); !s.ok()) return s;
  auto it = params.find(key);
  if (it == params.end() || Expr(*it)) return Status::Ok();
  const auto& text = it->get_ref<const std::string&>();
  if (text.rfind("http://", 0) != 0 && text.rfind("https://", 0) != 0) {
    return Status::Invalid("must be an http:// or https:// URL", JsonPathJoin(path, key));
  }
  return Status::Ok();
}

}  // namespace wf::remote
