#include "wf/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace wf {
namespace {

// Bounds the response headers independently of the body limit.
constexpr size_t kMaxHeaderBytes = 256 << 10;

CURLcode GlobalInit() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

// One easy handle per thread, reused so that connections to the same host are kept alive.
// Options are reset after every call, so no pointer to a finished call's data survives.
class ThreadHandle {
 public:
  ThreadHandle() = default;
  ThreadHandle(const ThreadHandle&) = delete;
  ThreadHandle& operator=(const ThreadHandle&) = delete;
  ~ThreadHandle() {
    if (handle_) curl_easy_cleanup(handle_);
  }

  CURL* Get() {
    if (!handle_) handle_ = curl_easy_init();
    return handle_;
  }

 private:
  CURL* handle_ = nullptr;
};

thread_local ThreadHandle t_handle;

class ResetOnExit {
 public:
  explicit ResetOnExit(CURL* handle) : handle_(handle) {}
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;
  ~ResetOnExit() { curl_easy_reset(handle_); }

 private:
  CURL* handle_;
};

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

struct Transfer {
  HttpResponse* response = nullptr;
  size_t max_body = 0;
  bool body_too_large = false;
  size_t header_bytes = 0;
  bool headers_too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string& body = t->response->body;
  if (n > t->max_body || body.size() > t->max_body - n) {
    t->body_too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  body.append(data, n);
  return n;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  auto& headers = t->response->headers;
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after a redirect or an interim 1xx): keep only the last one's.
    headers.clear();
    t->header_bytes = 0;
  }
  t->header_bytes += n;
  if (t->header_bytes > kMaxHeaderBytes) {
    t->headers_too_large = true;
    return 0;
  }
  if (line.substr(0, 5) == "HTTP/") return n;
  if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    // Obsolete line folding: continues the previous header's value.
    std::string_view more = Trim(line);
    if (!headers.empty() && !more.empty()) {
      headers.back().second += ' ';
      headers.back().second += more;
    }
    return n;
  }
  line = Trim(line);
  if (line.empty()) return n;
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                       std::string(Trim(line.substr(colon + 1))));
  return n;
}

bool IsTokenChar(unsigned char c) {
  if (std::isalnum(c)) return true;
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return kExtra.find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return IsTokenChar(static_cast<unsigned char>(c));
  });
}

bool HasLineBreakOrNul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// For quoting caller-supplied text in a message: no control characters, bounded length.
std::string Printable(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string out(s.substr(0, kMax));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (s.size() > kMax) out += "...";
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string ToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

HttpErrorKind Classify(CURLcode code, const Transfer& t) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return HttpErrorKind::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return HttpErrorKind::kTimeout;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return HttpErrorKind::kBadUrl;
    case CURLE_FILESIZE_EXCEEDED:
      return HttpErrorKind::kTooLarge;
    case CURLE_WRITE_ERROR:
      return (t.body_too_large || t.headers_too_large) ? HttpErrorKind::kTooLarge
                                                       : HttpErrorKind::kOther;
    default:
      return HttpErrorKind::kOther;
  }
}

Status MakeError(HttpErrorKind kind, const std::string& url, const std::string& detail) {
  switch (kind) {
    case HttpErrorKind::kConnect:
      return Status(StatusCode::kUnavailable, url + ": connection failed: " + detail);
    case HttpErrorKind::kTimeout:
      return Status(StatusCode::kDeadlineExceeded, url + ": timed out: " + detail);
    case HttpErrorKind::kBadUrl:
      return Status(StatusCode::kInvalidArgument, url + ": " + detail);
    case HttpErrorKind::kTooLarge:
    case HttpErrorKind::kOther:
    case HttpErrorKind::kNone:
      break;
  }
  return Status(StatusCode::kInternal, url + ": " + detail);
}

}  // namespace

