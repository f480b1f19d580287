// Status and Result<T>: the error currency across library boundaries.
//
// A Status is either OK or carries a code, a human-readable message and, where the error
// is about a JSON document, the JSON pointer of the offending value. Result<T> holds
// either a value or a non-OK Status. Both are plain values: thread-compatible, not
// thread-safe for concurrent mutation.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace wf {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input: templates, request data, config, params
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,  // e.g. a lease lost (fencing check failed)
  kUnavailable,         // a dependency (database, Redis, remote) cannot be reached
  kDeadlineExceeded,
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, std::string path = {})
      : code_(code), message_(std::move(message)), path_(std::move(path)) {}

  static Status Ok() { return Status(); }
  static Status Invalid(std::string message, std::string path = {}) {
    return Status(StatusCode::kInvalidArgument, std::move(message), std::move(path));
  }
  static Status NotFound(std::string message) {
    return Status(StatusCode::kNotFound, std::move(message));
  }
  static Status Unavailable(std::string message) {
    return Status(StatusCode::kUnavailable, std::move(message));
  }
  static Status Internal(std::string message) {
    return Status(StatusCode::kInternal, std::move(message));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // JSON pointer (RFC 6901) of the value the error is about; empty when not applicable.
  const std::string& path() const { return path_; }

  // "invalid_argument: message (at /path)".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string path_;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace wf
