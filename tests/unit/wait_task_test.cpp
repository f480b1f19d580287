// The wait module: the deadline is kept in the task state, so rechecks and restarts never
// extend the wait.
#include <gtest/gtest.h>

#include <thread>

#include "builtin.h"
#include "params.h"
#include "task_fixture.h"

namespace wf {
namespace {

using Kind = TaskOutcome::Kind;
using std::chrono::milliseconds;

int64_t SavedUntil(test::TaskFixture& f) { return f.state.values().at("wait").at("until_ms"); }

TEST(WaitTask, ADurationIsWaitedOutThroughPendingRechecks) {
  test::TaskFixture f;
  auto task = MakeWaitTask();
  int64_t before = params::NowEpochMs();
  TaskOutcome o = f.Invoke(*task, {{"seconds", 0.2}});
  ASSERT_EQ(o.kind, Kind::kPending);
  EXPECT_LE(o.recheck_after, milliseconds(200));
  int64_t until = SavedUntil(f);
  EXPECT_GE(until, before + 200);
  int rechecks = 0;
  while (o.kind == Kind::kPending && rechecks++ < 100) {
    std::this_thread::sleep_for(o.recheck_after);  // what the engine's timer does
    o = f.Invoke(*task, {{"seconds", 0.2}});
  }
  ASSERT_EQ(o.kind, Kind::kSucceeded);
  EXPECT_EQ(o.outputs, json({{"waited_until", params::FormatRfc3339(until)}}));
  EXPECT_GE(params::NowEpochMs(), until);
}

TEST(WaitTask, ARestartMidWaitKeepsTheOriginalDeadline) {
  test::TaskFixture f;
  auto task = MakeWaitTask();
  json params = {{"duration", "1h"}};
  TaskOutcome o = f.Invoke(*task, params);
  ASSERT_EQ(o.kind, Kind::kPending);
  EXPECT_GT(o.recheck_after, milliseconds(3500 * 1000));
  EXPECT_LE(o.recheck_after, milliseconds(3600 * 1000));

  // 59m55s later the engine restarts: the next invocation (a fresh context over the same
  // saved state) waits only for what is left.
  json saved = f.state.values().at("wait");
  saved["until_ms"] = params::NowEpochMs() + 5000;
  ASSERT_TRUE(f.state.Set("wait", saved).ok());
  o = f.Invoke(*task, params);
  ASSERT_EQ(o.kind, Kind::kPending);
  EXPECT_LE(o.recheck_after, milliseconds(5000));

  saved["until_ms"] = params::NowEpochMs() - 1;
  ASSERT_TRUE(f.state.Set("wait", saved).ok());
  o = f.Invoke(*task, params);
  EXPECT_EQ(o.kind, Kind::kSucceeded);

  // A new attempt (a retry after a failure) starts a new wait.
  o = f.Invoke(*task, params, /*attempt=*/2);
  ASSERT_EQ(o.kind, Kind::kPending);
  EXPECT_GT(o.recheck_after, milliseconds(3500 * 1000));
}

TEST(WaitTask, UntilAPointInTime) {
  test::TaskFixture f;
  auto task = MakeWaitTask();
  int64_t target = params::NowEpochMs() + 3600 * 1000;
  TaskOutcome o = f.Invoke(*task, {{"until", params::FormatRfc3339(target)}});
  ASSERT_EQ(o.kind, Kind::kPending);
  EXPECT_LE(o.recheck_after, milliseconds(3600 * 1000));
  EXPECT_EQ(SavedUntil(f), target);

  test::TaskFixture past;
  o = past.Invoke(*task, {{"until", "2020-01-01T00:00:00Z"}});
  ASSERT_EQ(o.kind, Kind::kSucceeded);
  EXPECT_EQ(o.outputs["waited_until"], "2020-01-01T00:00:00.000Z");

  test::TaskFixture far;
  o = far.Invoke(*task, {{"until", "2999-01-01T00:00:00Z"}});
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("more than 30 days away"), std::string::npos) << o.error;
}

TEST(WaitTask, TimesAndDurationsParse) {
  EXPECT_EQ(*params::ParseRfc3339("2026-12-01T14:00:00+01:00", ""),
            *params::ParseRfc3339("2026-12-01T13:00:00Z", ""));
  EXPECT_EQ(*params::ParseRfc3339("1970-01-01T00:00:01.250Z", ""), 1250);
  EXPECT_EQ(*params::ParseRfc3339("2024-02-29t00:00:00z", ""), 1709164800000);
  for (const char* bad : {"2026-02-29T00:00:00Z", "2026-12-01T13:00:00", "2026-12-01 13:00Z",
                          "2026-13-01T00:00:00Z", "2026-12-01T13:00:00+0100", "tomorrow"}) {
    EXPECT_FALSE(params::ParseRfc3339(bad, "/until").ok()) << bad;
  }
  const milliseconds max = std::chrono::hours(24);
  EXPECT_EQ(*params::ParseDuration("1h30m", "", max), milliseconds(5400 * 1000));
  EXPECT_EQ(*params::ParseDuration("250ms", "", max), milliseconds(250));
  EXPECT_EQ(*params::ParseDuration(1.5, "", max), milliseconds(1500));
  EXPECT_EQ(*params::ParseDuration("1.5s", "", max), milliseconds(1500));
  for (const json& bad : {json("5x"), json(""), json("m"), json("-5s"), json(-1), json("2d")}) {
    EXPECT_FALSE(params::ParseDuration(bad, "/d", max).ok()) << bad;
  }
}

TEST(WaitTask, ParamsAreCheckedWithTheirPaths) {
  auto task = MakeWaitTask();
  auto check = [&](const json& params) { return task->Validate(params, "/tasks/1/params"); };
  EXPECT_TRUE(check({{"duration", "5m"}}).ok());
  EXPECT_TRUE(check({{"until", "${data.when}"}}).ok());
  Status s = check(json::object());
  EXPECT_EQ(s.path(), "/tasks/1/params");
  EXPECT_EQ(s.message(), "give exactly one of 'seconds', 'duration' and 'until'");
  EXPECT_FALSE(check({{"seconds", 1}, {"duration", "1s"}}).ok());
  s = check({{"duration", "5 minutes"}});
  EXPECT_EQ(s.path(), "/tasks/1/params/duration");
  s = check({{"seconds", "5"}});
  EXPECT_EQ(s.path(), "/tasks/1/params/seconds");
  s = check({{"until", "soon"}});
  EXPECT_EQ(s.path(), "/tasks/1/params/until");
  s = check({{"duration", "31d"}});
  EXPECT_EQ(s.path(), "/tasks/1/params/duration");
  s = check({{"seconds", 1}, {"for", 2}});
  EXPECT_EQ(s.path(), "/tasks/1/params/for");
}

}  // namespace
}  // namespace wf
