// The simplest built-in modules, through the same TaskContext the engine builds.
#include <gtest/gtest.h>

#include "builtin.h"
#include "task_fixture.h"

namespace wf {
namespace {

TEST(SetTask, EveryParamBecomesAnOutput) {
  test::TaskFixture f;
  auto task = MakeSetTask();
  TaskOutcome o = f.Invoke(*task, {{"a", 1}, {"b", {{"c", "x"}}}});
  ASSERT_EQ(o.kind, TaskOutcome::Kind::kSucceeded);
  EXPECT_EQ(o.outputs, json({{"a", 1}, {"b", {{"c", "x"}}}}));
}

TEST(NoopTask, CopiesItsOutputsParam) {
  test::TaskFixture f;
  auto task = MakeNoopTask();
  TaskOutcome o = f.Invoke(*task, {{"outputs", {{"k", "v"}}}});
  ASSERT_EQ(o.kind, TaskOutcome::Kind::kSucceeded);
  EXPECT_EQ(o.outputs, json({{"k", "v"}}));
  EXPECT_TRUE(f.state.values().empty());
}

}  // namespace
}  // namespace wf
