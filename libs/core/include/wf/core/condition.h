// Conditions for a task's `when`: a small boolean language over `${...}` references and
// literals. A Condition is immutable once parsed; Evaluate is const and thread-safe.
//
// Grammar (keywords are lowercase and case-sensitive; whitespace is allowed between any two
// tokens and is optional where tokens are otherwise separated):
//
//   condition  := or_expr END
//   or_expr    := and_expr ( "or" and_expr )*
//   and_expr   := not_expr ( "and" not_expr )*
//   not_expr   := "not" not_expr | primary
//   primary    := "(" or_expr ")"
//               | "exists" reference | "exists" "(" reference ")"
//               | operand [ compare_op operand | "in" operand | "not" "in" operand ]
//   compare_op := "==" | "!=" | "<" | "<=" | ">" | ">="
//   operand    := reference | string | number | "true" | "false" | "null" | list
//   list       := "[" [ operand ( "," operand )* ] "]"
//   reference  := "${" path "}"   (validated exactly like other expressions, see expression.h)
//   string     := '...' | "..."   (only \\, \' and \" are escapes; text is taken literally, a
//                                  `${` inside quotes is not a reference)
//   number     := [-] digits [ "." digits ]
//
// Semantics:
//   - `==` / `!=` are JSON equality without coercion between types, except that numbers
//     compare by value (1 == 1.0). Lists and objects compare element by element.
//   - `<` `<=` `>` `>=` compare numbers with numbers and strings with strings (bytewise);
//     any other pair is an evaluation error naming both types.
//   - `a in b`: b a list → a equals an element; b a string → a is a substring (a must be a
//     string); b an object → a is a key (a must be a string); otherwise an evaluation error.
//     `a not in b` is its negation.
//   - `exists R` is true when the reference R resolves (even to null) and false otherwise;
//     it never fails.
//   - `not` binds tighter than `and`, which binds tighter than `or`; `and` and `or`
//     short-circuit, so `false and ${data.missing} == 1` is false.
//   - An operand standing alone uses truthiness: false, null, 0, "", [] and {} are false;
//     everything else is true.
//   - A reference that does not resolve (outside `exists`) is an evaluation error.
//   - Values from references are data: they are never parsed or evaluated again.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "wf/core/expression.h"
#include "wf/core/status.h"

namespace wf {

namespace condition_internal {
struct Node;
}  // namespace condition_internal

class Condition {
 public:
  // Parses `text`. Errors are InvalidArgument with `json_path` and a message that says what
  // is wrong and at which character offset (0-based) of `text`.
  static Result<std::shared_ptr<const Condition>> Parse(const std::string& text,
                                                        const std::string& json_path);

  ~Condition();
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  // Every `${...}` reference in the condition, in order of appearance, each with the
  // `json_path` given to Parse.
  const std::vector<FoundReference>& references() const { return references_; }

  // True or false, or an InvalidArgument error (a reference that does not resolve outside
  // `exists`, incompatible types for `<` `<=` `>` `>=` or `in`).
  Result<bool> Evaluate(const ExpressionScope& scope) const;

  // The condition as given to Parse.
  const std::string& text() const { return text_; }

 private:
  Condition() = default;

  std::string text_;
  std::string json_path_;
  std::vector<FoundReference> references_;
  std::unique_ptr<const condition_internal::Node> root_;
};

}  // namespace wf