const char* HttpErrorKindName(HttpErrorKind kind) {
  switch (kind) {
    case HttpErrorKind::kNone:
      return "none";
    case HttpErrorKind::kConnect:
      return "connect";
    case HttpErrorKind::kTimeout:
      return "timeout";
    case HttpErrorKind::kTooLarge:
      return "too_large";
    case HttpErrorKind::kBadUrl:
      return "bad_url";
    case HttpErrorKind::kOther:
      return "other";
  }
  return "unknown";
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

std::string DisplayUrl(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  size_t authority = 0;
  if (size_t scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    authority = scheme_end + 3;
  }
  size_t authority_end = url.find('/', authority);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string out;
  size_t at = url.substr(0, authority_end).rfind('@');
  if (at != std::string_view::npos && at >= authority) {
    out.append(url.substr(0, authority));
    out.append(url.substr(at + 1));
  } else {
    out.append(url);
  }
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out.empty() ? "<empty URL>" : out;
}

std::string UrlEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

#define WF_SETOPT(handle, option, value)                                                    \
  do {                                                                                      \
    CURLcode setopt_rc = curl_easy_setopt(handle, option, value);                           \
    if (setopt_rc != CURLE_OK) {                                                            \
      return fail(HttpErrorKind::kOther,                                                    \
                  std::string("cannot set " #option ": ") + curl_easy_strerror(setopt_rc)); \
    }                                                                                       \
  } while (0)

Result<HttpResponse> HttpCall(const HttpRequest& req, HttpErrorKind* error_kind) {
  const std::string url = DisplayUrl(req.url);
  auto fail = [&](HttpErrorKind kind, const std::string& detail) -> Result<HttpResponse> {
    if (error_kind) *error_kind = kind;
    return MakeError(kind, url, detail);
  };
  if (error_kind) *error_kind = HttpErrorKind::kNone;

  // Validate what curl would otherwise guess at or pass through.
  size_t scheme_end = req.url.find("://");
  if (scheme_end == std::string::npos ||
      (!EqualsIgnoreCase(std::string_view(req.url).substr(0, scheme_end), "http") &&
       !EqualsIgnoreCase(std::string_view(req.url).substr(0, scheme_end), "https"))) {
    return fail(HttpErrorKind::kBadUrl, "only http:// and https:// URLs are allowed");
  }
  if (HasLineBreakOrNul(req.url)) {
    return fail(HttpErrorKind::kBadUrl, "the URL contains a line break or NUL");
  }
  if (!IsToken(req.method)) {
    return fail(HttpErrorKind::kBadUrl, "invalid HTTP method '" + Printable(req.method) + "'");
  }
  const std::string method = ToUpper(req.method);
  for (const auto& [name, value] : req.headers) {
    if (!IsToken(name)) {
      return fail(HttpErrorKind::kBadUrl, "invalid header name '" + Printable(name) + "'");
    }
    if (HasLineBreakOrNul(value)) {
      return fail(HttpErrorKind::kBadUrl,
                  "header '" + name + "' has a line break or NUL in its value");
    }
  }
  if (req.connect_timeout_ms <= 0 || req.timeout_ms <= 0) {
    return fail(HttpErrorKind::kBadUrl, "timeouts must be positive");
  }

  if (CURLcode rc = GlobalInit(); rc != CURLE_OK) {
    return fail(HttpErrorKind::kOther,
                std::string("cannot initialise libcurl: ") + curl_easy_strerror(rc));
  }
  CURL* curl = t_handle.Get();
  if (!curl) return fail(HttpErrorKind::kOther, "cannot create a curl handle");
  ResetOnExit reset(curl);

  HttpResponse response;
  Transfer transfer;
  transfer.response = &response;
  transfer.max_body = req.max_response_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  // Request headers. "Expect:" stops curl from waiting for a 100-continue on large bodies.
  const bool sends_body = method != "HEAD" && !(method == "GET" && req.body.empty());
  Slist headers;
  bool has_expect = false;
  bool has_content_type = false;
  auto append = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (!next) return false;
    if (!headers) headers.reset(next);  // later appends keep the same head
    return true;
  };
  for (const auto& [name, value] : req.headers) {
    if (EqualsIgnoreCase(name, "Expect")) has_expect = true;
    if (EqualsIgnoreCase(name, "Content-Type")) has_content_type = true;
    // curl drops "Name:" lines; "Name;" sends a header with an empty value.
    if (!append(value.empty() ? name + ";" : name + ": " + value)) {
      return fail(HttpErrorKind::kOther, "out of memory building headers");
    }
  }
  if (!has_expect && !append("Expect:")) {
    return fail(HttpErrorKind::kOther, "out of memory building headers");
  }
  // An empty body gets no curl-chosen (form) Content-Type.
  if (sends_body && req.body.empty() && !has_content_type && !append("Content-Type:")) {
    return fail(HttpErrorKind::kOther, "out of memory building headers");
  }

  WF_SETOPT(curl, CURLOPT_ERRORBUFFER, error_buffer);
  WF_SETOPT(curl, CURLOPT_URL, req.url.c_str());
  WF_SETOPT(curl, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85.0
  WF_SETOPT(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  WF_SETOPT(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  WF_SETOPT(curl, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  WF_SETOPT(curl, CURLOPT_REDIR_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  WF_SETOPT(curl, CURLOPT_CONNECTTIMEOUT_MS, req.connect_timeout_ms);
  WF_SETOPT(curl, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  WF_SETOPT(curl, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  WF_SETOPT(curl, CURLOPT_MAXREDIRS, static_cast<long>(std::max(0, req.max_redirects)));
  WF_SETOPT(curl, CURLOPT_USERAGENT, "wf-http/1");
  WF_SETOPT(curl, CURLOPT_SSL_VERIFYPEER, req.verify_tls ? 1L : 0L);
  WF_SETOPT(curl, CURLOPT_SSL_VERIFYHOST, req.verify_tls ? 2L : 0L);
  if (!req.ca_file.empty()) WF_SETOPT(curl, CURLOPT_CAINFO, req.ca_file.c_str());
  if (!req.client_cert_file.empty()) {
    WF_SETOPT(curl, CURLOPT_SSLCERT, req.client_cert_file.c_str());
    WF_SETOPT(curl, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!req.client_key_file.empty()) WF_SETOPT(curl, CURLOPT_SSLKEY, req.client_key_file.c_str());
  if (req.proxy == "none") {
    WF_SETOPT(curl, CURLOPT_PROXY, "");
  } else if (!req.proxy.empty()) {
    WF_SETOPT(curl, CURLOPT_PROXY, req.proxy.c_str());
  }
  WF_SETOPT(curl, CURLOPT_HTTPHEADER, headers.get());
  WF_SETOPT(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  WF_SETOPT(curl, CURLOPT_WRITEDATA, &transfer);
  WF_SETOPT(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  WF_SETOPT(curl, CURLOPT_HEADERDATA, &transfer);

  if (method == "HEAD") {
    WF_SETOPT(curl, CURLOPT_NOBODY, 1L);
  } else {
    if (req.max_response_bytes > 0) {
      // Fails early when the announced Content-Length is already over the limit.
      WF_SETOPT(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(req.max_response_bytes));
    }
    if (!sends_body) {
      WF_SETOPT(curl, CURLOPT_HTTPGET, 1L);
    } else {
      // Other methods always carry a body, if empty with "Content-Length: 0": some servers
      // otherwise wait for a body that never comes.
      if (method != "POST") WF_SETOPT(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
      WF_SETOPT(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      WF_SETOPT(curl, CURLOPT_POSTFIELDS, req.body.data());
    }
  }

  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    HttpErrorKind kind = Classify(rc, transfer);
    std::string detail;
    if (kind == HttpErrorKind::kTooLarge) {
      detail = transfer.headers_too_large ? "response headers exceed the limit of " +
                                                std::to_string(kMaxHeaderBytes) + " bytes"
                                          : "response body exceeds the limit of " +
                                                std::to_string(req.max_response_bytes) + " bytes";
    } else {
      detail = error_buffer[0] ? std::string(error_buffer) : curl_easy_strerror(rc);
      while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) {
        detail.pop_back();
      }
    }
    return fail(kind, detail);
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = status;
  return response;
}

#undef WF_SETOPT

}  // namespace wf
