// Tests for NewUuid and IsUuid.
#include <gtest/gtest.h>

#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "wf/core/ids.h"

namespace wf {
namespace {

const std::regex kV4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");

TEST(IdsTest, NewUuidIsCanonicalVersion4) {
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewUuid();
    ASSERT_EQ(id.size(), 36u);
    ASSERT_TRUE(std::regex_match(id, kV4)) << id;
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
    EXPECT_TRUE(IsUuid(id)) << id;
  }
}

TEST(IdsTest, NewUuidIsUnique) {
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(seen.insert(NewUuid()).second) << "duplicate after " << i;
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(IdsTest, NewUuidIsUniqueAcrossThreads) {
  std::mutex mu;
  std::set<std::string> seen;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < 2500; ++i) mine.push_back(NewUuid());
      std::lock_guard<std::mutex> lock(mu);
      seen.insert(mine.begin(), mine.end());
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(IdsTest, NewUuidUsesAllHexDigits) {
  // The random bits cover every hex digit at some position over many ids.
  std::set<char> digits;
  for (int i = 0; i < 200; ++i) {
    for (char c : NewUuid()) digits.insert(c);
  }
  EXPECT_EQ(digits, (std::set<char>{'-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b',
                                    'c', 'd', 'e', 'f'}));
}

TEST(IdsTest, IsUuidAccepts) {
  EXPECT_TRUE(IsUuid("123e4567-e89b-12d3-a456-426614174000"));  // version 1
  EXPECT_TRUE(IsUuid("00000000-0000-0000-0000-000000000000"));
  EXPECT_TRUE(IsUuid("F47AC10B-58CC-4372-A567-0E02B2C3D479"));  // upper case
  EXPECT_TRUE(IsUuid("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
}

TEST(IdsTest, IsUuidRejects) {
  for (const char* s : {
           "",
           "f47ac10b-58cc-4372-a567-0e02b2c3d47",     // 35 chars
           "f47ac10b-58cc-4372-a567-0e02b2c3d4790",   // 37 chars
           "f47ac10b58cc-4372-a567-0e02b2c3d479a",    // hyphen missing
           "f47ac10b-58cc4-372-a567-0e02b2c3d479",    // hyphen misplaced
           "f47ac10b-58cc-4372-a567-0e02b2c3d47g",    // not hex
           "{47ac10b-58cc-4372-a567-0e02b2c3d47}",    // braces
           " f47ac10b-58cc-4372-a567-0e02b2c3d47",    // leading space
           "f47ac10b_58cc_4372_a567_0e02b2c3d479",    // wrong separator
           "f47ac10b-58cc-4372-a567-0e02b2c3d479\n",  // trailing newline
       }) {
    EXPECT_FALSE(IsUuid(s)) << "'" << s << "'";
  }
}

}  // namespace
}  // namespace wf
