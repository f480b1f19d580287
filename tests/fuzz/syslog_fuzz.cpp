// libFuzzer target for the syslog parser, formatter and TCP framer.
//
// Checks, besides the sanitizers: a parsed message formats to RFC 5424 that parses again (to
// the same message when the input was RFC 5424), and the framer yields the same frames and the
// same error whether the input arrives in one piece or in chunks of sizes taken from the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "wf/syslog.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "syslog_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

struct Framed {
  std::vector<std::string> frames;
  std::string error;
};

// Feeds `data` to a new framer in chunks of the given sizes (cycled; 0 means all at once).
Framed Frame(std::string_view data, size_t max_frame, const std::vector<size_t>& sizes) {
  wf::SyslogFramer framer(max_frame);
  Framed out;
  auto on_frame = [&](std::string_view f) {
    Check(!f.empty() && f.size() <= max_frame, "frame size within (0, max]");
    out.frames.emplace_back(f);
  };
  size_t pos = 0, k = 0;
  while (pos < data.size()) {
    const size_t n = sizes.empty() ? data.size() : sizes[k++ % sizes.size()];
    const wf::Status s = framer.Feed(data.substr(pos, n), on_frame);
    pos += n;
    if (!s.ok()) {
      Check(framer.failed(), "failed() after an error");
      out.error = s.message();
      Check(framer.Feed("1 x", on_frame).message() == out.error, "the error sticks");
      break;
    }
    Check(!framer.failed(), "not failed() without an error");
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);

  wf::SyslogLimits tight;
  tight.max_message_bytes = 512;
  tight.max_field_bytes = 16;
  tight.max_sd_elements = 3;
  tight.max_sd_params = 5;
  for (const wf::SyslogLimits& limits : {wf::SyslogLimits{}, tight}) {
    auto parsed = wf::ParseSyslog(data, limits);
    if (!parsed.ok()) {
      Check(parsed.status().code() == wf::StatusCode::kInvalidArgument, "InvalidArgument");
      Check(parsed.status().message().find(" at byte ") != std::string::npos, "error offset");
      continue;
    }
    const wf::SyslogMessage& m = *parsed;
    Check(m.facility >= 0 && m.facility <= 23 && m.severity >= 0 && m.severity <= 7, "PRI");
    Check(m.structured_data.size() <= limits.max_sd_elements, "SD-ELEMENT limit");
    const std::string wire = wf::FormatSyslog5424(m);
    auto again = wf::ParseSyslog(wire, wf::SyslogLimits{SIZE_MAX, 255, SIZE_MAX, SIZE_MAX});
    Check(again.ok(), "formatted output parses");
    if (m.version == 1) Check(*again == m, "RFC 5424 round trip");
    Check(wf::FormatSyslog5424(*again) == wire, "formatting is stable");
  }

  // Chunk sizes 1..64 from the first bytes of the input.
  std::vector<size_t> sizes;
  for (size_t i = 0; i < size && i < 16; ++i) sizes.push_back(1 + bytes[i] % 64);
  for (size_t max_frame : {size_t{64}, size_t{64 * 1024}}) {
    const Framed whole = Frame(data, max_frame, {});
    const Framed chunked = Frame(data, max_frame, sizes);
    const Framed bytewise = Frame(data, max_frame, {1});
    Check(whole.frames == chunked.frames && whole.error == chunked.error, "chunking invariance");
    Check(whole.frames == bytewise.frames && whole.error == bytewise.error, "byte-wise feeding");
    for (const std::string& frame : whole.frames) (void)wf::ParseSyslog(frame);
  }
  return 0;
}
