// Small helpers the task modules share for checking their params and reading durations
// and times. Pure functions; thread-safe.
//
// Checks run twice: at template load time (allow_expressions: a `${...}` string passes any
// type check, since it resolves only at run time) and at run time on the resolved params.
// Errors are InvalidArgument with the JSON path of the offending value.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "wf/task.h"

namespace wf::params {

// "must be <what>, not <type of v>".
std::string MustBe(const char* what, const json& v);

// True for an integer (signed or unsigned JSON number) in [lo, hi].
bool IsIntIn(const json& v, int64_t lo, int64_t hi);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);

// `params` must be an object whose keys are all in `known`.
Status CheckObjectKeys(const json& params, std::initializer_list<std::string_view> known,
                       const std::string& path);

// "invalid params: <message> (at <path>)", for a run-time check that failed.
std::string InvalidParamsMessage(const Status& s);

// A duration: a number of seconds (>= 0, fractions allowed) or a string of one or more
// <number><unit> parts, units ms, s, m, h, d ("90s", "5m", "1h30m", "250ms"). At most
// `max`. Errors name `path`.
Result<std::chrono::milliseconds> ParseDuration(const json& v, const std::string& path,
                                                std::chrono::milliseconds max);

// An RFC 3339 date-time ("2026-12-01T13:00:00Z", "2026-12-01T14:00:00.5+01:00") as
// milliseconds since the Unix epoch.
Result<int64_t> ParseRfc3339(std::string_view text, const std::string& path);

// Milliseconds since the epoch as RFC 3339 UTC with milliseconds ("...T13:00:00.000Z").
std::string FormatRfc3339(int64_t epoch_ms);

// Now, as milliseconds since the Unix epoch (wall clock: deadlines kept in task state
// outlive the process and may be read by another engine).
int64_t NowEpochMs();

// Up to `limit` bytes of `text` as valid UTF-8 without control characters ("..." when
// cut), safe in an error message that ends up in JSON and logs.
std::string Snippet(std::string_view text, size_t limit);

}  // namespace wf::params
