// How the engine claims queued requests: a backlog is taken batch after batch without
// waiting for a notification or the poll interval in between.
#include "harness.h"

namespace wf::test {
namespace {

using namespace std::chrono_literals;

TEST(Claim, AFullBatchIsFollowedByAnotherClaimAtOnce) {
  Stack stack;
  stack.AddTemplate("one_noop",
                    {{"name", "one_noop"}, {"tasks", {{{"id", "a"}, {"type", "noop"}}}}});
  // Batches of 2 and a poll interval far longer than the test: only claiming again after
  // a full batch can take the whole backlog, since no insert notifies the engine once it
  // runs.
  stack.SetEnv("WF_ENGINE_CLAIM_BATCH", "2");
  stack.SetEnv("WF_ENGINE_POLL_MS", "600000");
  stack.StartApi();
  std::vector<std::string> ids;
  for (int i = 0; i < 9; ++i) ids.push_back(stack.Submit("one_noop", json::object()));
  stack.StartEngine("engine-1");
  for (const auto& id : ids) {
    json done = stack.WaitDone(id, 60s);
    EXPECT_EQ(done["status"], "succeeded") << done.dump(2);
  }
  EXPECT_EQ(stack.Sql("SELECT count(*) FROM requests WHERE claims = 1"), "9");
}

}  // namespace
}  // namespace wf::test
