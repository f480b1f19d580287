// GET /v1/openapi.json and how well docs/openapi.yaml matches the routes the server answers.
#include <cctype>
#include <functional>
#include <set>
#include <sstream>

#include "harness.h"

namespace wf::test {
namespace {

const char* kSampleId = "00000000-0000-4000-8000-000000000001";

// One concrete call per route the server registers (method and path with sample ids).
// The single list of routes of these tests.
struct Call {
  std::string method;
  std::string path;
};
const std::vector<Call> kRoutes = {
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
    {"GET", "/v1/openapi.json"},
    {"POST", "/v1/requests"},
    {"GET", "/v1/requests"},
    {"GET", std::string("/v1/requests/") + kSampleId},
    {"POST", std::string("/v1/requests/") + kSampleId + "/cancel"},
    {"POST", std::string("/v1/requests/") + kSampleId + "/rerun"},
    {"POST", std::string("/v1/requests/") + kSampleId + "/tasks/approve/signal"},
    {"GET", std::string("/v1/requests/") + kSampleId + "/logs"},
    {"GET", std::string("/v1/traces/") + kSampleId},
    {"GET", std::string("/v1/traces/") + kSampleId + "/logs"},
    {"GET", "/v1/templates"},
    {"POST", "/v1/templates/validate"},
    {"GET", "/v1/templates/hello"},
    {"GET", "/v1/services"},
};

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream in(path);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

bool IsParam(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Whether `concrete` matches the path template `tmpl` (`/v1/requests/{id}`) by segment.
bool Matches(const std::string& tmpl, const std::string& concrete) {
  auto t = Segments(tmpl), c = Segments(concrete);
  if (t.size() != c.size()) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (!IsParam(t[i]) && t[i] != c[i]) return false;
  }
  return true;
}

// A concrete path for a path template, with sample values for its parameters.
std::string Concrete(const std::string& tmpl) {
  std::string out;
  for (const auto& s : Segments(tmpl)) {
    out += "/";
    if (s == "{id}") {
      out += kSampleId;
    } else if (s == "{task_id}") {
      out += "approve";
    } else if (s == "{name}") {
      out += "hello";
    } else if (IsParam(s)) {
      out += "sample";
    } else {
      out += s;
    }
  }
  return out;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class OpenApi : public ApiSuite {
 protected:
  static json Document() {
    auto r = stack_->Get("/v1/openapi.json");
    if (!r || r->status != 200) return json();
    return json::parse(r->body, nullptr, false);
  }

  static httplib::Result Send(const std::string& method, const std::string& path) {
    if (method == "GET") return stack_->Get(path);
    if (method == "POST") return stack_->PostRaw(path, "{}", "application/json");
    ADD_FAILURE() << "no way to send " << method;
    return httplib::Result(nullptr, httplib::Error::Unknown);
  }

  // The route exists: the answer is not the router's own 404 (nor a 405).
  static void ExpectRouted(const std::string& method, const std::string& path) {
    auto r = Send(method, path);
    ASSERT_TRUE(r) << method << " " << path << ": no answer";
    EXPECT_NE(r->status, 405) << method << " " << path << ": " << r->body;
    if (r->status != 404) return;
    json body = json::parse(r->body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << method << " " << path << ": " << r->body;
    EXPECT_FALSE(body["error"]["code"] == "not_found" &&
                 body["error"]["message"] == "no such route")
        << method << " " << path << " is not a route: " << r->body;
  }
};

TEST_F(OpenApi, ServesTheDocumentAsJson) {
  auto r = stack_->Get("/v1/openapi.json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("application/json", 0), 0u);
  json doc = json::parse(r->body, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << r->body;
  EXPECT_EQ(doc["openapi"], "3.0.3");
  ASSERT_TRUE(doc["paths"].is_object());
  EXPECT_FALSE(doc["paths"].empty());
  EXPECT_TRUE(doc["info"]["version"].is_string());  // quoted in the YAML
  // Plain YAML scalars that are numbers or booleans come out as such.
  json limit;
  for (const auto& p : doc["paths"]["/v1/requests"]["get"]["parameters"]) {
    if (p["name"] == "limit") limit = p;
  }
  ASSERT_TRUE(limit.is_object());
  EXPECT_EQ(limit["schema"]["maximum"], 1000);
  EXPECT_TRUE(limit["schema"]["maximum"].is_number_integer());
  EXPECT_EQ(doc["components"]["schemas"]["RequestList"]["properties"]["next_cursor"]["nullable"],
            true);
  // The error shape.
  EXPECT_EQ(doc["components"]["schemas"]["Error"]["required"], json({"error"}));
}

TEST_F(OpenApi, EveryReferenceResolves) {
  json doc = Document();
  ASSERT_TRUE(doc.is_object());
  std::function<void(const json&)> walk = [&](const json& node) {
    if (node.is_object()) {
      if (auto ref = node.find("$ref"); ref != node.end()) {
        ASSERT_TRUE(ref->is_string());
        std::string target = ref->get<std::string>();
        ASSERT_EQ(target.rfind("#/", 0), 0u) << target;
        EXPECT_TRUE(doc.contains(json::json_pointer(target.substr(1)))) << target;
      }
      for (const auto& [_, v] : node.items()) walk(v);
    } else if (node.is_array()) {
      for (const auto& v : node) walk(v);
    }
  };
  walk(doc);
}

TEST_F(OpenApi, EveryRouteIsAnsweredAndDocumented) {
  json doc = Document();
  ASSERT_TRUE(doc.is_object());
  for (const auto& call : kRoutes) {
    SCOPED_TRACE(call.method + " " + call.path);
    ExpectRouted(call.method, call.path);
    bool documented = false;
    for (const auto& [tmpl, item] : doc["paths"].items()) {
      if (Matches(tmpl, call.path) && item.contains(Lower(call.method))) documented = true;
    }
    EXPECT_TRUE(documented) << call.method << " " << call.path << " is not in docs/openapi.yaml";
  }
}

TEST_F(OpenApi, EveryDocumentedOperationIsAnswered) {
  json doc = Document();
  ASSERT_TRUE(doc.is_object());
  const std::set<std::string> kMethods = {"get",  "put",     "post",  "delete",
                                          "head", "options", "patch", "trace"};
  size_t operations = 0;
  for (const auto& [tmpl, item] : doc["paths"].items()) {
    for (const auto& [method, _] : item.items()) {
      if (!kMethods.count(method)) continue;  // parameters, summary, ...
      ++operations;
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      SCOPED_TRACE(upper + " " + tmpl);
      ExpectRouted(upper, Concrete(tmpl));
      bool listed = false;
      for (const auto& call : kRoutes) {
        if (call.method == upper && Matches(tmpl, call.path)) listed = true;
      }
      EXPECT_TRUE(listed) << upper << " " << tmpl << " is documented but not in kRoutes";
    }
  }
  EXPECT_EQ(operations, kRoutes.size());
}

}  // namespace
}  // namespace wf::test
