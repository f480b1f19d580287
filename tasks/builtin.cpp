#include "builtin.h"

namespace wf {

void RegisterBuiltinTasks(TaskRegistry* registry) {
  registry->Register("noop", MakeNoopTask());
  registry->Register("http", MakeHttpTask());
}

}  // namespace wf
