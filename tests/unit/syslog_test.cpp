#include "wf/syslog.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace wf {
namespace {

::testing::AssertionResult Contains(const std::string& s, const std::string& sub) {
  if (s.find(sub) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << s << "\" does not contain \"" << sub << "\"";
}

SyslogMessage ParseOk(std::string_view data, const SyslogLimits& limits = {}) {
  auto r = ParseSyslog(data, limits);
  EXPECT_TRUE(r.ok()) << r.status().ToString() << "\ninput: " << data;
  return r.ok() ? *r : SyslogMessage{};
}

// The error message of a parse that must fail.
std::string ParseError(std::string_view data, const SyslogLimits& limits = {}) {
  auto r = ParseSyslog(data, limits);
  EXPECT_FALSE(r.ok()) << "input: " << data;
  if (r.ok()) return {};
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

// ---------------------------------------------------------------------------------------------
// RFC 5424

TEST(Syslog5424Test, ParsesMessageWithBomAndNoStructuredData) {
  // RFC 5424 section 6.5, example 1.
  const SyslogMessage m = ParseOk(
      "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
      "\xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8");
  EXPECT_EQ(m.facility, 4);
  EXPECT_EQ(m.severity, 2);
  EXPECT_EQ(m.version, 1);
  EXPECT_EQ(m.timestamp, "2003-10-11T22:14:15.003Z");
  EXPECT_EQ(m.hostname, "mymachine.example.com");
  EXPECT_EQ(m.app_name, "su");
  EXPECT_EQ(m.proc_id, "");
  EXPECT_EQ(m.msg_id, "ID47");
  EXPECT_TRUE(m.structured_data.empty());
  EXPECT_EQ(m.message, "'su root' failed for lonvick on /dev/pts/8");
}

TEST(Syslog5424Test, ParsesMessageWithoutMsg) {
  const SyslogMessage m =
      ParseOk("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - -");
  EXPECT_EQ(m.facility, 20);
  EXPECT_EQ(m.severity, 5);
  EXPECT_EQ(m.timestamp, "2003-08-24T05:14:15.000003-07:00");
  EXPECT_EQ(m.hostname, "192.0.2.1");
  EXPECT_EQ(m.app_name, "myproc");
  EXPECT_EQ(m.proc_id, "8710");
  EXPECT_EQ(m.msg_id, "");
  EXPECT_TRUE(m.structured_data.empty());
  EXPECT_EQ(m.message, "");

  // SP and an empty MSG.
  EXPECT_EQ(ParseOk("<165>1 - - - - - - ").message, "");
}

TEST(Syslog5424Test, ParsesAllNilValues) {
  const SyslogMessage m = ParseOk("<0>1 - - - - - -");
  EXPECT_EQ(m.facility, 0);
  EXPECT_EQ(m.severity, 0);
  EXPECT_EQ(m.version, 1);
  EXPECT_EQ(m.timestamp, "");
  EXPECT_EQ(m.hostname, "");
  EXPECT_EQ(m.app_name, "");
  EXPECT_EQ(m.proc_id, "");
  EXPECT_EQ(m.msg_id, "");
  EXPECT_TRUE(m.structured_data.empty());
  EXPECT_EQ(m.message, "");
  EXPECT_EQ(ParseOk("<191>1 - - - - - -").facility, 23);
  EXPECT_EQ(ParseOk("<191>1 - - - - - -").severity, 7);
}

TEST(Syslog5424Test, ParsesMultipleSdElementsWithAndWithoutMsg) {
  // RFC 5424 section 6.5, examples 3 and 4.
  const std::string header =
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 ";
  const std::string sd =
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
      "[examplePriority@32473 class=\"high\"]";
  for (const std::string msg : {"",
                                " \xEF\xBB\xBF"
                                "An application event log entry..."}) {
    const SyslogMessage m = ParseOk(header + sd + msg);
    ASSERT_EQ(m.structured_data.size(), 2u);
    EXPECT_EQ(m.structured_data[0].first, "exampleSDID@32473");
    const SyslogMessage::SdParams want = {
        {"iut", "3"}, {"eventSource", "Application"}, {"eventID", "1011"}};
    EXPECT_EQ(m.structured_data[0].second, want);
    EXPECT_EQ(m.structured_data[1].first, "examplePriority@32473");
    EXPECT_EQ(m.Param("examplePriority@32473", "class"), "high");
    EXPECT_EQ(m.Param("exampleSDID@32473", "eventID"), "1011");
    EXPECT_EQ(m.message, msg.empty() ? "" : "An application event log entry...");
  }
}

TEST(Syslog5424Test, ParsesSdElementWithoutParams) {
  const SyslogMessage m = ParseOk("<14>1 - h a - - [timeQuality][x@1 a=\"\"] text");
  ASSERT_EQ(m.structured_data.size(), 2u);
  EXPECT_EQ(m.structured_data[0].first, "timeQuality");
  EXPECT_TRUE(m.structured_data[0].second.empty());
  EXPECT_EQ(m.Param("x@1", "a"), "");
  EXPECT_EQ(m.message, "text");
}

TEST(Syslog5424Test, UnescapesParamValues) {
  const SyslogMessage m =
      ParseOk(R"(<14>1 - - - - - [a@1 q="say \"hi\"" b="back\\slash" c="x\]y" d="not\nescape" )"
              R"(e="raw]bracket" f="end\\"] msg)");
  EXPECT_EQ(m.Param("a@1", "q"), "say \"hi\"");
  EXPECT_EQ(m.Param("a@1", "b"), "back\\slash");
  EXPECT_EQ(m.Param("a@1", "c"), "x]y");
  EXPECT_EQ(m.Param("a@1", "d"), "not\\nescape");  // other escapes stay literal
  EXPECT_EQ(m.Param("a@1", "e"), "raw]bracket");   // unescaped ']' accepted
  EXPECT_EQ(m.Param("a@1", "f"), "end\\");
  EXPECT_EQ(m.message, "msg");
}

TEST(Syslog5424Test, ParamLookup) {
  const SyslogMessage m = ParseOk(R"(<14>1 - - - - - [a@1 k="1" k="2"][b@1 k="3"])");
  EXPECT_EQ(m.Param("a@1", "k"), "1");  // the first of repeated params
  EXPECT_EQ(m.Param("b@1", "k"), "3");
  EXPECT_EQ(m.Param("a@1", "missing"), "");
  EXPECT_EQ(m.Param("c@1", "k"), "");
}

TEST(Syslog5424Test, KeepsMsgWithoutBomAsIs) {
  EXPECT_EQ(ParseOk("<14>1 - - - - - - plain  text with  spaces ").message,
            "plain  text with  spaces ");
  EXPECT_EQ(ParseOk("<14>1 - - - - - - caf\xC3\xA9 \xE2\x82\xAC").message,
            "caf\xC3\xA9 \xE2\x82\xAC");
}

TEST(Syslog5424Test, AcceptsValidTimestamps) {
  for (const char* ts :
       {"1985-04-12T23:20:50.52Z", "1985-04-12T19:20:50.52-04:00", "2003-10-11T22:14:15.003Z",
        "2003-08-24T05:14:15.000003-07:00", "2024-02-29T00:00:00Z", "2000-02-29T23:59:59+14:00"}) {
    EXPECT_EQ(ParseOk(std::string("<14>1 ") + ts + " - - - - -").timestamp, ts);
  }
}

TEST(Syslog5424Test, RejectsInvalidTimestamps) {
  for (const char* ts :
       {"2003-13-11T22:14:15Z", "2003-00-11T22:14:15Z", "2023-02-29T22:14:15Z",
        "2003-04-31T22:14:15Z", "2003-10-11T24:14:15Z", "2003-10-11T22:60:15Z",
        "1990-12-31T23:59:60Z",               // leap second
        "2003-08-24T05:14:15.0000003-07:00",  // 7 fraction digits
        "2003-10-11t22:14:15Z", "2003-10-11T22:14:15z", "2003-10-11T22:14:15",
        "2003-10-11 22:14:15Z", "2003-10-11T22:14:15.Z", "2003-10-11T22:14:15+0700",
        "03-10-11T22:14:15Z", "2003-10-11T22:14:15Zjunk", "Oct 11 22:14:15"}) {
    EXPECT_TRUE(Contains(ParseError(std::string("<14>1 ") + ts + " - - - - -"), "TIMESTAMP")) << ts;
  }
  EXPECT_EQ(ParseError("<14>1 2003-13-11T22:14:15Z - - - - -"),
            "syslog: invalid TIMESTAMP \"2003-13-11T22:14:15Z\" (expected "
            "YYYY-MM-DDThh:mm:ss[.ffffff] and Z or +hh:mm) at byte 11");
}

TEST(Syslog5424Test, RejectsBadSyntaxWithOffsets) {
  EXPECT_EQ(ParseError("<14>1 -  - - - -"), "syslog: HOSTNAME is empty at byte 8");
  EXPECT_EQ(ParseError("<14>1 - - - - - x"),
            "syslog: expected '-' or '[' to start STRUCTURED-DATA, found 'x' at byte 16");
  EXPECT_EQ(ParseError("<14>1 - - - - - -x"),
            "syslog: expected SP before MSG, found 'x' at byte 17");
  EXPECT_EQ(ParseError("<14>1 - - - - - [a@1]x"),
            "syslog: expected SP before MSG, found 'x' at byte 21");
  EXPECT_EQ(ParseError("<14>1 - - - - - [a@1 k=v]"),
            "syslog: expected '\"' to open PARAM-VALUE, found 'v' at byte 23");
  EXPECT_EQ(ParseError("<14>1 - - - - - [a@1 k]"),
            "syslog: expected '=' after PARAM-NAME, found ']' at byte 22");
  EXPECT_EQ(ParseError("<14>1 - - - - - [a@1  k=\"\"]"),
            "syslog: PARAM-NAME: expected a name, found SP at byte 21");
  EXPECT_TRUE(Contains(ParseError("<14>1 - - - - - []"), "SD-ID: expected a name, found ']'"));
  EXPECT_TRUE(Contains(ParseError("<14>1 - - - - - [a\"b@1]"), "found '\"' at byte 18"));
  EXPECT_EQ(ParseError("<14>1 - - - - - [a@1][b@1][a@1]"),
            "syslog: duplicate SD-ID \"a@1\" at byte 27");
  EXPECT_EQ(ParseError("<14>1 - - - - - [a@1 k=\"v\"x]"),
            "syslog: expected SP or ']' in SD-ELEMENT, found 'x' at byte 26");
  EXPECT_EQ(ParseError("<14>1 - - - - -"),
            "syslog: expected SP after MSGID (message truncated) at byte 15");
}

TEST(Syslog5424Test, RejectsOversizedFieldsNamingThem) {
  const std::string h255(255, 'h');
  EXPECT_EQ(ParseOk("<14>1 - " + h255 + " - - - -").hostname, h255);
  EXPECT_EQ(ParseError("<14>1 - " + h255 + "h - - - -"),
            "syslog: HOSTNAME longer than 255 bytes at byte 263");
  EXPECT_EQ(ParseOk("<14>1 - - " + std::string(48, 'a') + " - - -").app_name, std::string(48, 'a'));
  EXPECT_EQ(ParseError("<14>1 - - " + std::string(49, 'a') + " - - -"),
            "syslog: APP-NAME longer than 48 bytes at byte 58");
  EXPECT_EQ(ParseOk("<14>1 - - - " + std::string(128, 'p') + " - -").proc_id,
            std::string(128, 'p'));
  EXPECT_TRUE(Contains(ParseError("<14>1 - - - " + std::string(129, 'p') + " - -"),
                       "PROCID longer than 128 bytes"));
  EXPECT_EQ(ParseOk("<14>1 - - - - " + std::string(32, 'm') + " -").msg_id, std::string(32, 'm'));
  EXPECT_TRUE(Contains(ParseError("<14>1 - - - - " + std::string(33, 'm') + " -"),
                       "MSGID longer than 32 bytes"));
  EXPECT_TRUE(Contains(ParseError("<14>1 - - - - - [" + std::string(33, 'i') + "]"),
                       "SD-ID longer than 32 bytes"));
  EXPECT_TRUE(Contains(ParseError("<14>1 - - - - - [a@1 " + std::string(33, 'n') + "=\"\"]"),
                       "PARAM-NAME longer than 32 bytes"));
  EXPECT_TRUE(Contains(ParseError("<14>1 " + std::string(40, '1') + " - - - - -"),
                       "TIMESTAMP longer than 32 bytes"));

  SyslogLimits small;
  small.max_field_bytes = 8;
  EXPECT_EQ(ParseOk("<14>1 - 12345678 - - - -", small).hostname, "12345678");
  EXPECT_EQ(ParseError("<14>1 - 123456789 - - - -", small),
            "syslog: HOSTNAME longer than 8 bytes at byte 16");
  EXPECT_TRUE(
      Contains(ParseError("<14>1 - - - - - [a23456789]", small), "SD-ID longer than 8 bytes"));
}

TEST(Syslog5424Test, RejectsOversizedMessages) {
  SyslogLimits limits;
  limits.max_message_bytes = 100;
  const std::string head = "<14>1 - - - - - - ";
  const std::string fits = head + std::string(100 - head.size(), 'x');
  EXPECT_EQ(ParseOk(fits, limits).message.size(), 100 - head.size());
  EXPECT_EQ(ParseError(fits + "x", limits),
            "syslog: message of 101 bytes over the limit of 100 at byte 100");
  // The default limit is 64 KiB.
  EXPECT_TRUE(ParseSyslog(head + std::string(64 * 1024 - head.size(), 'x')).ok());
  EXPECT_TRUE(Contains(ParseError(head + std::string(64 * 1024, 'x')), "over the limit"));
}

TEST(Syslog5424Test, LimitsSdElementsAndParams) {
  auto elements = [](int n) {
    std::string s = "<14>1 - - - - - ";
    for (int i = 0; i < n; ++i) s += "[e" + std::to_string(i) + "@1]";
    return s;
  };
  EXPECT_EQ(ParseOk(elements(32)).structured_data.size(), 32u);
  EXPECT_TRUE(Contains(ParseError(elements(33)), "more than 32 SD-ELEMENTs"));
  SyslogLimits limits;
  limits.max_sd_elements = 2;
  EXPECT_EQ(ParseError(elements(3), limits), "syslog: more than 2 SD-ELEMENTs at byte 28");

  auto params = [](int n) {
    std::string s = "<14>1 - - - - - [a@1";
    for (int i = 0; i < n; ++i) s += " p=\"" + std::to_string(i) + "\"";
    return s + "]";
  };
  EXPECT_EQ(ParseOk(params(64)).structured_data[0].second.size(), 64u);
  EXPECT_TRUE(Contains(ParseError(params(65)), "more than 64 SD-PARAMs"));
}

// ---------------------------------------------------------------------------------------------
// RFC 3164

TEST(Syslog3164Test, ParsesLoggerStyleLine) {
  const SyslogMessage m = ParseOk("<13>Nov 22 03:21:29 myhost myapp[123]: hello");
  EXPECT_EQ(m.facility, 1);
  EXPECT_EQ(m.severity, 5);
  EXPECT_EQ(m.version, 0);
  EXPECT_EQ(m.timestamp, "Nov 22 03:21:29");
  EXPECT_EQ(m.hostname, "myhost");
  EXPECT_EQ(m.app_name, "myapp");
  EXPECT_EQ(m.proc_id, "123");
  EXPECT_EQ(m.msg_id, "");
  EXPECT_TRUE(m.structured_data.empty());
  EXPECT_EQ(m.message, "hello");
}

TEST(Syslog3164Test, ParsesVariants) {
  SyslogMessage m = ParseOk("<30>Nov  2 03:21:29 host.example.com cron: job done: ok");
  EXPECT_EQ(m.timestamp, "Nov  2 03:21:29");
  EXPECT_EQ(m.hostname, "host.example.com");
  EXPECT_EQ(m.app_name, "cron");
  EXPECT_EQ(m.proc_id, "");
  EXPECT_EQ(m.message, "job done: ok");

  // No hostname: the tag follows the timestamp.
  m = ParseOk("<13>Jan  1 00:00:00 myapp[7]: started");
  EXPECT_EQ(m.hostname, "");
  EXPECT_EQ(m.app_name, "myapp");
  EXPECT_EQ(m.proc_id, "7");
  EXPECT_EQ(m.message, "started");

  // No tag: everything after the hostname is MSG.
  m = ParseOk("<13>Dec 31 23:59:59 myhost just some text");
  EXPECT_EQ(m.hostname, "myhost");
  EXPECT_EQ(m.app_name, "");
  EXPECT_EQ(m.message, "just some text");

  // No timestamp: no hostname either.
  m = ParseOk("<13>myapp: hi there");
  EXPECT_EQ(m.timestamp, "");
  EXPECT_EQ(m.hostname, "");
  EXPECT_EQ(m.app_name, "myapp");
  EXPECT_EQ(m.message, "hi there");
  m = ParseOk("<13>hello world");
  EXPECT_EQ(m.version, 0);
  EXPECT_EQ(m.app_name, "");
  EXPECT_EQ(m.message, "hello world");
  m = ParseOk("<13>http://example.com is down");
  EXPECT_EQ(m.app_name, "");
  EXPECT_EQ(m.message, "http://example.com is down");

  // An RFC 3339 timestamp in the old format.
  m = ParseOk("<13>2023-11-22T03:21:29.5+01:00 myhost myapp: x");
  EXPECT_EQ(m.timestamp, "2023-11-22T03:21:29.5+01:00");
  EXPECT_EQ(m.hostname, "myhost");
  EXPECT_EQ(m.app_name, "myapp");
  EXPECT_EQ(m.message, "x");

  // Tag with pid but no colon; empty message; only PRI.
  m = ParseOk("<13>Nov 22 03:21:29 h app[1] text");
  EXPECT_EQ(m.app_name, "app");
  EXPECT_EQ(m.proc_id, "1");
  EXPECT_EQ(m.message, "text");
  m = ParseOk("<13>Nov 22 03:21:29 h app:");
  EXPECT_EQ(m.app_name, "app");
  EXPECT_EQ(m.message, "");
  m = ParseOk("<13>Nov 22 03:21:29 myhost");
  EXPECT_EQ(m.hostname, "myhost");
  EXPECT_EQ(m.message, "");
  m = ParseOk("<13>");
  EXPECT_EQ(m.facility, 1);
  EXPECT_EQ(m.message, "");

  // Not a version-1 header: RFC 3164 with the digits in MSG.
  m = ParseOk("<13>2 apples");
  EXPECT_EQ(m.version, 0);
  EXPECT_EQ(m.message, "2 apples");
}

TEST(Syslog3164Test, TakesTokensThatCannotBeHostnamesAsMsg) {
  const std::string long_token(256, 'h');
  SyslogMessage m = ParseOk("<13>Nov 22 03:21:29 " + long_token + " app: x");
  EXPECT_EQ(m.timestamp, "Nov 22 03:21:29");
  EXPECT_EQ(m.hostname, "");
  EXPECT_EQ(m.message, long_token + " app: x");
  m = ParseOk(
      "<13>Nov 22 03:21:29 Gr\xC3\xBC\xC3\x9F"
      "e from the app");
  EXPECT_EQ(m.hostname, "");
  EXPECT_EQ(m.message,
            "Gr\xC3\xBC\xC3\x9F"
            "e from the app");
  m = ParseOk(std::string("<13>Nov 22 03:21:29 ho\0st app: x", 32));
  EXPECT_EQ(m.hostname, "");
  EXPECT_EQ(m.message, std::string("ho\0st app: x", 12));
  SyslogLimits small;
  small.max_field_bytes = 4;
  m = ParseOk("<13>Nov 22 03:21:29 myhost app: x", small);
  EXPECT_EQ(m.hostname, "");
  EXPECT_EQ(m.message, "myhost app: x");
}

// ---------------------------------------------------------------------------------------------
// Hostile input

TEST(SyslogHostileTest, RejectsBadPri) {
  EXPECT_EQ(ParseError(""), "syslog: empty message at byte 0");
  EXPECT_EQ(ParseError("13>1 - - - - - -"),
            "syslog: expected '<' to open PRI, found '1' at byte 0");
  EXPECT_EQ(ParseError("<192>1 - - - - - -"), "syslog: PRI 192 out of range 0..191 at byte 1");
  EXPECT_EQ(ParseError("<999>1 - - - - - -"), "syslog: PRI 999 out of range 0..191 at byte 1");
  EXPECT_EQ(ParseError("<1000>1 - - - - - -"), "syslog: PRI has more than 3 digits at byte 4");
  EXPECT_EQ(ParseError("<99999999999999999999999>x"),
            "syslog: PRI has more than 3 digits at byte 4");
  EXPECT_EQ(ParseError("<-1>1 - - - - - -"), "syslog: PRI: expected a digit, found '-' at byte 1");
  EXPECT_EQ(ParseError("<>1 - - - - - -"), "syslog: PRI: expected a digit, found '>' at byte 1");
  EXPECT_EQ(ParseError("<13 1 - - - - - -"),
            "syslog: expected '>' to close PRI, found SP at byte 3");
  EXPECT_EQ(ParseError("<13"), "syslog: PRI cut short (message truncated) at byte 3");
  EXPECT_EQ(ParseError("<"), "syslog: PRI cut short (message truncated) at byte 1");
  // Leading zeros are within 1*3DIGIT.
  EXPECT_EQ(ParseOk("<013>1 - - - - - -").severity, 5);
}

TEST(SyslogHostileTest, TruncationAtEveryByteIsAnErrorOrAMessage) {
  const std::string full =
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 42 ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"x\\]\"][wf@32473 trace_id=\"t\"] "
      "\xEF\xBB\xBFmessage \xE2\x82\xAC";
  const size_t first_element_end = full.find("][") + 1;  // complete SD with one element
  const size_t sd_end = full.find("] ") + 1;
  for (size_t n = 0; n <= full.size(); ++n) {
    const std::string_view prefix(full.data(), n);
    auto r = ParseSyslog(prefix);
    if (n == first_element_end) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->structured_data.size(), 1u);
    } else if (n >= 7 && n < sd_end) {
      // Inside the RFC 5424 header and SD: always incomplete.
      EXPECT_FALSE(r.ok()) << "prefix length " << n;
    } else if (n >= sd_end) {
      ASSERT_TRUE(r.ok()) << "prefix length " << n << ": " << r.status().ToString();
      EXPECT_EQ(r->Param("wf@32473", "trace_id"), "t");
      EXPECT_EQ(r->Param("exampleSDID@32473", "eventSource"), "App\"x]");
    }
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_TRUE(Contains(r.status().message(), " at byte "));
    }
  }
  // A multi-byte character cut in half becomes U+FFFD.
  EXPECT_EQ(ParseOk(std::string_view(full.data(), full.size() - 1)).message,
            "message \xEF\xBF\xBD");

  const std::string old = "<13>Nov 22 03:21:29 myhost myapp[123]: hello";
  for (size_t n = 0; n <= old.size(); ++n) {
    auto r = ParseSyslog(std::string_view(old.data(), n));
    if (n < 4) {
      EXPECT_FALSE(r.ok()) << n;  // PRI incomplete
    } else {
      EXPECT_TRUE(r.ok()) << n << ": " << r.status().ToString();  // RFC 3164 is lenient
    }
  }
}

