#include "wf/core/expression.h"

#include <cctype>

namespace wf {
namespace {

bool IsSegmentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

std::string ToUpper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Status ParseOne(std::string_view inner, const std::string& json_path, Reference* ref) {
  ref->text = std::string(inner);
  auto bad = [&](const std::string& why) {
    return Status::Invalid("expression ${" + ref->text + "}: " + why, json_path);
  };
  if (inner.empty()) return bad("empty expression");
  // Normalize `a[0].b` into `a.0.b`.
  std::string norm;
  for (size_t i = 0; i < inner.size(); ++i) {
    char c = inner[i];
    if (c == '[') {
      size_t close = inner.find(']', i);
      if (close == std::string_view::npos || close == i + 1) return bad("malformed index");
      for (size_t j = i + 1; j < close; ++j) {
        if (!std::isdigit(static_cast<unsigned char>(inner[j])))
          return bad("index must be a number");
      }
      norm.push_back('.');
      norm.append(inner.substr(i + 1, close - i - 1));
      i = close;
    } else if (c == ' ' && (i == 0 || i + 1 == inner.size())) {
      return bad("no spaces allowed");
    } else {
      norm.push_back(c);
    }
  }
  std::vector<std::string> segments;
  size_t start = 0;
  while (true) {
    size_t dot = norm.find('.', start);
    std::string seg =
        norm.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (seg.empty()) return bad("empty path segment");
    for (char c : seg) {
      if (!IsSegmentChar(c)) return bad(std::string("unexpected character '") + c + "'");
    }
    segments.push_back(std::move(seg));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  ref->root = segments.front();
  ref->path.assign(segments.begin() + 1, segments.end());
  if (ref->root == "data" || ref->root == "item") return Status::Ok();
  if (ref->root == "index") {
    if (!ref->path.empty()) return bad("index has no fields");
    return Status::Ok();
  }
  if (ref->root == "request") {
    if (ref->path.size() != 1 ||
        (ref->path[0] != "id" && ref->path[0] != "trace_id" && ref->path[0] != "template")) {
      return bad("request has id, trace_id and template");
    }
    return Status::Ok();
  }
  if (ref->root == "tasks") {
    if (ref->path.size() < 2) return bad("expected tasks.<id>.outputs... or tasks.<id>.status");
    const std::string& field = ref->path[1];
    if (field == "status" || field == "error" || field == "attempts") {
      if (ref->path.size() != 2) return bad("tasks.<id>." + field + " has no fields");
      return Status::Ok();
    }
    if (field != "outputs") return bad("tasks.<id> has outputs, status, error and attempts");
    return Status::Ok();
  }
  if (ref->root == "secrets") {
    if (ref->path.size() != 1) return bad("expected secrets.<name>");
    return Status::Ok();
  }
  return bad("unknown root '" + ref->root +
             "' (expected data, tasks, request, item, index or secrets)");
}

// Walks `path` from `node`; on a miss, says which segment was missing.
Result<const json*> Walk(const json* node, const std::vector<std::string>& path, size_t from,
                         const Reference& ref, const std::string& json_path) {
  for (size_t i = from; i < path.size(); ++i) {
    const std::string& seg = path[i];
    if (node->is_object()) {
      auto it = node->find(seg);
      if (it == node->end()) {
        return Status::Invalid("expression ${" + ref.text + "}: no key '" + seg + "'", json_path);
      }
      node = &*it;
    } else if (node->is_array()) {
      bool numeric = !seg.empty() && seg.find_first_not_of("0123456789") == std::string::npos;
      if (!numeric || seg.size() > 9 || std::stoul(seg) >= node->size()) {
        return Status::Invalid("expression ${" + ref.text + "}: no index " + seg +
                                   " in an array of " + std::to_string(node->size()),
                               json_path);
      }
      node = &(*node)[std::stoul(seg)];
    } else {
      return Status::Invalid(
          "expression ${" + ref.text + "}: cannot take '" + seg + "' of a " + JsonTypeName(*node),
          json_path);
    }
  }
  return node;
}

Result<const json*> Lookup(const Reference& ref, const ExpressionScope& scope,
                           const std::string& json_path) {
  if (ref.root == "data") {
    if (!scope.data) return Status::Invalid("expression ${" + ref.text + "}: no data", json_path);
    return Walk(scope.data, ref.path, 0, ref, json_path);
  }
  if (ref.root == "item" || ref.root == "index") {
    const json* base = ref.root == "item" ? scope.item : scope.index;
    if (!base) {
      return Status::Invalid("expression ${" + ref.text + "}: only inside a for_each task",
                             json_path);
    }
    return Walk(base, ref.path, 0, ref, json_path);
  }
  if (ref.root == "request") {
    if (!scope.request) {
      return Status::Invalid("expression ${" + ref.text + "}: no request", json_path);
    }
    return Walk(scope.request, ref.path, 0, ref, json_path);
  }
  if (ref.root == "secrets") {
    if (!scope.secrets) {
      return Status::Invalid(
          "expression ${" + ref.text + "}: secrets are only available in task params", json_path);
    }
    auto it = scope.secrets->find(ref.path[0]);
    if (it == scope.secrets->end()) {
      return Status::Invalid("expression ${" + ref.text + "}: no secret named '" + ref.path[0] +
                                 "' (secrets_file or WF_SECRET_" + ToUpper(ref.path[0]) + ")",
                             json_path);
    }
    return &*it;
  }
  const json* task = scope.task ? scope.task(ref.path[0]) : nullptr;
  if (!task) {
    return Status::Invalid(
        "expression ${" + ref.text + "}: task '" + ref.path[0] + "' is not available here",
        json_path);
  }
  return Walk(task, ref.path, 1, ref, json_path);
}

struct Piece {
  bool is_ref;
  std::string literal;
  Reference ref;
};

Status Split(std::string_view text, const std::string& json_path, std::vector<Piece>* pieces) {
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      literal += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") == 0) {
      size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        return Status::Invalid("unterminated expression (missing '}')", json_path);
      }
      Piece p{true, {}, {}};
      Status s = ParseOne(text.substr(i + 2, close - i - 2), json_path, &p.ref);
      if (!s.ok()) return s;
      if (!literal.empty()) pieces->push_back(Piece{false, std::move(literal), {}});
      literal.clear();
      pieces->push_back(std::move(p));
      i = close + 1;
      continue;
    }
    literal.push_back(text[i++]);
  }
  if (!literal.empty()) pieces->push_back(Piece{false, std::move(literal), {}});
  return Status::Ok();
}

}  // namespace

