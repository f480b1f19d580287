// Fixtures shared by the RequestRun tests: a template parsed or failed loudly, a claimed
// request, and a stored task run row.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "wf/core/template.h"
#include "wf/request_store.h"

namespace wf::fixtures {

inline constexpr const char* kRequestId = "11111111-2222-4333-8444-555555555555";
inline constexpr const char* kTraceId = "trace-abc";

inline std::shared_ptr<const Template> MustParse(const json& doc) {
  std::vector<TemplateError> errors;
  auto r = ParseTemplate(doc, nullptr, &errors);
  EXPECT_TRUE(r.ok()) << FormatTemplateErrors(errors);
  return r.ok() ? *r : nullptr;
}
inline std::shared_ptr<const Template> MustParse(const std::string& text) {
  return MustParse(json::parse(text));
}
inline std::shared_ptr<const Template> MustParse(const char* text) {
  return MustParse(json::parse(text));
}

inline ClaimedRequest MakeRequest(json data = json::object()) {
  ClaimedRequest req;
  req.id = kRequestId;
  req.trace_id = kTraceId;
  req.template_name = "wf";
  req.template_hash = "hash";
  req.data = std::move(data);
  req.epoch = 1;
  req.claims = 1;
  return req;
}

inline TaskRunRow Row(const std::string& task, const std::string& status, int attempts,
                      json outputs = nullptr, const std::string& error = "") {
  TaskRunRow row;
  row.request_id = kRequestId;
  row.task_id = task;
  row.type = "noop";
  row.status = status;
  row.attempts = attempts;
  row.outputs = std::move(outputs);
  row.error = error;
  return row;
}

}  // namespace wf::fixtures
