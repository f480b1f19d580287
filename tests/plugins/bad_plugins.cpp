// Plugins that must be refused, one per WF_BAD_PLUGIN value (a compile definition):
//   1 wrong ABI version      2 no entry point       3 registration throws
//   4 registration crashes   5 registers a type that exists (noop)
//   6 registers nothing      7 registration hangs
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>

#include "wf/plugin.h"

namespace {

class Nothing : public wf::Task {
 public:
  wf::TaskOutcome Run(wf::TaskContext&) const override { return wf::TaskOutcome::Succeeded(); }
};

[[maybe_unused]] void Register(wf::TaskRegistry* registry) {
#if WF_BAD_PLUGIN == 3
  (void)registry;
  throw std::runtime_error("no licence for this plugin");
#elif WF_BAD_PLUGIN == 4
  (void)registry;
  volatile int* p = nullptr;
  *p = 42;
#elif WF_BAD_PLUGIN == 5
  registry->Register("noop", std::make_unique<Nothing>());
#elif WF_BAD_PLUGIN == 6
  (void)registry;
#elif WF_BAD_PLUGIN == 7
  (void)registry;
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
#else
  registry->Register("bad_plugin_task", std::make_unique<Nothing>());
#endif
}

}  // namespace

#if WF_BAD_PLUGIN == 1
extern "C" __attribute__((visibility("default"))) const WfPluginInfo* wf_plugin_info() {
  static const WfPluginInfo info = {WF_PLUGIN_ABI_VERSION + 100, WF_PLUGIN_BUILD_SIGNATURE,
                                    "future", "9", Register};
  return &info;
}
#elif WF_BAD_PLUGIN == 2
extern "C" __attribute__((visibility("default"))) int not_a_plugin() { return 1; }
#else
WF_PLUGIN("bad", "0", Register)
#endif
