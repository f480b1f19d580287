// Tests for `when` conditions: parsing, references, evaluation and errors.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "wf/core/condition.h"

namespace wf {
namespace {

constexpr char kPath[] = "/tasks/0/when";

class ConditionTest : public ::testing::Test {
 protected:
  ConditionTest() {
    data_ = json::parse(R"({
      "name": "Ann",
      "n": 42,
      "big": 18446744073709551615,
      "neg": -5,
      "f": 1.5,
      "flag": true,
      "off": false,
      "nothing": null,
      "zero": 0,
      "zero_f": 0.0,
      "empty_s": "",
      "empty_a": [],
      "empty_o": {},
      "obj": {"a": 1, "b": [1, 2]},
      "arr": ["x", "y", "z"],
      "nums": [1, 2.5, 3],
      "tags": ["red", "blue"],
      "code": "${data.name} == 'Ann'",
      "quote": "it's"
    })");
    request_ = {{"id", "req-1"}, {"trace_id", "trace-9"}, {"template", "wf"}};
    tasks_["fetch"] = json::parse(R"({
      "status": "succeeded",
      "outputs": {"code": 200, "body": {"items": [10, 20]}, "empty": null},
      "error": "",
      "attempts": 1
    })");
    tasks_["later"] = json::parse(R"({"status": "pending", "outputs": {}})");
    scope_.data = &data_;
    scope_.request = &request_;
    scope_.task = [this](const std::string& id) -> const json* {
      auto it = tasks_.find(id);
      return it == tasks_.end() ? nullptr : &it->second;
    };
  }

  std::shared_ptr<const Condition> MustParse(const std::string& text) {
    auto c = Condition::Parse(text, kPath);
    EXPECT_TRUE(c.ok()) << text << ": " << c.status().ToString();
    return c.ok() ? *c : nullptr;
  }

  // Parses and evaluates; fails the test on any error.
  bool Eval(const std::string& text) {
    auto c = MustParse(text);
    if (!c) return false;
    auto r = c->Evaluate(scope_);
    EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    return r.ok() && *r;
  }

  // Parses (must succeed) and evaluates (must fail).
  Status EvalError(const std::string& text) {
    auto c = MustParse(text);
    if (!c) return Status::Internal("did not parse");
    auto r = c->Evaluate(scope_);
    EXPECT_FALSE(r.ok()) << text << " evaluated to " << (r.ok() && *r ? "true" : "false");
    return r.status();
  }

  Status ParseError(const std::string& text) {
    auto c = Condition::Parse(text, kPath);
    EXPECT_FALSE(c.ok()) << text << " parsed";
    return c.status();
  }

  json data_;
  json request_;
  std::map<std::string, json> tasks_;
  ExpressionScope scope_;
};

// --- Comparisons --------------------------------------------------------------------------

TEST_F(ConditionTest, EqualityIsJsonEquality) {
  EXPECT_TRUE(Eval("${data.n} == 42"));
  EXPECT_TRUE(Eval("${data.n} == 42.0"));
  EXPECT_TRUE(Eval("1 == 1.0"));
  EXPECT_TRUE(Eval("${data.name} == 'Ann'"));
  EXPECT_TRUE(Eval("${data.name} == \"Ann\""));
  EXPECT_FALSE(Eval("${data.name} == 'ann'"));
  EXPECT_FALSE(Eval("${data.n} == '42'"));  // no coercion between types
  EXPECT_TRUE(Eval("${data.n} != '42'"));
  EXPECT_TRUE(Eval("${data.nothing} == null"));
  EXPECT_TRUE(Eval("${data.flag} == true"));
  EXPECT_FALSE(Eval("${data.flag} == 1"));
  EXPECT_TRUE(Eval("${data.arr} == ['x', 'y', 'z']"));
  EXPECT_TRUE(Eval("${data.nums} == [1.0, 2.5, 3]"));
  EXPECT_FALSE(Eval("${data.arr} == ['x', 'y']"));
  EXPECT_TRUE(Eval("${data.obj.b} == [1, 2]"));
  EXPECT_TRUE(Eval("${data.obj} != null"));
  EXPECT_TRUE(Eval("${data.neg} == -5"));
  EXPECT_TRUE(Eval("${tasks.fetch.status} == 'succeeded'"));
  EXPECT_TRUE(Eval("${tasks.fetch.outputs.code} == 200"));
  EXPECT_TRUE(Eval("${request.id} == 'req-1'"));
}

