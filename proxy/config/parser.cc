#include "proxy/config/parser.h"

#include <glob.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proxy/base/status.h"
#include "proxy/base/strings.h"
#include "proxy/config/lexer.h"

namespace realip::config {

using base::AsAbsl;

std::string AtLocation(std::string_view message, std::string_view file, int line) {
  return absl::StrCat(AsAbsl(message), " in ", AsAbsl(file), ":", line);
}

namespace {

// Deep enough for any real layout; stops symlink loops that path comparison cannot see.
constexpr int kMaxIncludeDepth = 32;

class DiskFileSource : public FileSource {
 public:
  absl::StatusOr<std::vector<std::string>> Glob(const std::string& pattern) override {
    glob_t g{};
    const int rc = glob(pattern.c_str(), 0, nullptr, &g);
    std::vector<std::string> paths;
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
    }
    globfree(&g);
    // nginx (ngx_open_glob): a pattern that matches nothing is fine when it has wildcards;
    // a plain path that does not exist is reported when it is opened.
    if (rc == GLOB_NOMATCH && pattern.find_first_of("*?[") == std::string::npos) {
      paths.push_back(pattern);
    } else if (rc != 0 && rc != GLOB_NOMATCH) {
      return absl::InvalidArgumentError(
          absl::StrCat("glob() \"", pattern, "\" failed (", std::strerror(errno), ")"));
    }
    return paths;
  }

  absl::StatusOr<std::string> Read(const std::string& path) override {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      return absl::InvalidArgumentError(
          absl::StrCat("open() \"", path, "\" failed (21: Is a directory)"));
    }
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      const int err = errno;
      return absl::InvalidArgumentError(base::CallFailedText("open", path, err));
    }
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
};

class Parser {
 public:
  Parser(FileSource& files, std::string base_dir) : files_(files), base_dir_(std::move(base_dir)) {}

  absl::Status ParseFile(std::string_view text, const std::string& path,
                         std::vector<Directive>& out) {
    AddFile(path, text);
    open_.push_back(Normal(path));
    Lexer lexer(text);
    absl::Status status = ParseBlock(lexer, path, /*depth=*/0, out, /*nested=*/false);
    open_.pop_back();
    return status;
  }

  ParsedConfig& result() { return result_; }

 private:
  // `-T` shows each file once, as nginx's config dump does.
  void AddFile(const std::string& path, std::string_view text) {
    for (const ParsedConfig::File& f : result_.files) {
      if (f.path == path) return;
    }
    result_.files.push_back({path, std::string(text)});
  }

  static std::string Normal(const std::string& path) {
    return std::filesystem::path(path).lexically_normal().string();
  }

  // Parses directives until the end of input (top level) or a '}' (nested block).
  absl::Status ParseBlock(Lexer& lexer, const std::string& file, int depth,
                          std::vector<Directive>& out, bool nested) {
    for (;;) {
      Directive d;
      d.file = file;
      bool has_name = false;
      for (;;) {
        absl::StatusOr<Token> token = lexer.Next();
        if (!token.ok()) {
          return absl::InvalidArgumentError(
              AtLocation(base::AsStd(token.status().message()), file, lexer.line()));
        }
        if (token->kind == TokenKind::kSemicolon || token->kind == TokenKind::kBlockStart) {
          if (!has_name) {
            return absl::InvalidArgumentError(AtLocation(
                token->kind == TokenKind::kSemicolon ? "unexpected \";\"" : "unexpected \"{\"",
                file, token->line));
          }
          d.line = token->line;
        }
        switch (token->kind) {
          case TokenKind::kWord:
            if (!has_name) {
              d.name = std::move(token->text);
              has_name = true;
            } else {
              d.args.push_back(std::move(token->text));
              d.quoted.push_back(token->quoted);
            }
            continue;
          case TokenKind::kSemicolon:
            if (d.name == "include") {
              REALIP_RETURN_IF_ERROR(Include(d, depth, out));
            } else {
              out.push_back(std::move(d));
            }
            break;
          case TokenKind::kBlockStart:
            d.has_block = true;
            if (depth >= 64) {
              return absl::InvalidArgumentError(
                  AtLocation("too deeply nested blocks", file, token->line));
            }
            REALIP_RETURN_IF_ERROR(ParseBlock(lexer, file, depth + 1, d.block, /*nested=*/true));
            out.push_back(std::move(d));
            break;
          case TokenKind::kBlockEnd:
            if (has_name || !nested) {
              return absl::InvalidArgumentError(AtLocation("unexpected \"}\"", file, token->line));
            }
            return absl::OkStatus();
          case TokenKind::kEnd:
            if (has_name || nested) {
              return absl::InvalidArgumentError(AtLocation(
                  nested && !has_name ? "unexpected end of file, expecting \"}\""
                                      : "unexpected end of file, expecting \";\" or \"}\"",
                  file, token->line));
            }
            return absl::OkStatus();
        }
        break;
      }
    }
  }

  absl::Status Include(const Directive& d, int depth, std::vector<Directive>& out) {
    if (d.args.size() != 1) {
      return absl::InvalidArgumentError(
          AtLocation("invalid number of arguments in \"include\" directive", d.file, d.line));
    }
    std::string pattern = d.args[0];
    if (pattern.empty() || pattern[0] != '/') {
      pattern = (std::filesystem::path(base_dir_) / pattern).string();
    }
    absl::StatusOr<std::vector<std::string>> paths = files_.Glob(pattern);
    if (!paths.ok()) {
      return absl::InvalidArgumentError(
          AtLocation(base::AsStd(paths.status().message()), d.file, d.line));
    }
    for (const std::string& path : *paths) {
      const std::string normal = Normal(path);
      for (const std::string& open : open_) {
        if (open == normal) {
          return absl::InvalidArgumentError(AtLocation(
              absl::StrCat("include loop: \"", path, "\" is already being read"), d.file, d.line));
        }
      }
      if (depth >= kMaxIncludeDepth || open_.size() >= kMaxIncludeDepth) {
        return absl::InvalidArgumentError(AtLocation(
            absl::StrCat("includes nested too deeply at \"", path, "\""), d.file, d.line));
      }
      absl::StatusOr<std::string> text = files_.Read(path);
      if (!text.ok()) {
        return absl::InvalidArgumentError(
            AtLocation(base::AsStd(text.status().message()), d.file, d.line));
      }
      // An included file holds a sequence of directives of the including block; braces must
      // balance within the file (ngx_conf_parse parses it as a separate file).
      AddFile(path, *text);
      open_.push_back(normal);
      Lexer lexer(*text);
      absl::Status status = ParseBlock(lexer, path, depth, out, /*nested=*/false);
      open_.pop_back();
      REALIP_RETURN_IF_ERROR(status);
    }
    return absl::OkStatus();
  }

  FileSource& files_;
  std::string base_dir_;
  std::vector<std::string> open_;
  ParsedConfig result_;
};

}  // namespace

std::unique_ptr<FileSource> NewDiskFileSource() { return std::make_unique<DiskFileSource>(); }

std::string ConfigDir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  // push_back, not = ".": gcc 12 warns wrongly about the latter (-Wrestrict).
  if (dir.empty()) dir.push_back('.');
  return dir;
}

absl::StatusOr<ParsedConfig> ParseConfigText(std::string_view text, const std::string& path,
                                             FileSource& files) {
  Parser parser(files, ConfigDir(path));
  std::vector<Directive> directives;
  REALIP_RETURN_IF_ERROR(parser.ParseFile(text, path, directives));
  ParsedConfig result = std::move(parser.result());
  result.directives = std::move(directives);
  return result;
}

}  // namespace realip::config
