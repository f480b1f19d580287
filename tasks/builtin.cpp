#include "builtin.h"

namespace wf {

void RegisterBuiltinTasks(TaskRegistry* registry) {
  registry->Register("noop", MakeNoopTask());
  registry->Register("http", MakeHttpTask());
  registry->Register("rest_job", MakeRestJobTask());
  registry->Register("set", MakeSetTask());
}

}  // namespace wf
