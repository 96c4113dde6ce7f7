// Parses nginx-syntax text into a tree of directives and expands `include`.
//
// The parser knows no directive except `include`; meaning is given by the directive table
// (directives.h). Errors are in nginx's form: `MESSAGE in FILE:LINE`.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace realip::config {

// One directive: `name args... ;` or `name args... { block }`.
struct Directive {
  std::string name;
  std::vector<std::string> args;
  std::vector<bool> quoted;  // per argument: written in quotes
  std::string file;
  int line = 0;  // the line of the terminating ';' or '{', as nginx reports it
  bool has_block = false;
  std::vector<Directive> block;
};

// Where included files come from. The default implementation reads the filesystem.
class FileSource {
 public:
  virtual ~FileSource() = default;
  // Paths matching a glob pattern, sorted. A pattern without wildcards yields itself.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> Glob(
      const std::string& pattern) = 0;
  // The contents of a file; errors read `open() "PATH" failed (2: No such file or directory)`.
  [[nodiscard]] virtual absl::StatusOr<std::string> Read(const std::string& path) = 0;
};

// The real filesystem (glob(3), and whole-file reads).
std::unique_ptr<FileSource> NewDiskFileSource();

// The result of parsing: the top-level directives and every file read, in read order.
struct ParsedConfig {
  std::vector<Directive> directives;
  struct File {
    std::string path;
    std::string contents;
  };
  std::vector<File> files;
};

// The folder of a configuration file, "." for a bare file name: where its relative paths
// (includes, certificates, geo files) are looked up.
std::string ConfigDir(const std::string& path);

// Parses `text` (named `path` in messages). `include` arguments are glob patterns relative to
// the folder of `path`; an include of a file that is already being read is an error.
[[nodiscard]] absl::StatusOr<ParsedConfig> ParseConfigText(std::string_view text,
                                                           const std::string& path,
                                                           FileSource& files);

// Formats the nginx location suffix: "MESSAGE in FILE:LINE".
std::string AtLocation(std::string_view message, std::string_view file, int line);

}  // namespace realip::config
