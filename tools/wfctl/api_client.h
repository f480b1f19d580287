// HTTP access to the wf REST API for wfctl: one client per run, timeouts on every call,
// errors turned into exceptions that carry the API's own message.
#pragma once

#include <functional>
#include <string_view>

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace wfctl {

using json = nlohmann::json;

// Exit codes of every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;     // the request failed; validate: the template is invalid
inline constexpr int kExitCancelled = 2;  // the request was cancelled, or --wait timed out
inline constexpr int kExitError = 3;      // usage, connection or API error
inline constexpr int kExitInterrupted = 130;

// Ends the command with exit code 3; what() is the message for stderr.
class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One HTTP answer.
struct Response {
  int status = 0;
  std::string body;
  json doc;  // the parsed body; discarded (is_discarded()) when it is not JSON
  bool ok() const { return status >= 200 && status < 300; }
};

// An answer outside 2xx: what() reads "HTTP 404 template_not_found: no template named
// 'x' (path /template)".
class ApiError : public CliError {
 public:
  ApiError(const std::string& request, Response response);
  const Response& response() const { return response_; }

 private:
  Response response_;
};

// Timeouts of every call, in seconds.
struct Timeouts {
  int connect = 5;
  int read = 30;
  int write = 30;
};

class ApiClient {
 public:
  // `base_url`: http[s]://host[:port][/prefix]. Throws CliError when it is not a URL.
  // `token`, when not empty, is sent as "Authorization: Bearer <token>".
  ApiClient(const std::string& base_url, const std::string& token, Timeouts timeouts = {});

  // Throw CliError when the API cannot be reached (no answer); any answer is returned.
  Response Get(const std::string& path);
  Response Post(const std::string& path, const json& body);
  // A streamed GET: each piece of a 2xx body goes to `on_data` as it arrives (return false
  // to stop); the Response carries the status, and the body only when it is not 2xx.
  // Waits up to `read_timeout_s` for each piece.
  Response GetStream(const std::string& path, const std::function<bool(std::string_view)>& on_data,
                     int read_timeout_s);

  const std::string& base_url() const { return base_url_; }

 private:
  Response Finish(const std::string& request, httplib::Result result);

  std::string base_url_;
  std::string prefix_;  // path prefix of base_url, without a trailing slash
  std::unique_ptr<httplib::Client> client_;
  int read_timeout_s_default_ = 30;
};

// The parsed body of a 2xx answer; throws ApiError otherwise.
json Expect(const Response& r, const std::string& request);

// True when the answer says the route itself is unknown to the server (an older API),
// as opposed to, say, an unknown request id on a known route.
bool RouteMissing(const Response& r);

// Percent-encodes one path segment or query value.
std::string UrlEncode(const std::string& s);

// "?k1=v1&k2=v2" from the pairs with a non-empty value; "" when there are none.
std::string Query(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace wfctl
