#include "builtin.h"

namespace wf {

void RegisterBuiltinTasks(TaskRegistry* registry) {
  registry->Register("noop", MakeNoopTask());
  registry->Register("http", MakeHttpTask());
  registry->Register("rest_job", MakeRestJobTask());
}

}  // namespace wf
