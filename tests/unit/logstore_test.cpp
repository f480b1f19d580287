// Tests for the wf-syslog log store: layout, seal records, sealed immutability, queries,
// retention, and the mapping from syslog messages to records.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "wf/logstore.h"
#include "wf/syslog_forwarder.h"

namespace wf {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kTrace = "0b6e9f1a-2c3d-4e5f-8a9b-0c1d2e3f4a5b";
const std::string kReq1 = "11111111-2222-4333-8444-555555555555";
const std::string kReq2 = "66666666-7777-4888-8999-aaaaaaaaaaaa";

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    out += buf;
  }
  return out;
}

LogRecord Rec(const std::string& trace, const std::string& request, const std::string& msg,
              const std::string& ts = "2024-05-01T10:00:00.000000Z", int severity = 6,
              const std::string& task = "") {
  LogRecord r;
  r.ts = ts;
  r.host = "h1";
  r.app = "wf-engine";
  r.pid = "42";
  r.severity = severity;
  r.trace_id = trace;
  r.request_id = request;
  r.task_id = task;
  r.msg = msg;
  return r;
}

class LogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("wf-logstore-test-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter++) + "-" + std::to_string(rd()));
    store_ = std::make_unique<LogStore>(dir_.string());
    ASSERT_TRUE(store_->Open().ok());
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path LogPath(const std::string& trace, const std::string& req) const {
    return dir_ / "traces" / trace / (req + ".log");
  }

  fs::path dir_;
  std::unique_ptr<LogStore> store_;
};

TEST(LogIdTest, AcceptsUuidsAndRejectsPathTricks) {
  EXPECT_TRUE(IsValidLogId(kTrace));
  EXPECT_TRUE(IsValidLogId("req_1.a-b"));
  EXPECT_FALSE(IsValidLogId(""));
  EXPECT_FALSE(IsValidLogId("."));
  EXPECT_FALSE(IsValidLogId(".."));
  EXPECT_FALSE(IsValidLogId(".hidden"));
  EXPECT_FALSE(IsValidLogId("../etc"));
  EXPECT_FALSE(IsValidLogId("a/b"));
  EXPECT_FALSE(IsValidLogId("a\\b"));
  EXPECT_FALSE(IsValidLogId(std::string("a\0b", 3)));
  EXPECT_FALSE(IsValidLogId("a b"));
  EXPECT_FALSE(IsValidLogId(std::string(129, 'a')));
  EXPECT_TRUE(IsValidLogId(std::string(128, 'a')));
}

TEST(LogTimeTest, ParsesRfc3339WithOffsetsAndFormatsUtc) {
  auto t = ParseRfc3339Micros("2024-05-01T12:00:00.5+02:00");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatRfc3339Micros(*t), "2024-05-01T10:00:00.500000Z");
  EXPECT_EQ(ParseRfc3339Micros("1970-01-01T00:00:01Z"), 1000000);
  EXPECT_EQ(ParseRfc3339Micros("1969-12-31T23:59:59.999999Z"), -1);
  EXPECT_EQ(FormatRfc3339Micros(-1), "1969-12-31T23:59:59.999999Z");
  for (const char* bad :
       {"", "2024-05-01", "2024-05-01T10:00:00", "2024-13-01T10:00:00Z", "2024-05-01T10:00:00+2:00",
        "2024-05-01T10:00:00Zjunk", "2024-05-01T10:00:00.Z", "yesterday"}) {
    EXPECT_FALSE(ParseRfc3339Micros(bad).has_value()) << bad;
  }
}

TEST(LogTimeTest, ArbitraryTextNeverBreaksTheParsers) {
  // Mutations of valid inputs, deterministic: every result is either nothing or valid.
  std::mt19937 rng(42);
  const std::string seeds[] = {"2024-05-01T12:00:00.123456+02:00", "1999-12-31T23:59:60Z",
                               "{\"ts\":\"x\",\"severity\":\"high\",\"msg\":3}"};
  for (int i = 0; i < 20000; ++i) {
    std::string s = seeds[i % 3];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s[at] = static_cast<char>(rng() % 256);
          break;
        case 1:
          s.erase(at, 1);
          break;
        default:
          s.insert(at, 1, "0123456789+-:.TZ"[rng() % 16]);
      }
    }
    if (auto t = ParseRfc3339Micros(s)) {
      EXPECT_TRUE(ParseRfc3339Micros(FormatRfc3339Micros(*t)).has_value()) << s;
    }
    if (auto r = LogRecord::FromJson(s)) {
      EXPECT_TRUE(LogRecord::FromJson(r->ToJson().dump()).has_value()) << s;
    }
  }
}

