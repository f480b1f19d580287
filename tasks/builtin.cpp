#include "builtin.h"

namespace wf {

void RegisterBuiltinTasks(TaskRegistry* registry) {
  registry->Register("noop", MakeNoopTask());
  registry->Register("http", MakeHttpTask());
  registry->Register("rest_job", MakeRestJobTask());
  registry->Register("set", MakeSetTask());
  registry->Register("tfe_run", MakeTfeRunTask());
  registry->Register("awx_job", MakeAwxJobTask());
  registry->Register("exec", MakeExecTask());
  registry->Register("wait", MakeWaitTask());
  registry->Register("http_poll", MakeHttpPollTask());
  registry->Register("notify", MakeNotifyTask());
}

}  // namespace wf
