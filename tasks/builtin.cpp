#include "builtin.h"

namespace wf {

void RegisterBuiltinTasks(TaskRegistry* registry) {
  registry->Register("noop", MakeNoopTask());
  registry->Register("http", MakeHttpTask());
  registry->Register("rest_job", MakeRestJobTask());
  registry->Register("set", MakeSetTask());
  registry->Register("tfe_run", MakeTfeRunTask());
  registry->Register("awx_job", MakeAwxJobTask());
}

}  // namespace wf