TEST(LogTimeTest, ParsesSeverityNames) {
  EXPECT_EQ(ParseSeverity("err"), 3);
  EXPECT_EQ(ParseSeverity("error"), 3);
  EXPECT_EQ(ParseSeverity("warning"), 4);
  EXPECT_EQ(ParseSeverity("warn"), 4);
  EXPECT_EQ(ParseSeverity("7"), 7);
  EXPECT_FALSE(ParseSeverity("8").has_value());
  EXPECT_FALSE(ParseSeverity("loud").has_value());
  EXPECT_STREQ(SeverityName(4), "warning");
}

TEST(LogRecordTest, TakesIdsFromStructuredDataAndTimeFrom5424) {
  auto m = ParseSyslog(
      "<11>1 2024-05-01T12:00:00.123+02:00 host1 wf-engine 4711 step "
      "[wf@32473 trace_id=\"" +
      kTrace + "\" request_id=\"" + kReq1 + "\" task_id=\"create_vm\"] it failed");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  LogRecord r = RecordFromSyslog(*m, 0);
  EXPECT_EQ(r.ts, "2024-05-01T10:00:00.123000Z");
  EXPECT_EQ(r.host, "host1");
  EXPECT_EQ(r.app, "wf-engine");
  EXPECT_EQ(r.pid, "4711");
  EXPECT_EQ(r.severity, 3);
  EXPECT_EQ(r.msgid, "step");
  EXPECT_EQ(r.trace_id, kTrace);
  EXPECT_EQ(r.request_id, kReq1);
  EXPECT_EQ(r.task_id, "create_vm");
  EXPECT_EQ(r.msg, "it failed");
  json j = r.ToJson();
  EXPECT_EQ(j["level"], "err");
  auto back = LogRecord::FromJson(j.dump());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->ToJson(), j);
}

TEST(LogRecordTest, Rfc3164LinesUseTheReceiveTime) {
  auto m = ParseSyslog("<13>Nov 22 03:21:29 myhost cron[99]: job done");
  ASSERT_TRUE(m.ok());
  LogRecord r = RecordFromSyslog(*m, 1000000);
  EXPECT_EQ(r.ts, "1970-01-01T00:00:01.000000Z");
  EXPECT_EQ(r.app, "cron");
  EXPECT_EQ(r.pid, "99");
  EXPECT_EQ(r.msg, "job done");
  EXPECT_TRUE(r.trace_id.empty());
}

TEST_F(LogStoreTest, StoresRequestLinesUnderTheirTraceAndOthersPerApp) {
  EXPECT_EQ(store_->Append(Rec(kTrace, kReq1, "one")), AppendResult::kStored);
  EXPECT_EQ(store_->Append(Rec(kTrace, kReq1, "two")), AppendResult::kStored);
  EXPECT_EQ(store_->Append(Rec("", "", "boot")), AppendResult::kStored);
  LogRecord no_request = Rec(kTrace, "", "trace only");
  no_request.app = "cron";
  EXPECT_EQ(store_->Append(no_request), AppendResult::kStored);
  LogRecord odd_app = Rec("", "", "x");
  odd_app.app = "../../evil";
  EXPECT_EQ(store_->Append(odd_app), AppendResult::kStored);

  const std::string text = ReadAll(LogPath(kTrace, kReq1));
  ASSERT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  json first = json::parse(text.substr(0, text.find('\n')));
  for (const char* key : {"ts", "host", "app", "pid", "severity", "level", "msgid", "trace_id",
                          "request_id", "task_id", "msg"}) {
    EXPECT_TRUE(first.contains(key)) << key;
  }
  EXPECT_EQ(first["msg"], "one");
  EXPECT_NE(ReadAll(dir_ / "service" / "wf-engine.log").find("boot"), std::string::npos);
  EXPECT_NE(ReadAll(dir_ / "service" / "cron.log").find("trace only"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir_ / "service" / "_._.._evil.log"));
  EXPECT_EQ(store_->TraceOf(kReq1).value(), kTrace);
}

