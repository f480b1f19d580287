// Outbound HTTP for task modules: one blocking request/response exchange over libcurl.
//
// Every call has a connect timeout and a total timeout, accepts only http and https (also
// when following redirects), caps the response size and follows redirects only when asked.
// HttpCall() is thread-safe: many worker threads may call it at once (each thread keeps
// its own curl handle, so connections are reused per thread). The structs are plain values.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wf/core/status.h"

namespace wf {

struct HttpRequest {
  std::string method = "GET";  // case-insensitive, sent upper case; HEAD reads no body
  std::string url;             // http:// or https:// only
  std::vector<std::pair<std::string, std::string>> headers;
  // GET sends a body only when non-empty; other methods but HEAD always send one (an empty
  // body as "Content-Length: 0").
  std::string body;
  long connect_timeout_ms = 5000;
  long timeout_ms = 30000;               // the whole exchange, connect included
  size_t max_response_bytes = 10 << 20;  // a longer body fails the call
  bool follow_redirects = false;
  int max_redirects = 5;
  // TLS: the server's certificate is verified (chain and host name) unless verify_tls is
  // false. ca_file replaces the system CA bundle; client_cert_file/client_key_file (PEM)
  // authenticate this side.
  bool verify_tls = true;
  std::string ca_file;
  std::string client_cert_file;
  std::string client_key_file;
  // Proxy URL (http://host:port); empty: libcurl's default (the *_proxy environment).
  // "none": never a proxy.
  std::string proxy;
};

struct HttpResponse {
  long status = 0;
  // Headers of the final response (after redirects), in the order received.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header with this name (case-insensitive); "" when there is none.
  std::string header(std::string_view name) const;
};

// Why a call failed, finer than the Status code (kTooLarge and kOther are both kInternal).
enum class HttpErrorKind {
  kNone,
  kConnect,   // could not resolve, connect or keep the connection (kUnavailable)
  kTimeout,   // connect or total timeout (kDeadlineExceeded)
  kTooLarge,  // the response exceeded max_response_bytes (kInternal)
  kBadUrl,    // bad URL or scheme, malformed method, header or timeout (kInvalidArgument)
  kOther,     // TLS verification, too many redirects, ... (kInternal)
};

const char* HttpErrorKindName(HttpErrorKind kind);

// Performs the request. Any HTTP status is a success at this level. On failure returns
// kUnavailable (connect errors), kDeadlineExceeded (timeouts), kInvalidArgument (bad URL,
// unsupported scheme, malformed method or header) or kInternal (anything else, including
// a response over the size limit); the message names the URL as DisplayUrl() shows it.
// When `error_kind` is given it receives the failure kind (kNone on success).
Result<HttpResponse> HttpCall(const HttpRequest& req, HttpErrorKind* error_kind = nullptr);

// The URL without user info, query string or fragment: safe for logs and error messages.
std::string DisplayUrl(std::string_view url);

// Percent-encodes everything but RFC 3986 unreserved characters (for query components).
std::string UrlEncode(std::string_view text);

}  // namespace wf
