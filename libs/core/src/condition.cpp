#include "wf/core/condition.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <utility>

namespace wf {
namespace condition_internal {

enum class OperandKind { kLiteral, kReference, kList };

// A value in a condition: a literal, a `${...}` reference or a list of operands.
struct Operand {
  OperandKind kind = OperandKind::kLiteral;
  size_t offset = 0;
  json value;                  // kLiteral
  std::string source;          // kReference: the `${...}` text as written
  std::vector<Operand> items;  // kList
};

enum class NodeKind { kOr, kAnd, kNot, kExists, kCompare, kIn, kTruthy };
enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };

// A boolean node. `offset` is where its operator (or its operand) starts in the text.
struct Node {
  NodeKind kind = NodeKind::kTruthy;
  size_t offset = 0;
  CompareOp op = CompareOp::kEq;                      // kCompare
  bool negated = false;                               // kIn: `not in`
  std::vector<std::unique_ptr<const Node>> children;  // kOr, kAnd; kNot has one
  Operand lhs;  // kCompare, kIn, kTruthy; kExists holds its reference here
  Operand rhs;  // kCompare, kIn
};

}  // namespace condition_internal

namespace {

using condition_internal::CompareOp;
using condition_internal::Node;
using condition_internal::NodeKind;
using condition_internal::Operand;
using condition_internal::OperandKind;

using NodePtr = std::unique_ptr<const Node>;

// Bounds recursion for parentheses, `not` chains and nested lists.
constexpr int kMaxDepth = 64;

enum class Tok {
  kEnd,
  kReference,
  kString,
  kNumber,
  kTrue,
  kFalse,
  kNull,
  kAnd,
  kOr,
  kNot,
  kIn,
  kExists,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t offset = 0;
  std::string text;  // as written in the condition
  json value;        // kString, kNumber, kTrue, kFalse, kNull
};

std::string Describe(const Token& t) {
  switch (t.kind) {
    case Tok::kEnd:
      return "end of condition";
    case Tok::kReference:
      return "reference " + t.text;
    case Tok::kString:
      return "string " + t.text;
    case Tok::kNumber:
      return "number " + t.text;
    default:
      return "'" + t.text + "'";
  }
}

std::string DescribeChar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (std::isprint(u)) return std::string("'") + c + "'";
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02X", u);
  return buf;
}

const char* OpText(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "==";
    case CompareOp::kNe:
      return "!=";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
  }
  return "?";
}

bool IsWordStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

class Parser {
 public:
  Parser(const std::string& text, const std::string& json_path, std::vector<FoundReference>* refs)
      : text_(text), json_path_(json_path), refs_(refs) {}

  Result<NodePtr> ParseCondition() {
    if (Status s = Advance(); !s.ok()) return s;
    if (cur_.kind == Tok::kEnd) return Error("empty condition");
    auto root = ParseOr();
    if (!root.ok()) return root.status();
    if (cur_.kind != Tok::kEnd) {
      return Error("trailing input at offset " + std::to_string(cur_.offset) + ": unexpected " +
                   Describe(cur_) + " (expected 'and', 'or' or the end of the condition)");
    }
    return std::move(*root);
  }

 private:
  Status Error(const std::string& what) const {
    return Status::Invalid("invalid condition: " + what, json_path_);
  }
  // "<what> at offset N[ <detail>]".
  Status ErrorAt(const std::string& what, size_t offset, const std::string& detail = "") const {
    return Error(what + " at offset " + std::to_string(offset) +
                 (detail.empty() ? "" : " " + detail));
  }
  Status Unexpected(const std::string& expected) const {
    return ErrorAt("unexpected " + Describe(cur_), cur_.offset, "(expected " + expected + ")");
  }

