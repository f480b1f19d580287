// Tests for Status, Result and the JSON pointer helpers.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "wf/core/json_path.h"
#include "wf/core/status.h"

namespace wf {
namespace {

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "ok");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, CarriesCodeMessageAndPath) {
  Status s = Status::Invalid("must be a string", "/tasks/0/id");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "must be a string");
  EXPECT_EQ(s.path(), "/tasks/0/id");
  EXPECT_EQ(s.ToString(), "invalid_argument: must be a string (at /tasks/0/id)");
  EXPECT_EQ(Status::NotFound("no such request").ToString(), "not_found: no such request");
  EXPECT_EQ(Status::Unavailable("db down").code(), StatusCode::kUnavailable);
  EXPECT_EQ(Status::Internal("oops").ToString(), "internal: oops");
  EXPECT_EQ(Status(StatusCode::kFailedPrecondition, "lease lost").ToString(),
            "failed_precondition: lease lost");
}

TEST(StatusTest, CodeNames) {
  EXPECT_STREQ(StatusCodeName(StatusCode::kOk), "ok");
  EXPECT_STREQ(StatusCodeName(StatusCode::kAlreadyExists), "already_exists");
  EXPECT_STREQ(StatusCodeName(StatusCode::kDeadlineExceeded), "deadline_exceeded");
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<std::string> good(std::string("value"));
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good.status().ok());
  EXPECT_EQ(*good, "value");
  EXPECT_EQ(good->size(), 5u);

  Result<std::string> bad(Status::NotFound("missing"));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bad.status().message(), "missing");

  Result<std::unique_ptr<int>> moved(std::make_unique<int>(7));
  std::unique_ptr<int> p = std::move(moved).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TEST(JsonPathTest, JoinEscapesTokens) {
  EXPECT_EQ(JsonPathJoin("", "tasks"), "/tasks");
  EXPECT_EQ(JsonPathJoin("/tasks", 3), "/tasks/3");
  EXPECT_EQ(JsonPathJoin("/a", "b/c"), "/a/b~1c");
  EXPECT_EQ(JsonPathJoin("/a", "m~n"), "/a/m~0n");
  EXPECT_EQ(JsonPathJoin("/a", "~/"), "/a/~0~1");
  EXPECT_EQ(JsonPathJoin("/a", ""), "/a/");
  // The joined pointer addresses the value in nlohmann's own pointer implementation.
  json doc = {{"x/y", {{"m~n", {1, 2, 3}}}}};
  std::string path = JsonPathJoin(JsonPathJoin(JsonPathJoin("", "x/y"), "m~n"), 2);
  EXPECT_EQ(doc.at(json::json_pointer(path)), 3);
}

TEST(JsonPathTest, TypeNames) {
  EXPECT_STREQ(JsonTypeName(json(nullptr)), "null");
  EXPECT_STREQ(JsonTypeName(json::object()), "object");
  EXPECT_STREQ(JsonTypeName(json::array()), "array");
  EXPECT_STREQ(JsonTypeName(json("s")), "string");
  EXPECT_STREQ(JsonTypeName(json(true)), "boolean");
  EXPECT_STREQ(JsonTypeName(json(-3)), "integer");
  EXPECT_STREQ(JsonTypeName(json(3u)), "integer");
  EXPECT_STREQ(JsonTypeName(json(2.5)), "number");
}

TEST(JsonPathTest, ContentHashIsSha256OfCompactSortedJson) {
  EXPECT_EQ(ContentHash(json::object()),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  json doc = json::parse(R"({ "b": [true, null], "a": 1 })");
  EXPECT_EQ(ContentHash(doc), "1cc69c7fa23616ca2ec3ee70d24390a6225c8832db8a4c814c7e0e7f942f8668");
  EXPECT_NE(ContentHash(json::parse(R"({"a": 2, "b": [true, null]})")), ContentHash(doc));
}

}  // namespace
}  // namespace wf
