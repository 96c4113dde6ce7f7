#include "proxy/config/lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/base/strings.h"

namespace realip::config {
namespace {

// Renders the token stream compactly: words in brackets (quoted ones as Q[...]), then the
// terminators; or "error@LINE: message".
std::string Lex(std::string_view text) {
  Lexer lexer(text);
  std::string out;
  for (;;) {
    absl::StatusOr<Token> t = lexer.Next();
    if (!t.ok()) {
      return out + "error@" + std::to_string(lexer.line()) + ": " +
             std::string(base::AsStd(t.status().message()));
    }
    switch (t->kind) {
      case TokenKind::kWord:
        out += (t->quoted ? "Q[" : "[") + t->text + "]";
        break;
      case TokenKind::kSemicolon:
        out += ";";
        break;
      case TokenKind::kBlockStart:
        out += "{";
        break;
      case TokenKind::kBlockEnd:
        out += "}";
        break;
      case TokenKind::kEnd:
        return out;
    }
  }
}

struct LexCase {
  const char* name;
  const char* input;
  const char* tokens;
};

const LexCase kLexCases[] = {
    {"empty", "", ""},
    {"blank_only", " \t\r\n\n", ""},
    {"simple_directive", "worker_processes 4;", "[worker_processes][4];"},
    {"no_space_before_semicolon", "a b;c;", "[a][b];[c];"},
    {"block", "http { server { } }", "[http]{[server]{}}"},
    {"block_no_spaces", "events{worker_connections 8;}", "[events]{[worker_connections][8];}"},
    {"comment_line", "# all of this\nuse epoll; # trailing\n", "[use][epoll];"},
    {"hash_inside_word_is_literal", "a b#c;", "[a][b#c];"},
    {"double_quotes", "return 200 \"ok here\";", "[return][200]Q[ok here];"},
    {"single_quotes", "log_format x '$a \"b\"';", "[log_format][x]Q[$a \"b\"];"},
    {"quoted_semicolon_and_braces", "a \"x;{}\";", "[a]Q[x;{}];"},
    {"escapes_in_quotes", R"(a "l1\nl2\t\"q\"\\";)", "[a]Q[l1\nl2\t\"q\"\\];"},
    {"unknown_escape_kept", R"(a "\d\.";)", R"([a]Q[\d\.];)"},
    // A backslash hides ';' from the tokenizer but is kept in the word, as nginx does.
    {"escaped_semicolon_unquoted", R"(a b\;c;)", R"([a][b\;c];)"},
    {"escaped_quote_unquoted", R"(a b\"c;)", R"([a][b"c];)"},
    {"escaped_space_unquoted", R"(a b\ c;)", R"([a][b\ c];)"},
    {"empty_quoted", "a \"\";", "[a]Q[];"},
    {"variable_braces", "a ${host}x;", "[a][${host}x];"},
    {"brace_closes_inside_word", "a b}c;", "[a][b}c];"},
    {"close_brace_ends_block_at_token_start", "x { a b; }", "[x]{[a][b];}"},
    {"quote_then_semicolon", "a 'b';", "[a]Q[b];"},
    {"quote_then_block", "location \"/x\"{ }", "[location]Q[/x]{}"},
    {"crlf_lines", "a b;\r\nc d;\r\n", "[a][b];[c][d];"},
    {"unterminated_double_quote", "a \"b;\nc;\n",
     "[a]error@1: unexpected end of file, "
     "unterminated quoted string"},
    {"unterminated_single_quote", "\n\na 'b",
     "[a]error@3: unexpected end of file, "
     "unterminated quoted string"},
    {"text_glued_after_quote", "a \"b\"c;", "[a]error@1: unexpected \"c\""},
    {"quote_glued_close_brace", "a \"b\"}", "[a]error@1: unexpected \"}\""},
};

class LexTest : public testing::TestWithParam<LexCase> {};

TEST_P(LexTest, Tokens) { EXPECT_EQ(Lex(GetParam().input), GetParam().tokens); }

INSTANTIATE_TEST_SUITE_P(Cases, LexTest, testing::ValuesIn(kLexCases),
                         [](const testing::TestParamInfo<LexCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(LexerTest, LinesOfTokens) {
  Lexer lexer("a\nb\n\n'c\nd' ;\n# x\n}");
  std::vector<int> lines;
  for (;;) {
    absl::StatusOr<Token> t = lexer.Next();
    ASSERT_TRUE(t.ok());
    if (t->kind == TokenKind::kEnd) break;
    lines.push_back(t->line);
  }
  // A token's line is the line it ends on, as nginx counts.
  EXPECT_EQ(lines, (std::vector<int>{1, 2, 5, 5, 7}));
}

TEST(LexerTest, EveryPrefixOfAConfigLexesOrFailsCleanly) {
  const std::string text =
      "http {\n  log_format x '$a \"q\" \\'';  # c\n  server { listen 80; return 200 \"a\\nb\"; "
      "}\n}\n";
  const std::string whole = Lex(text);
  ASSERT_EQ(whole.find("error"), std::string::npos) << whole;
  for (size_t i = 0; i <= text.size(); ++i) {
    const std::string prefix = Lex(std::string_view(text).substr(0, i));
    // A prefix yields either a prefix of the whole stream (possibly with the last word cut),
    // or an error about the unterminated quote.
    if (prefix.find("error") == std::string::npos) continue;
    EXPECT_NE(prefix.find("unterminated quoted string"), std::string::npos) << i << ": " << prefix;
  }
}

TEST(LexerTest, ExtraBlanksAndCommentsDoNotChangeTokens) {
  const std::string compact = "a b;c{d 'e f';}";
  const std::string spread = "  a\t b  ;\n# c\n c\n{\n d   'e f'  ;  # x\n}\n";
  EXPECT_EQ(Lex(compact), Lex(spread));
}

}  // namespace
}  // namespace realip::config