  // Lexes the next token into cur_.
  Status Advance() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    cur_ = Token();
    cur_.offset = pos_;
    if (pos_ >= text_.size()) return Status::Ok();
    const size_t start = pos_;
    const char c = text_[pos_];
    auto punct = [&](Tok kind, size_t len) {
      cur_.kind = kind;
      cur_.text = text_.substr(start, len);
      pos_ += len;
      return Status::Ok();
    };
    auto next_is = [&](char n) { return pos_ + 1 < text_.size() && text_[pos_ + 1] == n; };
    if (c == '$' && next_is('{')) return LexReference();
    if (c == '\'' || c == '"') return LexString();
    if (IsDigit(c) || c == '-') return LexNumber();
    if (IsWordStart(c)) return LexWord();
    switch (c) {
      case '(':
        return punct(Tok::kLParen, 1);
      case ')':
        return punct(Tok::kRParen, 1);
      case '[':
        return punct(Tok::kLBracket, 1);
      case ']':
        return punct(Tok::kRBracket, 1);
      case ',':
        return punct(Tok::kComma, 1);
      case '=':
        if (next_is('=')) return punct(Tok::kEq, 2);
        return ErrorAt("unexpected '='", start, "(use '==')");
      case '!':
        if (next_is('=')) return punct(Tok::kNe, 2);
        return ErrorAt("unexpected '!'", start, "(use 'not' or '!=')");
      case '<':
        return next_is('=') ? punct(Tok::kLe, 2) : punct(Tok::kLt, 1);
      case '>':
        return next_is('=') ? punct(Tok::kGe, 2) : punct(Tok::kGt, 1);
      default:
        return ErrorAt("unexpected character " + DescribeChar(c), start);
    }
  }

  Status LexReference() {
    const size_t start = pos_;
    const size_t close = text_.find('}', start + 2);
    if (close == std::string::npos) {
      return ErrorAt("unterminated reference '${'", start, "(missing '}')");
    }
    std::string source = text_.substr(start, close - start + 1);
    std::vector<FoundReference> found;
    Status s = ParseReferences(source, json_path_, &found);
    if (!s.ok()) return ErrorAt(s.message(), start);
    if (found.size() != 1) return ErrorAt("malformed reference " + source, start);
    refs_->push_back(std::move(found.front()));
    cur_.kind = Tok::kReference;
    cur_.text = std::move(source);
    pos_ = close + 1;
    return Status::Ok();
  }

  Status LexString() {
    const size_t start = pos_;
    const char quote = text_[pos_++];
    std::string value;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == quote) {
        ++pos_;
        cur_.kind = Tok::kString;
        cur_.text = text_.substr(start, pos_ - start);
        cur_.value = std::move(value);
        return Status::Ok();
      }
      if (c == '\\') {
        if (pos_ + 1 >= text_.size()) break;
        char e = text_[pos_ + 1];
        if (e != '\\' && e != '\'' && e != '"') {
          return ErrorAt("unknown escape '\\" + std::string(1, e) + "' in a string", pos_,
                         "(only \\\\, \\' and \\\" are escapes)");
        }
        value.push_back(e);
        pos_ += 2;
        continue;
      }
      value.push_back(c);
      ++pos_;
    }
    return ErrorAt("unterminated string starting", start,
                   "(missing " + std::string(1, quote) + ")");
  }

  Status LexNumber() {
    const size_t start = pos_;
    size_t i = pos_;
    if (text_[i] == '-') ++i;
    if (i >= text_.size() || !IsDigit(text_[i])) return ErrorAt("unexpected '-'", start);
    while (i < text_.size() && IsDigit(text_[i])) ++i;
    bool decimal = false;
    if (i < text_.size() && text_[i] == '.') {
      decimal = true;
      ++i;
      if (i >= text_.size() || !IsDigit(text_[i])) {
        return ErrorAt("malformed number '" + text_.substr(start, i - start) + "'", start);
      }
      while (i < text_.size() && IsDigit(text_[i])) ++i;
    }
    if (i < text_.size() && (IsWordChar(text_[i]) || text_[i] == '.')) {
      size_t end = i;
      while (end < text_.size() && (IsWordChar(text_[end]) || text_[end] == '.')) ++end;
      return ErrorAt("malformed number '" + text_.substr(start, end - start) + "'", start);
    }
    std::string literal = text_.substr(start, i - start);
    const char* first = literal.data();
    const char* last = literal.data() + literal.size();
    if (decimal) {
      double d = 0;
      auto [ptr, ec] = std::from_chars(first, last, d);
      if (ec != std::errc() || ptr != last) {
        return ErrorAt("number '" + literal + "' is out of range", start);
      }
      cur_.value = d;
    } else {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(first, last, n);
      if (ec == std::errc() && ptr == last) {
        cur_.value = n;
      } else {
        uint64_t u = 0;
        auto [uptr, uec] = std::from_chars(first, last, u);
        if (uec != std::errc() || uptr != last) {
          return ErrorAt("number '" + literal + "' is out of range", start);
        }
        cur_.value = u;
      }
    }
    cur_.kind = Tok::kNumber;
    cur_.text = std::move(literal);
    pos_ = i;
    return Status::Ok();
  }

  Status LexWord() {
    const size_t start = pos_;
    size_t end = pos_;
    while (end < text_.size() && IsWordChar(text_[end])) ++end;
    std::string word = text_.substr(start, end - start);
    static const std::pair<const char*, Tok> kKeywords[] = {
        {"true", Tok::kTrue}, {"false", Tok::kFalse},   {"null", Tok::kNull},
        {"and", Tok::kAnd},   {"or", Tok::kOr},         {"not", Tok::kNot},
        {"in", Tok::kIn},     {"exists", Tok::kExists},
    };
    for (const auto& [name, kind] : kKeywords) {
      if (word == name) {
        cur_.kind = kind;
        cur_.text = std::move(word);
        if (kind == Tok::kTrue) cur_.value = true;
        if (kind == Tok::kFalse) cur_.value = false;
        if (kind == Tok::kNull) cur_.value = nullptr;
        pos_ = end;
        return Status::Ok();
      }
    }
    return ErrorAt("unknown word '" + word + "'", start,
                   "(keywords are lowercase: and, or, not, in, exists, true, false, null; "
                   "references are written ${...}; strings are quoted)");
  }

  Status Enter(size_t offset) {
    if (++depth_ > kMaxDepth) return ErrorAt("condition nested too deeply", offset);
    return Status::Ok();
  }

  // or_expr := and_expr ("or" and_expr)*
  Result<NodePtr> ParseOr() {
    const size_t offset = cur_.offset;
    auto first = ParseAnd();
    if (!first.ok()) return first.status();
    if (cur_.kind != Tok::kOr) return std::move(*first);
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::kOr;
    node->offset = offset;
    node->children.push_back(std::move(*first));
    while (cur_.kind == Tok::kOr) {
      if (Status s = Advance(); !s.ok()) return s;
      auto next = ParseAnd();
      if (!next.ok()) return next.status();
      node->children.push_back(std::move(*next));
    }
    return NodePtr(std::move(node));
  }

  // and_expr := not_expr ("and" not_expr)*
  Result<NodePtr> ParseAnd() {
    const size_t offset = cur_.offset;
    auto first = ParseNot();
    if (!first.ok()) return first.status();
    if (cur_.kind != Tok::kAnd) return std::move(*first);
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::kAnd;
    node->offset = offset;
    node->children.push_back(std::move(*first));
    while (cur_.kind == Tok::kAnd) {
      if (Status s = Advance(); !s.ok()) return s;
      auto next = ParseNot();
      if (!next.ok()) return next.status();
      node->children.push_back(std::move(*next));
    }
    return NodePtr(std::move(node));
  }

  // not_expr := "not" not_expr | primary
  Result<NodePtr> ParseNot() {
    if (cur_.kind != Tok::kNot) return ParsePrimary();
    const size_t offset = cur_.offset;
    if (Status s = Enter(offset); !s.ok()) return s;
    if (Status s = Advance(); !s.ok()) return s;
    auto inner = ParseNot();
    if (!inner.ok()) return inner.status();
    --depth_;
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::kNot;
    node->offset = offset;
    node->children.push_back(std::move(*inner));
    return NodePtr(std::move(node));
  }

  Result<NodePtr> ParsePrimary() {
    if (cur_.kind == Tok::kLParen) {
      const size_t open = cur_.offset;
      if (Status s = Enter(open); !s.ok()) return s;
      if (Status s = Advance(); !s.ok()) return s;
      if (cur_.kind == Tok::kEnd) {
        return ErrorAt("unterminated parenthesis opened", open, "(missing ')')");
      }
      auto inner = ParseOr();
      if (!inner.ok()) return inner.status();
      if (cur_.kind == Tok::kEnd) {
        return ErrorAt("unterminated parenthesis opened", open, "(missing ')')");
      }
      if (cur_.kind != Tok::kRParen) return Unexpected("'and', 'or' or ')'");
      if (Status s = Advance(); !s.ok()) return s;
      --depth_;
      return std::move(*inner);
    }
    if (cur_.kind == Tok::kExists) return ParseExists();

    auto lhs = ParseOperand("a condition");
    if (!lhs.ok()) return lhs.status();
    auto node = std::make_unique<Node>();
    node->offset = lhs->offset;
    node->lhs = std::move(*lhs);
    CompareOp op;
    switch (cur_.kind) {
      case Tok::kEq:
        op = CompareOp::kEq;
        break;
      case Tok::kNe:
        op = CompareOp::kNe;
        break;
      case Tok::kLt:
        op = CompareOp::kLt;
        break;
      case Tok::kLe:
        op = CompareOp::kLe;
        break;
      case Tok::kGt:
        op = CompareOp::kGt;
        break;
      case Tok::kGe:
        op = CompareOp::kGe;
        break;
      case Tok::kIn:
      case Tok::kNot: {
        node->kind = NodeKind::kIn;
        node->offset = cur_.offset;
        if (cur_.kind == Tok::kNot) {
          node->negated = true;
          if (Status s = Advance(); !s.ok()) return s;
          if (cur_.kind != Tok::kIn) return Unexpected("'in' after 'not'");
        }
        if (Status s = Advance(); !s.ok()) return s;
        auto rhs = ParseOperand(node->negated ? "a value after 'not in'" : "a value after 'in'");
        if (!rhs.ok()) return rhs.status();
        node->rhs = std::move(*rhs);
        return NodePtr(std::move(node));
      }
      default:
        node->kind = NodeKind::kTruthy;
        return NodePtr(std::move(node));
    }
    node->kind = NodeKind::kCompare;
    node->op = op;
    node->offset = cur_.offset;
    if (Status s = Advance(); !s.ok()) return s;
    auto rhs = ParseOperand(std::string("a value after '") + OpText(op) + "'");
    if (!rhs.ok()) return rhs.status();
    node->rhs = std::move(*rhs);
    return NodePtr(std::move(node));
  }

  // "exists" reference | "exists" "(" reference ")"
  Result<NodePtr> ParseExists() {
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::kExists;
    node->offset = cur_.offset;
    if (Status s = Advance(); !s.ok()) return s;
    bool paren = false;
    size_t open = 0;
    if (cur_.kind == Tok::kLParen) {
      paren = true;
      open = cur_.offset;
      if (Status s = Advance(); !s.ok()) return s;
    }
    if (cur_.kind != Tok::kReference) return Unexpected("a ${...} reference after 'exists'");
    node->lhs.kind = OperandKind::kReference;
    node->lhs.offset = cur_.offset;
    node->lhs.source = cur_.text;
    if (Status s = Advance(); !s.ok()) return s;
    if (paren) {
      if (cur_.kind == Tok::kEnd) {
        return ErrorAt("unterminated parenthesis opened", open, "(missing ')')");
      }
      if (cur_.kind != Tok::kRParen) return Unexpected("')'");
      if (Status s = Advance(); !s.ok()) return s;
    }
    return NodePtr(std::move(node));
  }

  // operand := reference | string | number | true | false | null | list
  Result<Operand> ParseOperand(const std::string& expected) {
    Operand op;
    op.offset = cur_.offset;
    switch (cur_.kind) {
      case Tok::kReference:
        op.kind = OperandKind::kReference;
        op.source = cur_.text;
        break;
      case Tok::kString:
      case Tok::kNumber:
      case Tok::kTrue:
      case Tok::kFalse:
      case Tok::kNull:
        op.kind = OperandKind::kLiteral;
        op.value = cur_.value;
        break;
      case Tok::kLBracket:
        return ParseList();
      default:
        return Unexpected(expected);
    }
    if (Status s = Advance(); !s.ok()) return s;
    return op;
  }

  // list := "[" [operand ("," operand)*] "]"
  Result<Operand> ParseList() {
    Operand list;
    list.kind = OperandKind::kList;
    const size_t open = cur_.offset;
    list.offset = open;
    if (Status s = Enter(open); !s.ok()) return s;
    if (Status s = Advance(); !s.ok()) return s;
    auto unterminated = [&] { return ErrorAt("unterminated list opened", open, "(missing ']')"); };
    if (cur_.kind == Tok::kRBracket) {
      if (Status s = Advance(); !s.ok()) return s;
      --depth_;
      return list;
    }
    while (true) {
      if (cur_.kind == Tok::kEnd) return unterminated();
      auto item = ParseOperand("a list element");
      if (!item.ok()) return item.status();
      list.items.push_back(std::move(*item));
      if (cur_.kind == Tok::kEnd) return unterminated();
      if (cur_.kind == Tok::kRBracket) break;
      if (cur_.kind != Tok::kComma) return Unexpected("',' or ']'");
      if (Status s = Advance(); !s.ok()) return s;
    }
    if (Status s = Advance(); !s.ok()) return s;
    --depth_;
    return list;
  }

  const std::string& text_;
  const std::string& json_path_;
  std::vector<FoundReference>* refs_;
  size_t pos_ = 0;
  int depth_ = 0;
  Token cur_;
};