Status ParseReferences(std::string_view text, const std::string& json_path,
                       std::vector<FoundReference>* out) {
  if (text.find("${") == std::string_view::npos) return Status::Ok();
  std::vector<Piece> pieces;
  Status s = Split(text, json_path, &pieces);
  if (!s.ok()) return s;
  for (auto& p : pieces) {
    if (p.is_ref) out->push_back(FoundReference{std::move(p.ref), json_path});
  }
  return Status::Ok();
}

Status CollectReferences(const json& value, const std::string& json_path,
                         std::vector<FoundReference>* out) {
  if (value.is_string())
    return ParseReferences(value.get_ref<const std::string&>(), json_path, out);
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      Status s = CollectReferences(it.value(), JsonPathJoin(json_path, it.key()), out);
      if (!s.ok()) return s;
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      Status s = CollectReferences(value[i], JsonPathJoin(json_path, i), out);
      if (!s.ok()) return s;
    }
  }
  return Status::Ok();
}

Result<json> ResolveExpressions(const json& value, const ExpressionScope& scope,
                                const std::string& json_path) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text.find("${") == std::string::npos) return value;
    std::vector<Piece> pieces;
    Status s = Split(text, json_path, &pieces);
    if (!s.ok()) return s;
    if (pieces.size() == 1 && pieces[0].is_ref) {
      auto found = Lookup(pieces[0].ref, scope, json_path);
      if (!found.ok()) return found.status();
      return **found;
    }
    std::string out;
    for (const auto& p : pieces) {
      if (!p.is_ref) {
        out += p.literal;
        continue;
      }
      auto found = Lookup(p.ref, scope, json_path);
      if (!found.ok()) return found.status();
      const json& v = **found;
      out += v.is_string() ? v.get<std::string>() : v.dump();
    }
    return json(std::move(out));
  }
  if (value.is_object()) {
    json out = json::object();
    for (auto it = value.begin(); it != value.end(); ++it) {
      auto r = ResolveExpressions(it.value(), scope, JsonPathJoin(json_path, it.key()));
      if (!r.ok()) return r.status();
      out[it.key()] = std::move(*r);
    }
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (size_t i = 0; i < value.size(); ++i) {
      auto r = ResolveExpressions(value[i], scope, JsonPathJoin(json_path, i));
      if (!r.ok()) return r.status();
      out.push_back(std::move(*r));
    }
    return out;
  }
  return value;
}

}  // namespace wf
