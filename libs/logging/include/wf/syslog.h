// Syslog messages: parsing (RFC 5424, with an RFC 3164 fallback), formatting (RFC 5424) and
// RFC 6587 TCP framing.
//
// ParseSyslog() and FormatSyslog5424() are pure functions: thread-safe. A SyslogFramer holds
// the state of one TCP connection and is thread-compatible (use one per connection, or
// synchronise externally). Nothing here throws on bad input; errors are wf::Status values.
//
// The engine puts its log ids in the structured-data element "wf@32473":
//   <14>1 2024-05-01T10:00:00.123Z host wf-engine 4711 - [wf@32473 trace_id="…"
//   request_id="…" task_id="…"] message text
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wf/core/status.h"

namespace wf {

// SD-ID of the structured-data element that carries the engine's log ids.
inline constexpr std::string_view kSyslogSdId = "wf@32473";

struct SyslogMessage {
  using SdParams = std::vector<std::pair<std::string, std::string>>;

  int facility = 1;  // from PRI: 0..23
  int severity = 6;  // from PRI: 0..7
  int version = 0;   // 1 for RFC 5424, 0 for RFC 3164
  // As sent; "" for NILVALUE or when absent. RFC 3164 timestamps ("Nov 22 03:21:29") are kept
  // as text.
  std::string timestamp;
  // "" for NILVALUE ("-") or when absent.
  std::string hostname;
  std::string app_name;
  std::string proc_id;
  std::string msg_id;
  // SD-ID -> (PARAM-NAME -> PARAM-VALUE) in message order; values are unescaped (\" \\ \]).
  // SD-IDs are unique within a message; a PARAM-NAME may repeat within an element.
  std::vector<std::pair<std::string, SdParams>> structured_data;
  // MSG with a leading UTF-8 BOM stripped and invalid UTF-8 replaced by U+FFFD. It may contain
  // control characters, including NUL.
  std::string message;

  // The value of the first param `name` in SD-ID `sd_id`, or "" when there is none.
  std::string Param(std::string_view sd_id, std::string_view name) const;

  bool operator==(const SyslogMessage&) const = default;
};

struct SyslogLimits {
  // The whole message (datagram or frame).
  size_t max_message_bytes = 64 * 1024;
  // Cap for HOSTNAME, APP-NAME, PROCID, MSGID, SD-IDs and PARAM-NAMEs, on top of the RFC 5424
  // limits (255, 48, 128, 32, 32, 32 bytes). PARAM-VALUEs are bounded by max_message_bytes.
  size_t max_field_bytes = 255;
  // SD-ELEMENTs per message.
  size_t max_sd_elements = 32;
  // SD-PARAMs per message (all elements together).
  size_t max_sd_params = 64;
};

// Parses one message (a UDP datagram or one TCP frame, without its framing).
//
// A message whose PRI is followed by "1 " is RFC 5424 and is parsed strictly: field syntax and
// lengths, TIMESTAMP (RFC 3339 subset, checked ranges, no leap seconds), SD-NAME characters,
// unique SD-IDs. The only leniencies: an unescaped ']' inside a PARAM-VALUE is accepted, and
// invalid UTF-8 in PARAM-VALUEs and MSG is replaced by U+FFFD instead of rejected.
//
// Anything else after PRI is RFC 3164 ("<PRI>Mmm dd hh:mm:ss host tag[pid]: msg"), parsed
// leniently: the timestamp (also accepted in RFC 3339 form) may be missing, in which case there
// is no hostname either; a token that cannot be a hostname (not printable US-ASCII, too long)
// is left to MSG; "tag:", "tag[pid]:" and "tag[pid]" are recognised as APP-NAME and PROCID;
// whatever is not recognised is MSG. A PRI is required in both forms; after it, RFC 3164
// parsing does not fail.
//
// Errors are InvalidArgument and say what is wrong and at which byte offset, e.g.
// "syslog: HOSTNAME longer than 255 bytes at byte 276".
Result<SyslogMessage> ParseSyslog(std::string_view data, const SyslogLimits& limits = {});

// Formats `m` as RFC 5424 (VERSION 1, whatever m.version says). Empty fields become NILVALUE.
// The output always parses: facility and severity are clamped to their ranges; an invalid
// timestamp becomes NILVALUE; bytes that are not printable US-ASCII in header fields, SD-IDs and
// PARAM-NAMEs become '_' and over-long ones are cut to the RFC limits; elements with the same
// SD-ID are merged; invalid UTF-8 becomes U+FFFD; PARAM-VALUEs are escaped. A BOM is put before
// MSG when MSG is not plain ASCII. Nothing is truncated to fit a size limit: keep MSG within
// what the receiver accepts (64 KiB by default).
std::string FormatSyslog5424(const SyslogMessage& m);

// RFC 6587 framing of syslog over TCP, incremental. Each frame is detected by its first byte:
// a digit starts octet counting ("MSG-LEN SP SYSLOG-MSG", MSG-LEN without leading zeros, at
// most 10 digits, at most max_frame_bytes); anything else is non-transparent framing, a frame
// ending at LF (a CR before the LF is dropped, empty lines are skipped; at most
// max_frame_bytes bytes before the LF). A bad MSG-LEN (leading zero, sign, no SP after the
// digits, too large) or an over-long line is an error after which the framer stays failed:
// the caller should close the connection.
class SyslogFramer {
 public:
  explicit SyslogFramer(size_t max_frame_bytes = 64 * 1024);

  // Appends `bytes`, calling `on_frame` for each frame completed by them (the view is valid
  // only during the call). Returns an error once the stream is broken (frames before the
  // error are still delivered), and the same error on every later call.
  Status Feed(std::string_view bytes, const std::function<void(std::string_view frame)>& on_frame);

  bool failed() const { return !status_.ok(); }
  // Bytes received that belong to a frame not complete yet (e.g. to log at connection close).
  size_t pending_bytes() const;

 private:
  enum class State { kStart, kLength, kCounted, kLine };

  Status Fail(const std::string& what, uint64_t at);

  size_t max_frame_bytes_;
  State state_ = State::kStart;
  uint64_t length_ = 0;  // MSG-LEN being read or of the frame being collected
  size_t length_digits_ = 0;
  std::string partial_;  // bytes of the current frame received in earlier calls
  uint64_t offset_ = 0;  // stream offset of the next byte to look at
  Status status_;
};

}  // namespace wf
