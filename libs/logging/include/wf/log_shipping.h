// Ships this process's log lines to wf-syslog: a sink on the default spdlog logger formats
// every line as RFC 5424, with the ids of the current LogScope in the structured-data
// element wf@32473 (trace_id, request_id, task_id), and hands it to a SyslogForwarder, so
// logging never waits for the network (a bounded queue; lines that do not fit are dropped).
// One TCP connection keeps the order of the lines, so a seal sent after a request's last
// line arrives after it.
//
// StartLogShipping() is called once at start (InitService does it when log_syslog_url is
// set), StopLogShipping() before exit; SealRequestLog() from any thread.
#pragma once

#include <cstddef>
#include <string>

#include "wf/core/status.h"

namespace wf {

// `url`: tcp://host:port or udp://host:port. `app_name`: the APP-NAME of the lines.
Status StartLogShipping(const std::string& url, const std::string& app_name,
                        size_t max_queue = 10000);

// Tells wf-syslog that a request's log is complete (a message with MSGID "seal"); it seals
// the log, and lines that come for the request later are dropped there. No-op when
// shipping is off.
void SealRequestLog(const std::string& trace_id, const std::string& request_id);

// Sends what is still queued (for at most `grace_ms`) and stops shipping; lines logged
// afterwards go to stderr only. Call once, at exit.
void StopLogShipping(int grace_ms = 2000);

}  // namespace wf