TEST_F(LogStoreTest, RejectsIdsThatCannotNameFiles) {
  EXPECT_EQ(store_->Append(Rec("../../etc", kReq1, "x")), AppendResult::kBadId);
  EXPECT_EQ(store_->Append(Rec(kTrace, "../x", "x")), AppendResult::kBadId);
  EXPECT_EQ(store_->Append(Rec("a/b", "c", "x")), AppendResult::kBadId);
  EXPECT_TRUE(fs::is_empty(dir_ / "traces"));
  EXPECT_EQ(store_->Seal("..", kReq1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ReadTrace("..", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetSeal("../x").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LogStoreTest, SealRecordsSizeLinesAndSha256) {
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq1, "one")), AppendResult::kStored);
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq1, "two")), AppendResult::kStored);
  EXPECT_EQ(store_->GetSeal(kReq1).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(store_->IsSealed(kReq1));

  bool created = false;
  auto seal = store_->Seal("", kReq1, &created);  // trace looked up
  ASSERT_TRUE(seal.ok()) << seal.status().ToString();
  EXPECT_TRUE(created);
  const std::string content = ReadAll(LogPath(kTrace, kReq1));
  EXPECT_EQ(seal->trace_id, kTrace);
  EXPECT_EQ(seal->request_id, kReq1);
  EXPECT_EQ(seal->size, content.size());
  EXPECT_EQ(seal->lines, 2u);
  EXPECT_EQ(seal->sha256, Sha256Hex(content));
  EXPECT_TRUE(ParseRfc3339Micros(seal->sealed_at).has_value()) << seal->sealed_at;

  json on_disk = json::parse(ReadAll(dir_ / "traces" / kTrace / (kReq1 + ".seal")));
  EXPECT_EQ(on_disk["sha256"], seal->sha256);
  EXPECT_EQ(on_disk["lines"], 2);
  EXPECT_FALSE(fs::exists(dir_ / "traces" / kTrace / (kReq1 + ".seal.tmp")));

  auto again = store_->Seal(kTrace, kReq1, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(again->sealed_at, seal->sealed_at);
  EXPECT_EQ(store_->GetSeal(kReq1)->sha256, seal->sha256);
}

TEST_F(LogStoreTest, SealedLogsAreImmutable) {
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq1, "one")), AppendResult::kStored);
  ASSERT_TRUE(store_->Seal(kTrace, kReq1).ok());
  const std::string before = ReadAll(LogPath(kTrace, kReq1));
  EXPECT_EQ(store_->Append(Rec(kTrace, kReq1, "late")), AppendResult::kSealed);
  EXPECT_EQ(ReadAll(LogPath(kTrace, kReq1)), before);
  // Other requests of the trace still log.
  EXPECT_EQ(store_->Append(Rec(kTrace, kReq2, "other")), AppendResult::kStored);
}

TEST_F(LogStoreTest, SealsRequestsThatNeverLogged) {
  EXPECT_EQ(store_->Seal("", kReq1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetSeal(kReq1).status().code(), StatusCode::kNotFound);
  auto seal = store_->Seal(kTrace, kReq1);
  ASSERT_TRUE(seal.ok());
  EXPECT_EQ(seal->size, 0u);
  EXPECT_EQ(seal->lines, 0u);
  EXPECT_EQ(seal->sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(LogStoreTest, FindsRequestsOfAnEarlierProcess) {
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq1, "one")), AppendResult::kStored);
  LogStore reopened(dir_.string());
  ASSERT_TRUE(reopened.Open().ok());
  EXPECT_EQ(reopened.TraceOf(kReq1).value(), kTrace);
  EXPECT_TRUE(reopened.Seal("", kReq1).ok());
  EXPECT_EQ(reopened.ReadRequest(kReq1, {})->size(), 1u);
}