// --- Evaluation ------------------------------------------------------------------------

class Evaluator {
 public:
  Evaluator(const ExpressionScope& scope, const std::string& json_path)
      : scope_(scope), json_path_(json_path) {}

  Result<bool> Eval(const Node& node) const {
    switch (node.kind) {
      case NodeKind::kOr:
        for (const auto& child : node.children) {
          auto r = Eval(*child);
          if (!r.ok() || *r) return r;
        }
        return false;
      case NodeKind::kAnd:
        for (const auto& child : node.children) {
          auto r = Eval(*child);
          if (!r.ok() || !*r) return r;
        }
        return true;
      case NodeKind::kNot: {
        auto r = Eval(*node.children.front());
        if (!r.ok()) return r;
        return !*r;
      }
      case NodeKind::kExists:
        return ResolveExpressions(json(node.lhs.source), scope_, json_path_).ok();
      case NodeKind::kTruthy: {
        auto v = Value(node.lhs);
        if (!v.ok()) return v.status();
        return Truthy(*v);
      }
      case NodeKind::kCompare:
        return Compare(node);
      case NodeKind::kIn:
        return In(node);
    }
    return Status::Internal("condition: unknown node");
  }

 private:
  Status Error(const std::string& what, size_t offset) const {
    return Status::Invalid("condition: " + what + " at offset " + std::to_string(offset),
                           json_path_);
  }