TEST_F(ConditionTest, OrderingOfNumbers) {
  EXPECT_TRUE(Eval("${data.n} > 41"));
  EXPECT_FALSE(Eval("${data.n} > 42"));
  EXPECT_TRUE(Eval("${data.n} >= 42"));
  EXPECT_TRUE(Eval("${data.n} <= 42"));
  EXPECT_FALSE(Eval("${data.n} < 42"));
  EXPECT_TRUE(Eval("${data.f} < 2"));
  EXPECT_TRUE(Eval("${data.f} > 1.25"));
  EXPECT_TRUE(Eval("${data.neg} < 0"));
  EXPECT_TRUE(Eval("-1.5 < -1"));
  EXPECT_TRUE(Eval("${data.big} > 9223372036854775807"));  // unsigned vs signed, exact
  EXPECT_TRUE(Eval("${data.neg} < ${data.big}"));
  EXPECT_TRUE(Eval("${data.big} == 18446744073709551615"));
}

TEST_F(ConditionTest, OrderingOfStrings) {
  EXPECT_TRUE(Eval("'abc' < 'abd'"));
  EXPECT_TRUE(Eval("'ab' < 'abc'"));
  EXPECT_TRUE(Eval("${data.name} >= 'Ann'"));
  EXPECT_TRUE(Eval("'B' < 'a'"));  // bytewise
  EXPECT_FALSE(Eval("'b' <= 'a'"));
}

TEST_F(ConditionTest, OrderingOfMixedTypesIsAnError) {
  Status s = EvalError("${data.n} < '50'");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.path(), kPath);
  EXPECT_NE(s.message().find("'<' cannot compare integer with string"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("at offset 10"), std::string::npos) << s.message();

  s = EvalError("${data.nothing} >= 1");
  EXPECT_NE(s.message().find("null with integer"), std::string::npos) << s.message();
  s = EvalError("true > false");
  EXPECT_NE(s.message().find("boolean with boolean"), std::string::npos) << s.message();
  s = EvalError("${data.arr} <= ${data.arr}");
  EXPECT_NE(s.message().find("array with array"), std::string::npos) << s.message();
}

// --- Boolean operators --------------------------------------------------------------------

TEST_F(ConditionTest, AndOrNot) {
  EXPECT_TRUE(Eval("true and true"));
  EXPECT_FALSE(Eval("true and false"));
  EXPECT_TRUE(Eval("false or true"));
  EXPECT_FALSE(Eval("false or false"));
  EXPECT_FALSE(Eval("not true"));
  EXPECT_TRUE(Eval("not not true"));
  EXPECT_TRUE(Eval("not ${data.n} == 1"));  // not applies to the whole comparison
  EXPECT_TRUE(Eval("${data.n} == 42 and ${data.name} == 'Ann' and ${data.flag}"));
  EXPECT_TRUE(Eval("${data.n} == 1 or ${data.n} == 2 or ${data.n} == 42"));
}

TEST_F(ConditionTest, Precedence) {
  // not > and > or.
  EXPECT_TRUE(Eval("true or false and false"));     // true or (false and false)
  EXPECT_FALSE(Eval("(true or false) and false"));  // parentheses override
  EXPECT_TRUE(Eval("not false and true"));          // (not false) and true
  EXPECT_FALSE(Eval("not (false or true)"));
  EXPECT_TRUE(Eval("not false or false"));
  EXPECT_FALSE(Eval("not true or false"));
  EXPECT_TRUE(Eval("false and true or true"));  // (false and true) or true
  EXPECT_TRUE(Eval("((((true))))"));
}

