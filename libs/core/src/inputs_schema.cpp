#include "wf/core/inputs_schema.h"

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

namespace wf {

struct InputsSchema::Impl {
  valijson::Schema schema;
};

InputsSchema::InputsSchema() : impl_(std::make_unique<Impl>()) {}
InputsSchema::~InputsSchema() = default;

Result<std::shared_ptr<const InputsSchema>> InputsSchema::Compile(const json& schema,
                                                                  const std::string& json_path) {
  std::shared_ptr<InputsSchema> out(new InputsSchema());
  try {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(schema);
    parser.populateSchema(adapter, out->impl_->schema);
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("not a valid JSON Schema: ") + e.what(), json_path);
  }
  return std::shared_ptr<const InputsSchema>(std::move(out));
}

Status InputsSchema::Validate(const json& data) const {
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(data);
  if (validator.validate(impl_->schema, target, &results)) return Status::Ok();
  // The error with the deepest context says most precisely what is wrong.
  const valijson::ValidationResults::Error* best = nullptr;
  for (const auto& e : results) {
    if (!best || e.context.size() > best->context.size()) best = &e;
  }
  std::string path;
  for (const auto& part : best->context) {
    if (part == "<root>") continue;
    std::string token = part;
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']') {
      token = token.substr(1, token.size() - 2);
    }
    path = JsonPathJoin(path, token);
  }
  return Status::Invalid(best->description, path.empty() ? "/" : path);
}

}  // namespace wf