  Result<json> Value(const Operand& op) const {
    switch (op.kind) {
      case OperandKind::kLiteral:
        return op.value;
      case OperandKind::kReference: {
        auto r = ResolveExpressions(json(op.source), scope_, json_path_);
        if (!r.ok()) return Error(r.status().message(), op.offset);
        return r;
      }
      case OperandKind::kList: {
        json out = json::array();
        for (const auto& item : op.items) {
          auto v = Value(item);
          if (!v.ok()) return v.status();
          out.push_back(std::move(*v));
        }
        return out;
      }
    }
    return Status::Internal("condition: unknown operand");
  }

  static bool Truthy(const json& v) {
    switch (v.type()) {
      case json::value_t::null:
        return false;
      case json::value_t::boolean:
        return v.get<bool>();
      case json::value_t::number_integer:
        return v.get<int64_t>() != 0;
      case json::value_t::number_unsigned:
        return v.get<uint64_t>() != 0;
      case json::value_t::number_float:
        return v.get<double>() != 0.0;
      case json::value_t::string:
        return !v.get_ref<const std::string&>().empty();
      case json::value_t::array:
      case json::value_t::object:
        return !v.empty();
      default:
        return true;
    }
  }

  // -1, 0 or 1; both values are numbers. Integers compare exactly.
  static int CompareNumbers(const json& a, const json& b) {
    if (a.is_number_integer() && b.is_number_integer()) {
      const bool au = a.is_number_unsigned();
      const bool bu = b.is_number_unsigned();
      if (au && bu) {
        auto x = a.get<uint64_t>(), y = b.get<uint64_t>();
        return x < y ? -1 : (x > y ? 1 : 0);
      }
      if (!au && !bu) {
        auto x = a.get<int64_t>(), y = b.get<int64_t>();
        return x < y ? -1 : (x > y ? 1 : 0);
      }
      if (au) return -CompareNumbers(b, a);
      // a signed, b unsigned.
      auto x = a.get<int64_t>();
      if (x < 0) return -1;
      auto ux = static_cast<uint64_t>(x), y = b.get<uint64_t>();
      return ux < y ? -1 : (ux > y ? 1 : 0);
    }
    auto x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }

