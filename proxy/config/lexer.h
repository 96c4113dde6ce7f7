// Tokenizer for nginx's configuration syntax (the rules of ngx_conf_read_token()).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace realip::config {

enum class TokenKind {
  kWord,        // a directive name or argument, quotes removed and escapes applied
  kSemicolon,   // ";"
  kBlockStart,  // "{"
  kBlockEnd,    // "}"
  kEnd,         // end of input
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;     // kWord only
  bool quoted = false;  // the word was written in '...' or "..."
  int line = 0;         // line on which the token ends
};

// Splits configuration text into tokens. Comments (`#` at the start of a word) and
// whitespace are skipped. `}` ends a block only at the start of a token, so `${var}` works.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // Returns the next token. Errors carry only the message (`unexpected "x"`,
  // `unexpected end of file, unterminated quoted string`); line() is the line to report.
  [[nodiscard]] absl::StatusOr<Token> Next();

  // The line the lexer is on (1-based); after an error, the line the error belongs to.
  int line() const { return line_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace realip::config
