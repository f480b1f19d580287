#include "api_client.h"

#include <cctype>
#include <regex>

namespace wfctl {
namespace {

std::string Describe(const std::string& request, const Response& r) {
  std::string out = request + ": HTTP " + std::to_string(r.status);
  const json& doc = r.doc;
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const json& e = doc["error"];
    if (e.contains("code") && e["code"].is_string()) out += " " + e["code"].get<std::string>();
    if (e.contains("message") && e["message"].is_string()) {
      out += ": " + e["message"].get<std::string>();
    }
    if (e.contains("path") && e["path"].is_string()) {
      out += " (path " + e["path"].get<std::string>() + ")";
    }
    return out;
  }
  std::string body = r.body.substr(0, 200);
  for (char& c : body) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (!body.empty()) out += ": " + body;
  return out;
}

// Why a call got no answer, in words.
std::string Reason(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "connection refused or host unreachable";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "no answer (read failed or timed out)";
    case httplib::Error::Write:
      return "sending the request failed";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "the server's TLS certificate could not be verified";
    default:
      return httplib::to_string(e);
  }
}

}  // namespace

ApiError::ApiError(const std::string& request, Response response)
    : CliError(Describe(request, response)), response_(std::move(response)) {}

ApiClient::ApiClient(const std::string& base_url, const std::string& token, Timeouts timeouts)
    : base_url_(base_url) {
  static const std::regex kUrl(R"(^(https?)://([^/?#]+)(/[^?#]*)?$)", std::regex::icase);
  std::smatch m;
  if (!std::regex_match(base_url, m, kUrl)) {
    throw CliError("--api: '" + base_url + "' is not an http:// or https:// URL");
  }
  prefix_ = m[3].str();
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
  client_ = std::make_unique<httplib::Client>(m[1].str() + "://" + m[2].str());
  if (!client_->is_valid()) throw CliError("--api: cannot use '" + base_url + "'");
  client_->set_connection_timeout(timeouts.connect, 0);
  client_->set_read_timeout(timeouts.read, 0);
  read_timeout_s_default_ = timeouts.read;
  client_->set_write_timeout(timeouts.write, 0);
  client_->set_keep_alive(true);
  httplib::Headers headers = {{"Accept", "application/json"},
                              {"User-Agent", std::string("wfctl/") + WF_VERSION}};
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  client_->set_default_headers(headers);
}

Response ApiClient::Get(const std::string& path) {
  return Finish("GET " + path, client_->Get((prefix_ + path).c_str()));
}

Response ApiClient::GetStream(const std::string& path,
                              const std::function<bool(std::string_view)>& on_data,
                              int read_timeout_s) {
  int status = 0;
  std::string error_body;
  client_->set_read_timeout(read_timeout_s, 0);
  auto result = client_->Get((prefix_ + path).c_str(),
                             [&](const httplib::Response& head) {
                               status = head.status;
                               return true;
                             },
                             [&](const char* data, size_t n) {
                               if (status < 200 || status > 299) {
                                 if (error_body.size() < (64 << 10)) error_body.append(data, n);
                                 return true;
                               }
                               return on_data(std::string_view(data, n));
                             });
  client_->set_read_timeout(read_timeout_s_default_, 0);
  if (!result && result.error() == httplib::Error::Canceled) {
    Response r;
    r.status = status;
    return r;
  }
  Response r = Finish("GET " + path, std::move(result));
  if (!r.ok()) {
    r.body = error_body;
    r.doc = json::parse(r.body, nullptr, false);
  }
  return r;
}

Response ApiClient::Post(const std::string& path, const json& body) {
  return Finish("POST " + path,
                client_->Post((prefix_ + path).c_str(), body.dump(), "application/json"));
}

Response ApiClient::Finish(const std::string& request, httplib::Result result) {
  if (!result) {
    throw CliError("cannot reach the API at " + base_url_ + " (" + request +
                   "): " + Reason(result.error()) + "; is it running? Set --api or WF_API_URL");
  }
  Response r;
  r.status = result->status;
  r.body = result->body;
  r.doc = json::parse(r.body, nullptr, false);
  return r;
}

json Expect(const Response& r, const std::string& request) {
  if (!r.ok()) throw ApiError(request, r);
  if (r.doc.is_discarded()) {
    throw CliError(request + ": HTTP " + std::to_string(r.status) +
                   " with an answer that is not JSON: " + r.body.substr(0, 200));
  }
  return r.doc;
}

bool RouteMissing(const Response& r) {
  if (r.status == 405 || r.status == 501) return true;
  if (r.status != 404) return false;
  // wf-api answers an unknown route with {"error": {"code": "not_found", "message": "no
  // such route"}}; anything that is not its error shape is some other server's 404.
  const json& doc = r.doc;
  if (!doc.is_object() || !doc.contains("error") || !doc["error"].is_object()) return true;
  const json& e = doc["error"];
  return e.value("message", "") == "no such route";
}

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    out += out.empty() ? "?" : "&";
    out += UrlEncode(key) + "=" + UrlEncode(value);
  }
  return out;
}

}  // namespace wfctl