TEST(SyslogHostileTest, HandlesNulBytes) {
  using namespace std::string_literals;
  EXPECT_EQ(ParseError("<14>1 - ho\0st - - - -"s),
            "syslog: HOSTNAME: byte 0x00 is not printable US-ASCII at byte 10");
  EXPECT_EQ(ParseError("<14>1 - - - - - [a\0@1]"s),
            "syslog: SD-ID: byte 0x00 is not printable US-ASCII at byte 18");
  EXPECT_EQ(ParseError("<1\0>"s), "syslog: expected '>' to close PRI, found byte 0x00 at byte 2");
  EXPECT_EQ(ParseError("\0"s), "syslog: expected '<' to open PRI, found byte 0x00 at byte 0");
  // NUL is valid UTF-8: kept in values and MSG.
  const SyslogMessage m = ParseOk("<14>1 - - - - - [a@1 k=\"x\0y\"] a\0b"s);
  EXPECT_EQ(m.Param("a@1", "k"), "x\0y"s);
  EXPECT_EQ(m.message, "a\0b"s);
}

TEST(SyslogHostileTest, ReplacesInvalidUtf8) {
  const std::string fffd = "\xEF\xBF\xBD";
  auto msg = [](const std::string& body) { return ParseOk("<14>1 - - - - - - " + body).message; };
  EXPECT_EQ(msg("a\xFF"
                "b"),
            "a" + fffd + "b");
  EXPECT_EQ(msg("\xC0\xAF"), fffd + fffd);                        // overlong
  EXPECT_EQ(msg("\xED\xA0\x80"), fffd + fffd + fffd);             // surrogate
  EXPECT_EQ(msg("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // over U+10FFFF
  EXPECT_EQ(msg("\xE2\x82x"), fffd + "x");                        // cut-short sequence
  EXPECT_EQ(msg("\x80\x80"), fffd + fffd);                        // stray continuation bytes
  EXPECT_EQ(msg("\xF0\x9F\x98\x80 ok"), "\xF0\x9F\x98\x80 ok");   // valid 4-byte
  EXPECT_EQ(msg("\xEF\xBB\xBF\xFF"), fffd);                       // after a BOM too
  EXPECT_EQ(ParseOk("<14>1 - - - - - [a@1 k=\"\xFE\"]").Param("a@1", "k"), fffd);
  EXPECT_EQ(ParseOk("<13>Nov 22 03:21:29 h app: \xC3").message, fffd);
  // Header fields must be printable US-ASCII.
  EXPECT_EQ(ParseError("<14>1 - h\xC3\xA9 - - - -"),
            "syslog: HOSTNAME: byte 0xC3 is not printable US-ASCII at byte 9");
}

// ---------------------------------------------------------------------------------------------
// Formatting

SyslogMessage EngineMessage() {
  SyslogMessage m;
  m.facility = 16;
  m.severity = 3;
  m.version = 1;
  m.timestamp = "2024-05-01T10:00:00.123456+02:00";
  m.hostname = "worker-1.example.com";
  m.app_name = "wf-engine";
  m.proc_id = "4711";
  m.msg_id = "task";
  m.structured_data = {{std::string(kSyslogSdId),
                        {{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"},
                         {"request_id", "req-\"quoted\" \\back] slash"},
                         {"task_id", "fetch[0]"}}},
                       {"origin", {{"software", "wf"}}}};
  m.message = "task failed: HTTP 503 \xE2\x80\x94 retrying [1/3] \"x\" \\";
  return m;
}

TEST(SyslogFormatTest, RoundTripsEngineMessages) {
  const SyslogMessage m = EngineMessage();
  const std::string wire = FormatSyslog5424(m);
  EXPECT_EQ(wire,
            "<131>1 2024-05-01T10:00:00.123456+02:00 worker-1.example.com wf-engine 4711 task "
            "[wf@32473 trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\" "
            "request_id=\"req-\\\"quoted\\\" \\\\back\\] slash\" task_id=\"fetch[0\\]\"]"
            "[origin software=\"wf\"] \xEF\xBB\xBFtask failed: HTTP 503 \xE2\x80\x94 retrying "
            "[1/3] \"x\" \\");
  const SyslogMessage back = ParseOk(wire);
  EXPECT_EQ(back, m);
  EXPECT_EQ(back.Param(kSyslogSdId, "request_id"), "req-\"quoted\" \\back] slash");

  // Only the BOM the formatter adds is stripped by the parser.
  SyslogMessage bom = m;
  bom.message = "\xEF\xBB\xBFstarts with a BOM";
  EXPECT_EQ(ParseOk(FormatSyslog5424(bom)), bom);
}

TEST(SyslogFormatTest, UsesNilValuesAndOmitsEmptyMsg) {
  SyslogMessage m;
  EXPECT_EQ(FormatSyslog5424(m), "<14>1 - - - - - -");
  m.version = 1;
  EXPECT_EQ(ParseOk(FormatSyslog5424(m)), m);
  m.message = "ascii only";
  EXPECT_EQ(FormatSyslog5424(m), "<14>1 - - - - - - ascii only");
  EXPECT_EQ(ParseOk(FormatSyslog5424(m)), m);
}

TEST(SyslogFormatTest, RoundTripsParsedRfc3164Fields) {
  SyslogMessage m = ParseOk("<13>Nov 22 03:21:29 myhost myapp[123]: hello");
  const SyslogMessage back = ParseOk(FormatSyslog5424(m));
  EXPECT_EQ(back.version, 1);
  EXPECT_EQ(back.timestamp, "");  // an RFC 3164 timestamp is not an RFC 5424 TIMESTAMP
  EXPECT_EQ(back.hostname, "myhost");
  EXPECT_EQ(back.app_name, "myapp");
  EXPECT_EQ(back.proc_id, "123");
  EXPECT_EQ(back.message, "hello");
}

TEST(SyslogFormatTest, AlwaysProducesParseableOutput) {
  SyslogMessage m;
  m.facility = 99;
  m.severity = -4;
  m.timestamp = "yesterday";
  m.hostname = std::string("bad host\0name", 13);
  m.app_name = std::string(60, 'a');
  m.proc_id = std::string(200, 'p');
  m.msg_id = "id\xC3\xA9";
  m.structured_data = {
      {"x y=\"]", {{"", "v\xFF"}}}, {"dup@1", {{"a", "1"}}}, {"dup@1", {{"b", "2"}}}};
  m.message = "\xFE";
  const std::string wire = FormatSyslog5424(m);
  const SyslogMessage back = ParseOk(wire);
  EXPECT_EQ(back.facility, 23);
  EXPECT_EQ(back.severity, 0);
  EXPECT_EQ(back.timestamp, "");
  EXPECT_EQ(back.hostname, "bad_host_name");
  EXPECT_EQ(back.app_name, std::string(48, 'a'));
  EXPECT_EQ(back.proc_id, std::string(128, 'p'));
  EXPECT_EQ(back.msg_id, "id__");
  ASSERT_EQ(back.structured_data.size(), 2u);
  EXPECT_EQ(back.structured_data[0].first, "x_y___");
  EXPECT_EQ(back.Param("x_y___", "_"), "v\xEF\xBF\xBD");
  EXPECT_EQ(back.Param("dup@1", "a"), "1");
  EXPECT_EQ(back.Param("dup@1", "b"), "2");
  EXPECT_EQ(back.message, "\xEF\xBF\xBD");
}

// ---------------------------------------------------------------------------------------------
// Framing

struct FeedResult {
  std::vector<std::string> frames;
  Status status;
};

FeedResult FeedChunks(SyslogFramer& framer, const std::vector<std::string_view>& chunks) {
  FeedResult out;
  for (std::string_view chunk : chunks) {
    out.status = framer.Feed(chunk, [&](std::string_view f) { out.frames.emplace_back(f); });
    if (!out.status.ok()) break;
  }
  return out;
}

std::string Counted(const std::string& msg) { return std::to_string(msg.size()) + " " + msg; }

TEST(SyslogFramerTest, OctetCountingSplitAtEveryPosition) {
  const std::vector<std::string> msgs = {"<14>1 - - - - - - first",
                                         "<14>1 - - - - - - second\nwith LF inside",
                                         FormatSyslog5424(EngineMessage()), "x"};
  std::string stream;
  for (const auto& m : msgs) stream += Counted(m);
  for (size_t a = 0; a <= stream.size(); ++a) {
    SyslogFramer framer;
    const std::string_view s = stream;
    const FeedResult r = FeedChunks(framer, {s.substr(0, a), s.substr(a)});
    ASSERT_TRUE(r.status.ok()) << a << ": " << r.status.ToString();
    EXPECT_EQ(r.frames, msgs) << "split at " << a;
    EXPECT_EQ(framer.pending_bytes(), 0u);
  }
  // Three chunks, split at every pair of positions of the first frames.
  for (size_t a = 0; a < 40; ++a) {
    for (size_t b = a; b < 60; ++b) {
      SyslogFramer framer;
      const std::string_view s = stream;
      const FeedResult r = FeedChunks(framer, {s.substr(0, a), s.substr(a, b - a), s.substr(b)});
      ASSERT_TRUE(r.status.ok());
      EXPECT_EQ(r.frames, msgs) << "split at " << a << ", " << b;
    }
  }
  // One byte at a time.
  SyslogFramer framer;
  FeedResult r;
  for (char c : stream) {
    ASSERT_TRUE(
        framer.Feed(std::string_view(&c, 1), [&](std::string_view f) { r.frames.emplace_back(f); })
            .ok());
  }
  EXPECT_EQ(r.frames, msgs);
}

TEST(SyslogFramerTest, LfFraming) {
  SyslogFramer framer;
  const FeedResult r = FeedChunks(framer, {"<13>first\n<13>sec", "ond\r\n\n\r\n<13>th", "ird\n"});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.frames, (std::vector<std::string>{"<13>first", "<13>second", "<13>third"}));
  EXPECT_EQ(framer.pending_bytes(), 0u);
}

TEST(SyslogFramerTest, MixedFramingInOneChunk) {
  SyslogFramer framer;
  const FeedResult r =
      FeedChunks(framer, {"5 hello<13>lf frame\n3 abc\n<14>1 - - - - - - x\n2 ok"});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.frames, (std::vector<std::string>{"hello", "<13>lf frame", "abc",
                                                "<14>1 - - - - - - x", "ok"}));
}

TEST(SyslogFramerTest, TruncatedFrameStaysPending) {
  SyslogFramer framer;
  FeedResult r = FeedChunks(framer, {"11 <13>1"});
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(framer.pending_bytes(), 8u);
  EXPECT_FALSE(framer.failed());
  r = FeedChunks(framer, {" - -"});
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(framer.pending_bytes(), 12u);
  r = FeedChunks(framer, {" -"});
  EXPECT_EQ(r.frames, std::vector<std::string>{"<13>1 - - -"});
  EXPECT_EQ(framer.pending_bytes(), 0u);

  SyslogFramer lines;
  r = FeedChunks(lines, {"<13>no newline yet"});
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(lines.pending_bytes(), 18u);
  SyslogFramer digits;
  r = FeedChunks(digits, {"12"});
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(digits.pending_bytes(), 2u);
}

TEST(SyslogFramerTest, BadLengthsFailTheStream) {
  struct Case {
    std::string input;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"-5 hello", "syslog frame: MSG-LEN with a sign at byte 0"},
      {"+5 hello", "syslog frame: MSG-LEN with a sign at byte 0"},
      {"05 hello", "syslog frame: MSG-LEN starts with '0' at byte 0"},
      {"0 ", "syslog frame: MSG-LEN starts with '0' at byte 0"},
      {"5 hello12x4 abcd", "syslog frame: expected a digit or SP in MSG-LEN, found 'x' at byte 9"},
      {"1\n", "syslog frame: expected a digit or SP in MSG-LEN, found byte 0x0A at byte 1"},
      {"65537 x", "syslog frame: MSG-LEN over the limit of 65536 bytes at byte 4"},
      {"99999999999999999999 x", "syslog frame: MSG-LEN over the limit of 65536 bytes at byte 4"},
  };
  for (const Case& c : cases) {
    SyslogFramer framer;
    const FeedResult r = FeedChunks(framer, {c.input});
    EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << c.input;
    EXPECT_EQ(r.status.message(), c.error);
    EXPECT_TRUE(framer.failed());
    // Failed for good: later bytes are refused and produce no frames.
    const FeedResult again = FeedChunks(framer, {"3 abc<13>x\n"});
    EXPECT_EQ(again.status.message(), c.error);
    EXPECT_TRUE(again.frames.empty());
  }
  // Frames before the error are delivered.
  SyslogFramer framer;
  const FeedResult r = FeedChunks(framer, {"3 abc", "4 defg-1 x"});
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(r.frames, (std::vector<std::string>{"abc", "defg"}));

  // More than 10 digits, with a limit that would allow them.
  SyslogFramer unlimited(SIZE_MAX);
  EXPECT_EQ(FeedChunks(unlimited, {"12345678901 x"}).status.message(),
            "syslog frame: MSG-LEN longer than 10 digits at byte 10");
  EXPECT_TRUE(unlimited.failed());
}

TEST(SyslogFramerTest, FrameSizeLimit) {
  SyslogFramer framer(16);
  FeedResult r = FeedChunks(framer, {"16 " + std::string(16, 'a'), std::string(16, 'b') + "\n"});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.frames, (std::vector<std::string>{std::string(16, 'a'), std::string(16, 'b')}));

  r = FeedChunks(framer, {"17 " + std::string(17, 'a')});
  EXPECT_EQ(r.status.message(), "syslog frame: MSG-LEN over the limit of 16 bytes at byte 37");

  // A line over the limit, arriving in pieces: fails before any LF shows up.
  SyslogFramer lines(16);
  r = FeedChunks(lines, {"<13>0123456", "789abcdef"});
  EXPECT_EQ(r.status.message(), "syslog frame: line longer than 16 bytes at byte 16");
  EXPECT_TRUE(lines.failed());
}

}  // namespace
}  // namespace wf
