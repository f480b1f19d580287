// A compiled JSON Schema (draft 4/6/7, via valijson) for a template's request data.
// Compile once when the template loads; Validate() is const and safe to call from many
// threads at once.
#pragma once

#include <memory>

#include "wf/core/json_path.h"
#include "wf/core/status.h"

namespace wf {

class InputsSchema {
 public:
  ~InputsSchema();
  // An invalid schema is an error whose path is below `json_path` (e.g. "/inputs").
  static Result<std::shared_ptr<const InputsSchema>> Compile(const json& schema,
                                                             const std::string& json_path);
  // OK, or InvalidArgument with the JSON pointer into `data` of the most specific problem.
  Status Validate(const json& data) const;

 private:
  InputsSchema();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wf
