#include "wf/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace wf {
namespace {

thread_local LogIds tls_ids;

// %& in the pattern: the ids of the current LogScope, if any.
class IdsFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const LogIds& ids = tls_ids;
    if (ids.trace_id.empty() && ids.request_id.empty()) return;
    std::string s = "[trace=" + ids.trace_id + " request=" + ids.request_id;
    if (!ids.task_id.empty()) s += " task=" + ids.task_id;
    s += "] ";
    dest.append(s.data(), s.data() + s.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<IdsFlag>();
  }
};

}  // namespace

LogScope::LogScope(std::string trace_id, std::string request_id, std::string task_id)
    : saved_(std::move(tls_ids)) {
  tls_ids = LogIds{std::move(trace_id), std::move(request_id), std::move(task_id)};
}

LogScope::~LogScope() { tls_ids = std::move(saved_); }

const LogIds& CurrentLogIds() { return tls_ids; }

bool InitLogging(const std::string& service, const std::string& level, std::string* error) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    if (error) *error = "unknown log level '" + level + "' (trace, debug, info, warn, error)";
    return false;
  }
  auto logger =
      std::make_shared<spdlog::logger>(service, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<IdsFlag>('&').set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %n %&%v");
  logger->set_formatter(std::move(formatter));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return true;
}

}  // namespace wf