TEST_F(LogStoreTest, QueryFilters) {
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq1, "a", "2024-05-01T10:00:00.000000Z", 6, "t1")),
            AppendResult::kStored);
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq1, "b", "2024-05-01T10:00:01.000000Z", 3, "t2")),
            AppendResult::kStored);
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq1, "c", "2024-05-01T10:00:02.000000Z", 4, "t1")),
            AppendResult::kStored);
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq1, "d", "2024-05-01T10:00:03.000000Z", 7, "t1")),
            AppendResult::kStored);
  auto msgs = [&](const LogQuery& q) {
    std::string out;
    auto r = store_->ReadRequest(kReq1, q);
    EXPECT_TRUE(r.ok());
    if (r.ok()) {
      for (const auto& rec : *r) out += rec.msg;
    }
    return out;
  };
  EXPECT_EQ(msgs({}), "abcd");
  LogQuery q;
  q.task_id = "t1";
  EXPECT_EQ(msgs(q), "acd");
  q = {};
  q.max_severity = 4;
  EXPECT_EQ(msgs(q), "bc");
  q = {};
  q.since_micros = ParseRfc3339Micros("2024-05-01T12:00:01+02:00");
  EXPECT_EQ(msgs(q), "bcd");
  q.limit = 2;
  EXPECT_EQ(msgs(q), "bc");
  q = {};
  q.task_id = "t1";
  q.max_severity = 6;
  q.limit = 1;
  EXPECT_EQ(msgs(q), "a");
  EXPECT_EQ(store_->ReadRequest(kReq2, {}).status().code(), StatusCode::kNotFound);
}

TEST_F(LogStoreTest, TraceReadMergesRequestsInTimeOrder) {
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq1, "1", "2024-05-01T10:00:00.000000Z")),
            AppendResult::kStored);
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq2, "2", "2024-05-01T10:00:01.000000Z")),
            AppendResult::kStored);
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq1, "3", "2024-05-01T10:00:02.000000Z")),
            AppendResult::kStored);
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq2, "4", "2024-05-01T10:00:03.000000Z")),
            AppendResult::kStored);
  auto all = store_->ReadTrace(kTrace, {});
  ASSERT_TRUE(all.ok());
  std::string order;
  for (const auto& r : *all) order += r.msg;
  EXPECT_EQ(order, "1234");
  LogQuery q;
  q.limit = 3;
  EXPECT_EQ(store_->ReadTrace(kTrace, q)->size(), 3u);
  EXPECT_EQ(store_->ReadTrace("no-such-trace", {}).status().code(), StatusCode::kNotFound);
}

TEST_F(LogStoreTest, ReadFromReturnsOnlyNewWholeLines) {
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq1, "a")), AppendResult::kStored);
  uint64_t offset = 0;
  EXPECT_EQ(store_->ReadFrom(kReq1, &offset)->size(), 1u);
  EXPECT_EQ(store_->ReadFrom(kReq1, &offset)->size(), 0u);
  // A line being written (no LF yet) is not returned until it is complete.
  {
    std::ofstream out(LogPath(kTrace, kReq1), std::ios::app | std::ios::binary);
    out << "{\"msg\":\"half";
  }
  const uint64_t before = offset;
  EXPECT_EQ(store_->ReadFrom(kReq1, &offset)->size(), 0u);
  EXPECT_EQ(offset, before);
  {
    std::ofstream out(LogPath(kTrace, kReq1), std::ios::app | std::ios::binary);
    out << "\"}\n";
  }
  auto r = store_->ReadFrom(kReq1, &offset);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].msg, "half");
}

TEST_F(LogStoreTest, WaitForChangeWakesOnAppend) {
  const uint64_t v = store_->version();
  ASSERT_EQ(store_->Append(Rec(kTrace, kReq1, "a")), AppendResult::kStored);
  // Already changed: returns at once even with a far deadline.
  EXPECT_NE(store_->WaitForChange(v, std::chrono::steady_clock::now() + std::chrono::hours(1)), v);
}

class RetentionTest : public LogStoreTest {
 protected:
  // A sealed request whose seal is `age` old, with a log of `bytes` bytes.
  void SealedRequest(const std::string& req, std::chrono::hours age, size_t msg_bytes) {
    ASSERT_EQ(store_->Append(Rec(kTrace, req, std::string(msg_bytes, 'x'))), AppendResult::kStored);
    ASSERT_TRUE(store_->Seal(kTrace, req).ok());
    fs::last_write_time(dir_ / "traces" / kTrace / (req + ".seal"),
                        fs::file_time_type::clock::now() - age);
  }
};

