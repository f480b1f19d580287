// Secrets for `${secrets.<name>}` in task params: credentials for TFE, AWX, clouds...
//
// From a YAML file (`secrets_file`) of `name: value` pairs, and from environment variables
// WF_SECRET_<NAME> (which win over the file). Names are 1 to 64 lower-case letters, digits
// and '_'; values are strings (other scalars are taken as their text). Only wf-engine loads
// them: they are resolved when a task runs, so they are never in a request row, never
// returned by the API, and every value is redacted from logs and task outputs.
#pragma once

#include <map>
#include <string>

#include "wf/core/json_path.h"
#include "wf/core/status.h"

namespace wf {

// A JSON object name -> value. Errors name the file and the entry, never a value.
Result<json> LoadSecrets(const std::string& path, const std::map<std::string, std::string>& env);

}  // namespace wf
