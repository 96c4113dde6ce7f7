// The directive tree, includes (real files in a temporary folder) and the directive table.
#include "proxy/config/parser.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "proxy/base/strings.h"
#include "proxy/config/config.h"
#include "proxy/config/directive_table.h"
#include "unit/temp_dir.h"

namespace realip::config {
namespace {

std::string Render(const std::vector<Directive>& ds) {
  std::string out;
  for (const Directive& d : ds) {
    out += d.name + "@" + std::to_string(d.line);
    for (const std::string& a : d.args) out += " " + a;
    if (d.has_block) out += " {" + Render(d.block) + "}";
    out += ";";
  }
  return out;
}

absl::StatusOr<ParsedConfig> ParseFile(const std::string& path) {
  std::unique_ptr<FileSource> files = NewDiskFileSource();
  absl::StatusOr<std::string> text = files->Read(path);
  if (!text.ok()) return text.status();
  return ParseConfigText(*text, path, *files);
}

TEST(ParserTest, BuildsTheTree) {
  std::unique_ptr<FileSource> files = NewDiskFileSource();
  absl::StatusOr<ParsedConfig> p =
      ParseConfigText("a 1;\nb {\n c 2 3;\n d { }\n}\n", "/x/y.conf", *files);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Render(p->directives), "a@1 1;b@2 {c@3 2 3;d@4 {};};");
  EXPECT_EQ(p->directives[1].block[0].file, "/x/y.conf");
  ASSERT_EQ(p->files.size(), 1u);
  EXPECT_EQ(p->files[0].path, "/x/y.conf");
}

TEST(ParserTest, QuotedFlagsFollowArguments) {
  std::unique_ptr<FileSource> files = NewDiskFileSource();
  absl::StatusOr<ParsedConfig> p = ParseConfigText("a b 'c' \"\";", "/x.conf", *files);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->directives[0].quoted, (std::vector<bool>{false, true, true}));
  EXPECT_EQ(p->directives[0].args, (std::vector<std::string>{"b", "c", ""}));
}

TEST(IncludeTest, GlobRelativeToTheMainFileFolderInSortedOrder) {
  ScopedTempDir dir;
  dir.Write("conf.d/b.conf", "b 2;\n");
  dir.Write("conf.d/a.conf", "a 1;\n");
  dir.Write("conf.d/ignored.txt", "zzz;\n");
  dir.Write("snippets/x.conf", "x {\n y;\n}\n");
  const std::string main = dir.Write(
      "main.conf", "top;\nhttp {\n include conf.d/*.conf;\n include snippets/x.conf;\n}\n");
  absl::StatusOr<ParsedConfig> p = ParseFile(main);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Render(p->directives), "top@1;http@2 {a@1 1;b@1 2;x@1 {y@2;};};");
  EXPECT_EQ(p->directives[1].block[0].file, dir.path() + "/conf.d/a.conf");
  ASSERT_EQ(p->files.size(), 4u);
  EXPECT_EQ(p->files[1].path, dir.path() + "/conf.d/a.conf");
  EXPECT_EQ(p->files[3].contents, "x {\n y;\n}\n");
}

TEST(IncludeTest, GlobWithoutMatchesIsFine) {
  ScopedTempDir dir;
  const std::string main = dir.Write("main.conf", "include none/*.conf;\na;\n");
  absl::StatusOr<ParsedConfig> p = ParseFile(main);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Render(p->directives), "a@2;");
}

TEST(IncludeTest, MissingFileNamesTheIncludeLine) {
  ScopedTempDir dir;
  const std::string main = dir.Write("main.conf", "a;\ninclude missing.conf;\n");
  absl::StatusOr<ParsedConfig> p = ParseFile(main);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(base::AsStd(p.status().message()),
            "open() \"" + dir.path() + "/missing.conf\" failed (2: No such file or directory) in " +
                main + ":2");
}

TEST(IncludeTest, LoopIsAnError) {
  ScopedTempDir dir;
  const std::string a = dir.Write("a.conf", "include b.conf;\n");
  const std::string b = dir.Write("b.conf", "x;\n\ninclude a.conf;\n");
  const std::string main = dir.Write("main.conf", "include a.conf;\n");
  absl::StatusOr<ParsedConfig> p = ParseFile(main);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(base::AsStd(p.status().message()),
            "include loop: \"" + a + "\" is already being read in " + b + ":3");
}

TEST(IncludeTest, SelfIncludeIsAnError) {
  ScopedTempDir dir;
  const std::string main = dir.Write("main.conf", "include main.conf;\n");
  absl::StatusOr<ParsedConfig> p = ParseFile(main);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(base::AsStd(p.status().message()),
            "include loop: \"" + main + "\" is already being read in " + main + ":1");
}

TEST(IncludeTest, SameFileTwiceIsNotALoop) {
  ScopedTempDir dir;
  dir.Write("common.conf", "c;\n");
  const std::string main = dir.Write("main.conf", "include common.conf;\ninclude common.conf;\n");
  absl::StatusOr<ParsedConfig> p = ParseFile(main);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Render(p->directives), "c@1;c@1;");
  EXPECT_EQ(p->files.size(), 2u);  // dumped once
}

TEST(IncludeTest, UnbalancedBraceInIncludedFileNamesThatFile) {
  ScopedTempDir dir;
  const std::string inc = dir.Write("inc.conf", "a {\n");
  const std::string main = dir.Write("main.conf", "http {\n include inc.conf;\n}\n");
  absl::StatusOr<ParsedConfig> p = ParseFile(main);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(base::AsStd(p.status().message()),
            "unexpected end of file, expecting \"}\" in " + inc + ":2");
}

TEST(IncludeTest, IncludeArity) {
  std::unique_ptr<FileSource> files = NewDiskFileSource();
  absl::StatusOr<ParsedConfig> p = ParseConfigText("include a b;\n", "/x.conf", *files);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(base::AsStd(p.status().message()),
            "invalid number of arguments in \"include\" directive in /x.conf:1");
}

TEST(IncludeTest, LoadConfigDumpsEveryFileForDashT) {
  ScopedTempDir dir;
  const std::string inc = dir.Write("servers/one.conf", "server { listen 127.0.0.1:8001; }\n");
  const std::string main_text = "http {\n include servers/*.conf;\n}\n";
  const std::string main = dir.Write("realip-proxy.conf", main_text);
  absl::StatusOr<std::shared_ptr<const Config>> c = LoadConfig(main);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Dump(), "# configuration file " + main + ":\n" + main_text + "\n" +
                              "# configuration file " + inc +
                              ":\nserver { listen 127.0.0.1:8001; }\n\n");
  EXPECT_EQ((*c)->listeners.size(), 1u);
}

TEST(DirectiveTableTest, RowsAreWellFormed) {
  std::set<std::pair<std::string_view, uint32_t>> seen;
  for (const internal::DirectiveSpec& row : internal::DirectiveTable()) {
    EXPECT_FALSE(row.name.empty());
    EXPECT_NE(row.contexts, 0u) << row.name;
    EXPECT_NE(row.handler, nullptr) << row.name;
    EXPECT_GE(row.min_args, 0) << row.name;
    if (row.max_args != internal::kAnyArgs) {
      EXPECT_LE(row.min_args, row.max_args) << row.name;
    }
    // One row per name and context: the lookup must be unambiguous.
    for (uint32_t bit = 1; bit <= internal::kUpstream; bit <<= 1) {
      if ((row.contexts & bit) != 0) {
        EXPECT_TRUE(seen.insert({row.name, bit}).second) << row.name << " context " << bit;
      }
    }
  }
}

}  // namespace
}  // namespace realip::config