TEST_F(ConditionTest, ShortCircuit) {
  EXPECT_FALSE(Eval("false and ${data.missing} == 1"));
  EXPECT_TRUE(Eval("true or ${data.missing} == 1"));
  EXPECT_TRUE(Eval("${data.flag} or ${tasks.unknown.status} == 'x'"));
  EXPECT_FALSE(Eval("exists ${data.missing} and ${data.missing} > 3"));
  EXPECT_TRUE(Eval("not exists ${data.missing} or ${data.missing} > 3"));
  // Without short-circuit the unresolved reference is evaluated and fails.
  Status s = EvalError("true and ${data.missing} == 1");
  EXPECT_NE(s.message().find("${data.missing}"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("no key 'missing'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("at offset 9"), std::string::npos) << s.message();
  EXPECT_EQ(s.path(), kPath);
  EvalError("false or ${data.missing}");
}

TEST_F(ConditionTest, Truthiness) {
  struct Case {
    const char* text;
    bool expected;
  };
  const Case cases[] = {
      {"${data.off}", false},
      {"${data.nothing}", false},
      {"${data.zero}", false},
      {"${data.zero_f}", false},
      {"${data.empty_s}", false},
      {"${data.empty_a}", false},
      {"${data.empty_o}", false},
      {"false", false},
      {"null", false},
      {"0", false},
      {"0.0", false},
      {"''", false},
      {"[]", false},
      {"${data.flag}", true},
      {"${data.n}", true},
      {"${data.neg}", true},
      {"${data.f}", true},
      {"${data.name}", true},
      {"${data.arr}", true},
      {"${data.obj}", true},
      {"true", true},
      {"1", true},
      {"-1", true},
      {"0.5", true},
      {"'0'", true},
      {"'false'", true},
      {"[0]", true},
      {"[null]", true},
  };
  for (const auto& c : cases) EXPECT_EQ(Eval(c.text), c.expected) << c.text;
  // Truthiness also applies to operands of and/or/not.
  EXPECT_TRUE(Eval("${data.name} and ${data.n}"));
  EXPECT_FALSE(Eval("${data.name} and ${data.empty_s}"));
  EXPECT_TRUE(Eval("${data.empty_a} or ${data.obj}"));
  EXPECT_TRUE(Eval("not ${data.nothing}"));
  EXPECT_FALSE(Eval("not ${data.arr}"));
  // A bare operand that does not resolve is an error, not false.
  EvalError("${data.missing}");
}

// --- in / not in --------------------------------------------------------------------------

TEST_F(ConditionTest, InList) {
  EXPECT_TRUE(Eval("${data.name} in ['Bob', 'Ann']"));
  EXPECT_FALSE(Eval("${data.name} in ['Bob', 'Cid']"));
  EXPECT_TRUE(Eval("${data.name} not in ['Bob', 'Cid']"));
  EXPECT_FALSE(Eval("${data.name} not in ['Ann']"));
  EXPECT_FALSE(Eval("'Ann' in []"));
  EXPECT_TRUE(Eval("42 in [1, 42.0]"));
  EXPECT_FALSE(Eval("'42' in [42]"));
  EXPECT_TRUE(Eval("[1, 2] in [[1, 2], [3]]"));
  EXPECT_TRUE(Eval("null in [1, null]"));
}

TEST_F(ConditionTest, InArrayFromData) {
  EXPECT_TRUE(Eval("'y' in ${data.arr}"));
  EXPECT_FALSE(Eval("'w' in ${data.arr}"));
  EXPECT_TRUE(Eval("'w' not in ${data.arr}"));
  EXPECT_TRUE(Eval("2.5 in ${data.nums}"));
  EXPECT_TRUE(Eval("3.0 in ${data.nums}"));
  EXPECT_TRUE(Eval("20 in ${tasks.fetch.outputs.body.items}"));
  EXPECT_FALSE(Eval("'x' in ${data.empty_a}"));
}

TEST_F(ConditionTest, InString) {
  EXPECT_TRUE(Eval("'nn' in ${data.name}"));
  EXPECT_TRUE(Eval("'Ann' in ${data.name}"));
  EXPECT_FALSE(Eval("'ann' in ${data.name}"));
  EXPECT_TRUE(Eval("'' in ${data.name}"));
  EXPECT_TRUE(Eval("'xyz' not in ${data.name}"));
  EXPECT_TRUE(Eval("'req' in ${request.id}"));
  Status s = EvalError("1 in 'a1b'");
  EXPECT_NE(s.message().find("'in' with a string on the right needs a string on the left, got "
                             "integer"),
            std::string::npos)
      << s.message();
}

TEST_F(ConditionTest, InObject) {
  EXPECT_TRUE(Eval("'a' in ${data.obj}"));
  EXPECT_TRUE(Eval("'b' in ${data.obj}"));
  EXPECT_FALSE(Eval("'c' in ${data.obj}"));
  EXPECT_TRUE(Eval("'c' not in ${data.obj}"));
  EXPECT_TRUE(Eval("'code' in ${tasks.fetch.outputs}"));
  EXPECT_FALSE(Eval("'x' in ${data.empty_o}"));
  Status s = EvalError("1 in ${data.obj}");
  EXPECT_NE(s.message().find("an object on the right needs a string on the left"),
            std::string::npos)
      << s.message();
}

TEST_F(ConditionTest, InWithOtherRightSideIsAnError) {
  Status s = EvalError("1 in ${data.n}");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'in' needs a list, string or object on the right, got integer"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("at offset 2"), std::string::npos) << s.message();
  s = EvalError("1 not in null");
  EXPECT_NE(s.message().find("'not in' needs a list, string or object on the right, got null"),
            std::string::npos)
      << s.message();
}

// --- exists -------------------------------------------------------------------------------

TEST_F(ConditionTest, ExistsOnData) {
  EXPECT_TRUE(Eval("exists ${data.name}"));
  EXPECT_TRUE(Eval("exists(${data.name})"));
  EXPECT_TRUE(Eval("exists ( ${data.obj.b[1]} )"));
  EXPECT_TRUE(Eval("exists ${data.nothing}"));  // present, even if null
  EXPECT_FALSE(Eval("exists ${data.missing}"));
  EXPECT_FALSE(Eval("exists(${data.obj.c})"));
  EXPECT_FALSE(Eval("exists ${data.obj.b[2]}"));
  EXPECT_FALSE(Eval("exists ${data.name.first}"));  // cannot descend into a string
  EXPECT_TRUE(Eval("not exists ${data.missing}"));
  EXPECT_TRUE(Eval("exists ${request.trace_id}"));
  EXPECT_FALSE(Eval("exists ${item.x}"));  // outside for_each: no error, just false
}

TEST_F(ConditionTest, ExistsOnTaskOutputs) {
  EXPECT_TRUE(Eval("exists ${tasks.fetch.outputs.code}"));
  EXPECT_TRUE(Eval("exists ${tasks.fetch.outputs.body.items[0]}"));
  EXPECT_TRUE(Eval("exists ${tasks.fetch.outputs.empty}"));
  EXPECT_FALSE(Eval("exists ${tasks.fetch.outputs.nope}"));
  EXPECT_FALSE(Eval("exists ${tasks.later.outputs.code}"));
  EXPECT_FALSE(Eval("exists ${tasks.unknown.outputs.code}"));
  EXPECT_TRUE(Eval("exists ${tasks.later.status}"));
  EXPECT_TRUE(Eval("exists ${tasks.fetch.outputs.code} and ${tasks.fetch.outputs.code} == 200"));

  ExpressionScope no_tasks;
  no_tasks.data = &data_;
  auto c = MustParse("exists ${tasks.fetch.outputs.code}");
  auto r = c->Evaluate(no_tasks);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(*r);
}

TEST_F(ConditionTest, ItemAndIndexInsideForEach) {
  json item = {{"name", "x"}, {"size", 3}};
  json index = 2;
  scope_.item = &item;
  scope_.index = &index;
  EXPECT_TRUE(Eval("${item.size} > 2 and ${index} == 2"));
  EXPECT_TRUE(Eval("exists ${item.name}"));
  EXPECT_FALSE(Eval("exists ${item.missing}"));
}

// --- Literals -----------------------------------------------------------------------------

TEST_F(ConditionTest, StringEscapes) {
  EXPECT_TRUE(Eval(R"(${data.quote} == 'it\'s')"));
  EXPECT_TRUE(Eval(R"(${data.quote} == "it's")"));
  EXPECT_TRUE(Eval(R"('say "hi"' == "say \"hi\"")"));
  EXPECT_TRUE(Eval(R"('a\\b' == "a\\b")"));
  EXPECT_TRUE(Eval(R"('\\' in 'x\\y')"));
  EXPECT_TRUE(Eval(R"("\'" == '\'')"));
  EXPECT_TRUE(Eval(R"('and or not' == 'and or not')"));  // keywords inside strings are text
  EXPECT_TRUE(Eval(R"('a)b' != '(')"));
}

TEST_F(ConditionTest, StringLiteralsAreNotReferences) {
  EXPECT_TRUE(Eval("'${data.name}' != ${data.name}"));
  EXPECT_TRUE(Eval("'${data.name}' == \"${data.name}\""));
  EXPECT_TRUE(MustParse("'${data.name}' == 'x'")->references().empty());
}

TEST_F(ConditionTest, ReferencedValuesAreNeverParsedAgain) {
  // data.code holds condition text; it is compared as a plain string.
  EXPECT_TRUE(Eval("${data.code} == \"${data.name} == 'Ann'\""));
  EXPECT_TRUE(Eval("${data.code}"));  // a non-empty string is truthy
  EXPECT_FALSE(Eval("${data.code} == true"));
}

TEST_F(ConditionTest, Numbers) {
  EXPECT_TRUE(Eval("0 == 0"));
  EXPECT_TRUE(Eval("-0 == 0"));
  EXPECT_TRUE(Eval("10.25 > 10.2"));
  EXPECT_TRUE(Eval("-3 < -2.5"));
  EXPECT_TRUE(Eval("1.50 == 1.5"));
}

TEST_F(ConditionTest, ListLiteralsWithReferences) {
  EXPECT_TRUE(Eval("[${data.n}, ${data.name}] == [42, 'Ann']"));
  EXPECT_TRUE(Eval("'Ann' in [${data.name}, 'x']"));
  EXPECT_TRUE(Eval("${tasks.fetch.outputs.code} in [${data.n}, 200]"));
  EXPECT_TRUE(Eval("[ [ ${data.n} ] , [] ] == [[42], []]"));
  EXPECT_TRUE(Eval("[${data.arr}] == [['x', 'y', 'z']]"));
  // A reference inside a list that does not resolve is an error.
  Status s = EvalError("1 in [1, ${data.missing}]");
  EXPECT_NE(s.message().find("${data.missing}"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("at offset 9"), std::string::npos) << s.message();
}

TEST_F(ConditionTest, Whitespace) {
  EXPECT_TRUE(Eval("  ${data.n}==42  "));
  EXPECT_TRUE(Eval("${data.flag}and${data.n}>=42"));
  EXPECT_TRUE(Eval("${data.n}>=42 and(${data.flag})or false"));
  EXPECT_TRUE(Eval("\t(\n${data.n}\r\n== 42 )\n"));
  EXPECT_TRUE(Eval("not(false)"));
  EXPECT_TRUE(Eval("'a'in['a']"));
}

// --- references() and text() -------------------------------------------------------------

TEST_F(ConditionTest, ReferencesListsEveryReference) {
  auto c = MustParse(
      "${data.n} > 1 and (exists ${tasks.fetch.outputs.code} or ${request.id} in "
      "[${data.arr[0]}, 'x']) and not ${tasks.later.status} == 'failed'");
  ASSERT_NE(c, nullptr);
  const auto& refs = c->references();
  ASSERT_EQ(refs.size(), 5u);
  EXPECT_EQ(refs[0].ref.root, "data");
  EXPECT_EQ(refs[0].ref.path, std::vector<std::string>({"n"}));
  EXPECT_EQ(refs[1].ref.root, "tasks");
  EXPECT_EQ(refs[1].ref.path, std::vector<std::string>({"fetch", "outputs", "code"}));
  EXPECT_EQ(refs[2].ref.root, "request");
  EXPECT_EQ(refs[2].ref.text, "request.id");
  EXPECT_EQ(refs[3].ref.path, std::vector<std::string>({"arr", "0"}));
  EXPECT_EQ(refs[3].ref.text, "data.arr[0]");
  EXPECT_EQ(refs[4].ref.path, std::vector<std::string>({"later", "status"}));
  for (const auto& r : refs) EXPECT_EQ(r.json_path, kPath);
  EXPECT_EQ(c->text(),
            "${data.n} > 1 and (exists ${tasks.fetch.outputs.code} or ${request.id} in "
            "[${data.arr[0]}, 'x']) and not ${tasks.later.status} == 'failed'");
  EXPECT_TRUE(MustParse("true")->references().empty());
}

TEST_F(ConditionTest, ConcurrentEvaluation) {
  auto c = MustParse("${data.n} == 42 and 'y' in ${data.arr}");
  ASSERT_NE(c, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        auto r = c->Evaluate(scope_);
        if (r.ok() && *r) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 2000);
}

// --- Parse errors -------------------------------------------------------------------------

TEST_F(ConditionTest, EmptyCondition) {
  for (const char* text : {"", "   ", "\t\n"}) {
    Status s = ParseError(text);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.path(), kPath);
    EXPECT_NE(s.message().find("empty condition"), std::string::npos) << s.message();
  }
}

TEST_F(ConditionTest, UnexpectedToken) {
  Status s = ParseError("${data.n} == == 1");
  EXPECT_EQ(s.path(), kPath);
  EXPECT_NE(s.message().find("unexpected '==' at offset 13"), std::string::npos) << s.message();

  s = ParseError("${data.n} ==");
  EXPECT_NE(s.message().find("unexpected end of condition at offset 12"), std::string::npos)
      << s.message();

  s = ParseError("and true");
  EXPECT_NE(s.message().find("unexpected 'and' at offset 0"), std::string::npos) << s.message();

  s = ParseError("true or or false");
  EXPECT_NE(s.message().find("unexpected 'or' at offset 8"), std::string::npos) << s.message();

  s = ParseError("${data.n} = 1");
  EXPECT_NE(s.message().find("unexpected '=' at offset 10"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'=='"), std::string::npos) << s.message();

  s = ParseError("!${data.flag}");
  EXPECT_NE(s.message().find("unexpected '!' at offset 0"), std::string::npos) << s.message();

  s = ParseError("${data.n} > 1 && true");
  EXPECT_NE(s.message().find("unexpected character '&' at offset 14"), std::string::npos)
      << s.message();

  s = ParseError("${data.n} not 1");
  EXPECT_NE(s.message().find("unexpected number 1 at offset 14"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'in' after 'not'"), std::string::npos) << s.message();

  s = ParseError("exists 'x'");
  EXPECT_NE(s.message().find("unexpected string 'x' at offset 7"), std::string::npos)
      << s.message();

  s = ParseError("[1 2] == []");
  EXPECT_NE(s.message().find("unexpected number 2 at offset 3"), std::string::npos) << s.message();

  s = ParseError("[1,] == []");
  EXPECT_NE(s.message().find("unexpected ']' at offset 3"), std::string::npos) << s.message();

  s = ParseError("()");
  EXPECT_NE(s.message().find("unexpected ')' at offset 1"), std::string::npos) << s.message();

  s = ParseError("(true) == true");  // comparisons take operands, not conditions
  EXPECT_NE(s.message().find("trailing input at offset 7: unexpected '=='"), std::string::npos)
      << s.message();
}

TEST_F(ConditionTest, KeywordsAreLowercase) {
  Status s = ParseError("${data.flag} == True");
  EXPECT_NE(s.message().find("unknown word 'True' at offset 16"), std::string::npos) << s.message();
  s = ParseError("true AND false");
  EXPECT_NE(s.message().find("unknown word 'AND' at offset 5"), std::string::npos) << s.message();
  s = ParseError("data.n == 1");  // a reference must be written ${...}
  EXPECT_NE(s.message().find("unknown word 'data' at offset 0"), std::string::npos) << s.message();
  s = ParseError("exists${data.x}and");  // "and" is fine, "andx" is one unknown word
  EXPECT_NE(s.message().find("unexpected end of condition"), std::string::npos) << s.message();
  s = ParseError("true andx false");
  EXPECT_NE(s.message().find("unknown word 'andx' at offset 5"), std::string::npos) << s.message();
}

TEST_F(ConditionTest, Unterminated) {
  Status s = ParseError("${data.name} == 'Ann");
  EXPECT_NE(s.message().find("unterminated string starting at offset 16"), std::string::npos)
      << s.message();
  s = ParseError(R"(${data.name} == "Ann\")");
  EXPECT_NE(s.message().find("unterminated string starting at offset 16"), std::string::npos)
      << s.message();
  s = ParseError("'a\\");
  EXPECT_NE(s.message().find("unterminated string starting at offset 0"), std::string::npos)
      << s.message();

  s = ParseError("${data.n} in [1, 2");
  EXPECT_NE(s.message().find("unterminated list opened at offset 13"), std::string::npos)
      << s.message();
  s = ParseError("${data.n} in [");
  EXPECT_NE(s.message().find("unterminated list opened at offset 13"), std::string::npos)
      << s.message();
  s = ParseError("${data.n} in [1,");
  EXPECT_NE(s.message().find("unterminated list opened at offset 13"), std::string::npos)
      << s.message();

  s = ParseError("(true and (false or true)");
  EXPECT_NE(s.message().find("unterminated parenthesis opened at offset 0"), std::string::npos)
      << s.message();
  s = ParseError("not (");
  EXPECT_NE(s.message().find("unterminated parenthesis opened at offset 4"), std::string::npos)
      << s.message();
  s = ParseError("exists(${data.x}");
  EXPECT_NE(s.message().find("unterminated parenthesis opened at offset 6"), std::string::npos)
      << s.message();

  s = ParseError("${data.n == 1");
  EXPECT_NE(s.message().find("unterminated reference '${' at offset 0"), std::string::npos)
      << s.message();
  s = ParseError("true and ${data");
  EXPECT_NE(s.message().find("unterminated reference '${' at offset 9"), std::string::npos)
      << s.message();
}

TEST_F(ConditionTest, TrailingInput) {
  Status s = ParseError("${data.n} == 1 2");
  EXPECT_NE(s.message().find("trailing input at offset 15: unexpected number 2"), std::string::npos)
      << s.message();
  s = ParseError("true)");
  EXPECT_NE(s.message().find("trailing input at offset 4: unexpected ')'"), std::string::npos)
      << s.message();
  s = ParseError("1 == 1 == 1");
  EXPECT_NE(s.message().find("trailing input at offset 7"), std::string::npos) << s.message();
}

TEST_F(ConditionTest, MalformedLiterals) {
  Status s = ParseError("'a\\n' == 'a'");
  EXPECT_NE(s.message().find("unknown escape '\\n' in a string at offset 2"), std::string::npos)
      << s.message();
  s = ParseError("1. == 1");
  EXPECT_NE(s.message().find("malformed number '1.' at offset 0"), std::string::npos)
      << s.message();
  s = ParseError("${data.n} == 12abc");
  EXPECT_NE(s.message().find("malformed number '12abc' at offset 13"), std::string::npos)
      << s.message();
  s = ParseError("1.2.3 == 1");
  EXPECT_NE(s.message().find("malformed number '1.2.3' at offset 0"), std::string::npos)
      << s.message();
  s = ParseError("- 1 == -1");
  EXPECT_NE(s.message().find("unexpected '-' at offset 0"), std::string::npos) << s.message();
  s = ParseError("99999999999999999999999 > 1");
  EXPECT_NE(s.message().find("out of range at offset 0"), std::string::npos) << s.message();
}

TEST_F(ConditionTest, ReferencesAreValidatedLikeExpressions) {
  Status s = ParseError("${dat.x} == 1");
  EXPECT_EQ(s.path(), kPath);
  EXPECT_NE(s.message().find("unknown root 'dat'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("at offset 0"), std::string::npos) << s.message();
  s = ParseError("true and ${data..x}");
  EXPECT_NE(s.message().find("empty path segment"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("at offset 9"), std::string::npos) << s.message();
  s = ParseError("exists ${}");
  EXPECT_NE(s.message().find("empty expression"), std::string::npos) << s.message();
  s = ParseError("${tasks.a.bogus} == 1");
  EXPECT_NE(s.message().find("tasks.<id> has outputs"), std::string::npos) << s.message();
  s = ParseError("${request.secret} == 1");
  EXPECT_NE(s.message().find("request has id"), std::string::npos) << s.message();
  s = ParseError("${data.a b} == 1");
  EXPECT_NE(s.message().find("unexpected character ' '"), std::string::npos) << s.message();
}

TEST_F(ConditionTest, DeepNestingIsRejected) {
  std::string deep(200, '(');
  deep += "true";
  deep += std::string(200, ')');
  Status s = ParseError(deep);
  EXPECT_NE(s.message().find("nested too deeply"), std::string::npos) << s.message();

  std::string nots;
  for (int i = 0; i < 200; ++i) nots += "not ";
  s = ParseError(nots + "true");
  EXPECT_NE(s.message().find("nested too deeply"), std::string::npos) << s.message();

  std::string lists = std::string(200, '[') + std::string(200, ']');
  s = ParseError(lists);
  EXPECT_NE(s.message().find("nested too deeply"), std::string::npos) << s.message();

  std::string ok = std::string(30, '(') + "true" + std::string(30, ')');
  EXPECT_TRUE(Eval(ok));
}

}  // namespace
}  // namespace wf
