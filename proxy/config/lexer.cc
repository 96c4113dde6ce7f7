#include "proxy/config/lexer.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proxy/base/strings.h"

namespace realip::config {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string Quote(char c) { return absl::StrCat("unexpected \"", std::string(1, c), "\""); }

}  // namespace

absl::StatusOr<Token> Lexer::Next() {
  // Between tokens: skip blanks and comments.
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (c == '\n') {
      ++line_;
      ++pos_;
    } else if (IsSpace(c)) {
      ++pos_;
    } else if (c == '#') {
      while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
    } else {
      break;
    }
  }
  Token token;
  token.line = line_;
  if (pos_ == text_.size()) return token;

  const char first = text_[pos_];
  if (first == ';' || first == '{' || first == '}') {
    ++pos_;
    token.kind = first == ';'   ? TokenKind::kSemicolon
                 : first == '{' ? TokenKind::kBlockStart
                                : TokenKind::kBlockEnd;
    return token;
  }

  token.kind = TokenKind::kWord;
  if (first == '"' || first == '\'') {
    const int start_line = line_;
    const size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != first) {
      if (text_[pos_] == '\n') ++line_;
      // A backslash hides the next character, including a quote or a newline.
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) {
        ++pos_;
        if (text_[pos_] == '\n') ++line_;
      }
      ++pos_;
    }
    if (pos_ == text_.size()) {
      line_ = start_line;
      return absl::InvalidArgumentError("unexpected end of file, unterminated quoted string");
    }
    token.text = base::UnescapeNginxWord(text_.substr(start, pos_ - start));
    token.quoted = true;
    ++pos_;
    // nginx requires a separator after the closing quote ("need_space").
    if (pos_ < text_.size()) {
      const char next = text_[pos_];
      if (!IsSpace(next) && next != ';' && next != '{') {
        return absl::InvalidArgumentError(Quote(next));
      }
    }
    token.line = line_;
    return token;
  }

  // An unquoted word ends at a blank, ';' or '{'. A '{' right after '$' belongs to "${var}",
  // and '}' never ends a word: both as in ngx_conf_read_token().
  const size_t start = pos_;
  bool after_dollar = false;
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (c == '{' && after_dollar) {
      after_dollar = false;
      ++pos_;
      continue;
    }
    after_dollar = false;
    if (c == '\\') {
      pos_ += pos_ + 1 < text_.size() ? 2 : 1;
      if (text_[pos_ - 1] == '\n') ++line_;
      continue;
    }
    if (c == '$') {
      after_dollar = true;
      ++pos_;
      continue;
    }
    if (IsSpace(c) || c == ';' || c == '{') break;
    ++pos_;
  }
  token.text = base::UnescapeNginxWord(text_.substr(start, pos_ - start));
  token.line = line_;
  return token;
}

}  // namespace realip::config