TEST_F(RetentionTest, DeletesSealedLogsOlderThanTheRetention) {
  SealedRequest("old", std::chrono::hours(24 * 10), 10);
  SealedRequest("new", std::chrono::hours(1), 10);
  ASSERT_EQ(store_->Append(Rec(kTrace, "running", "x")), AppendResult::kStored);
  ASSERT_EQ(store_->Append(Rec(kTrace, "abandoned", "x")), AppendResult::kStored);
  fs::last_write_time(LogPath(kTrace, "abandoned"),
                      fs::file_time_type::clock::now() - std::chrono::hours(24 * 100));
  RetentionResult r =
      store_->RunRetention(std::chrono::system_clock::now(), std::chrono::hours(24 * 7), 0);
  EXPECT_EQ(r.deleted_requests, 1);
  EXPECT_GT(r.deleted_bytes, 10u);
  EXPECT_FALSE(fs::exists(LogPath(kTrace, "old")));
  EXPECT_FALSE(fs::exists(dir_ / "traces" / kTrace / "old.seal"));
  EXPECT_TRUE(fs::exists(LogPath(kTrace, "new")));
  EXPECT_EQ(store_->GetSeal("old").status().code(), StatusCode::kNotFound);
  // Unsealed logs are never deleted; one idle for the whole retention is sealed, so that
  // it ages out like the others.
  EXPECT_TRUE(fs::exists(LogPath(kTrace, "running")));
  EXPECT_FALSE(store_->IsSealed("running"));
  EXPECT_EQ(r.sealed_stale, 1);
  EXPECT_TRUE(fs::exists(LogPath(kTrace, "abandoned")));
  EXPECT_TRUE(store_->IsSealed("abandoned"));
}

TEST_F(RetentionTest, SizeCapDeletesOldestSealedFirst) {
  SealedRequest("a", std::chrono::hours(30), 1000);
  SealedRequest("b", std::chrono::hours(20), 1000);
  SealedRequest("c", std::chrono::hours(10), 1000);
  ASSERT_EQ(store_->Append(Rec(kTrace, "running", std::string(1000, 'y'))), AppendResult::kStored);
  const uint64_t one = fs::file_size(LogPath(kTrace, "a"));
  // Room for two logs: the running one and the youngest sealed one.
  RetentionResult r =
      store_->RunRetention(std::chrono::system_clock::now(), std::chrono::seconds(0), 2 * one + 10);
  EXPECT_EQ(r.deleted_requests, 2);
  EXPECT_FALSE(fs::exists(LogPath(kTrace, "a")));
  EXPECT_FALSE(fs::exists(LogPath(kTrace, "b")));
  EXPECT_TRUE(fs::exists(LogPath(kTrace, "c")));
  EXPECT_TRUE(fs::exists(LogPath(kTrace, "running")));
  // Nothing sealed left to delete: the cap cannot be met, and running logs stay.
  r = store_->RunRetention(std::chrono::system_clock::now(), std::chrono::seconds(0), 1);
  EXPECT_EQ(r.deleted_requests, 1);
  EXPECT_TRUE(fs::exists(LogPath(kTrace, "running")));
}

TEST_F(RetentionTest, RemovesEmptyTraceFolders) {
  SealedRequest("a", std::chrono::hours(24 * 40), 10);
  store_->RunRetention(std::chrono::system_clock::now(), std::chrono::hours(24 * 30), 0);
  EXPECT_FALSE(fs::exists(dir_ / "traces" / kTrace));
  EXPECT_TRUE(fs::exists(dir_ / "traces"));
}

TEST(ForwardUrlTest, ParsesTcpAndUdpAndNamesTheKeyInErrors) {
  auto t = ParseForwardUrl("tcp://127.0.0.1:514");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->tcp);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 514);
  auto u = ParseForwardUrl("udp://logs.example.com:1514");
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->tcp);
  EXPECT_EQ(u->host, "logs.example.com");
  EXPECT_EQ(ParseForwardUrl("udp://[::1]:514")->host, "::1");
  for (const char* bad : {"", "x", "http://h:1", "tcp://h", "tcp://:514", "tcp://h:0",
                          "tcp://h:65536", "tcp://h:12a", "tcp://h/x:1"}) {
    auto r = ParseForwardUrl(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("syslog.forward_url"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace wf