  Result<bool> Compare(const Node& node) const {
    auto a = Value(node.lhs);
    if (!a.ok()) return a.status();
    auto b = Value(node.rhs);
    if (!b.ok()) return b.status();
    if (node.op == CompareOp::kEq) return *a == *b;
    if (node.op == CompareOp::kNe) return *a != *b;
    int cmp;
    if (a->is_number() && b->is_number()) {
      cmp = CompareNumbers(*a, *b);
    } else if (a->is_string() && b->is_string()) {
      int c = a->get_ref<const std::string&>().compare(b->get_ref<const std::string&>());
      cmp = c < 0 ? -1 : (c > 0 ? 1 : 0);
    } else {
      return Error(std::string("'") + OpText(node.op) + "' cannot compare " + JsonTypeName(*a) +
                       " with " + JsonTypeName(*b) +
                       " (numbers with numbers, strings with strings)",
                   node.offset);
    }
    switch (node.op) {
      case CompareOp::kLt:
        return cmp < 0;
      case CompareOp::kLe:
        return cmp <= 0;
      case CompareOp::kGt:
        return cmp > 0;
      case CompareOp::kGe:
        return cmp >= 0;
      default:
        return Status::Internal("condition: unknown comparison");
    }
  }

  Result<bool> In(const Node& node) const {
    auto a = Value(node.lhs);
    if (!a.ok()) return a.status();
    auto b = Value(node.rhs);
    if (!b.ok()) return b.status();
    const char* op = node.negated ? "'not in'" : "'in'";
    bool found = false;
    if (b->is_array()) {
      for (const auto& element : *b) {
        if (element == *a) {
          found = true;
          break;
        }
      }
    } else if (b->is_string() || b->is_object()) {
      if (!a->is_string()) {
        return Error(std::string(op) + " with " + (b->is_string() ? "a string" : "an object") +
                         " on the right needs a string on the left, got " + JsonTypeName(*a),
                     node.offset);
      }
      const auto& needle = a->get_ref<const std::string&>();
      found = b->is_string() ? b->get_ref<const std::string&>().find(needle) != std::string::npos
                             : b->contains(needle);
    } else {
      return Error(
          std::string(op) + " needs a list, string or object on the right, got " + JsonTypeName(*b),
          node.offset);
    }
    return node.negated ? !found : found;
  }

  const ExpressionScope& scope_;
  const std::string& json_path_;
};

}  // namespace

Condition::~Condition() = default;

Result<std::shared_ptr<const Condition>> Condition::Parse(const std::string& text,
                                                          const std::string& json_path) {
  std::shared_ptr<Condition> condition(new Condition());
  condition->text_ = text;
  condition->json_path_ = json_path;
  Parser parser(condition->text_, condition->json_path_, &condition->references_);
  auto root = parser.ParseCondition();
  if (!root.ok()) return root.status();
  condition->root_ = std::move(*root);
  return std::shared_ptr<const Condition>(std::move(condition));
}

Result<bool> Condition::Evaluate(const ExpressionScope& scope) const {
  if (!root_) return Status::Internal("condition: not parsed");
  return Evaluator(scope, json_path_).Eval(*root_);
}

}  // namespace wf
