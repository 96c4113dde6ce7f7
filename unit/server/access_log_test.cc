#include "proxy/server/access_log.h"

#include <fcntl.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/config/variables.h"
#include "proxy/event/loop.h"
#include "proxy/http/parser.h"
#include "proxy/net/ip_address.h"
#include "unit/temp_dir.h"

namespace realip::server {
namespace {

config::LogFormat Format(const char* text, config::LogEscape escape) {
  config::LogFormat format;
  format.escape = escape;
  absl::StatusOr<config::CompiledString> compiled = config::CompileString(text);
  EXPECT_TRUE(compiled.ok()) << text;
  format.format = *compiled;
  return format;
}

TEST(FormatLogLineTest, EscapingPerFormat) {
  http::MessageParser parser(http::MessageKind::kRequest, http::ParseLimits{});
  ASSERT_EQ(
      parser.Parse("GET /p HTTP/1.1\r\nHost: a\r\nUser-Agent: q\"b\\\xc3\xa9\r\n\r\n", nullptr)
          .event,
      http::MessageParser::Event::kHeadComplete);
  RequestContext ctx;
  http::MessageHead head = parser.head();
  ctx.head = &head;
  ctx.resolution.client = net::SocketAddress{*net::IpAddress::Parse("192.0.2.1"), 5, false};
  ctx.status = 200;
  struct Case {
    config::LogEscape escape;
    const char* want;
  };
  for (const Case& c : {
           Case{config::LogEscape::kDefault, "192.0.2.1 \"q\\x22b\\x5C\\xC3\\xA9\" - 200\n"},
           Case{config::LogEscape::kJson, "192.0.2.1 \"q\\\"b\\\\\xc3\xa9\"  200\n"},
           Case{config::LogEscape::kNone, "192.0.2.1 \"q\"b\\\xc3\xa9\" - 200\n"},
       }) {
    // The line is appended after what the buffer holds already, which stays as it was.
    std::string out = "earlier line\n";
    AppendLogLine(Format("$remote_addr \"$http_user_agent\" $http_referer $status", c.escape), ctx,
                  &out);
    EXPECT_EQ(out, absl::StrCat("earlier line\n", c.want));
  }
}

TEST(FormatLogLineTest, EscapesWhereverTheByteIsInTheValue) {
  struct Case {
    std::string agent;
    config::LogEscape escape;
    std::string want;
  };
  for (const Case& c : {
           Case{"\"ab", config::LogEscape::kDefault, "[\\x22ab]\n"},
           Case{"ab\"", config::LogEscape::kDefault, "[ab\\x22]\n"},
           Case{"a\x7f\x01"
                "b",
                config::LogEscape::kDefault, "[a\\x7F\\x01b]\n"},
           Case{"plain text", config::LogEscape::kDefault, "[plain text]\n"},
           Case{"a\tb\x01", config::LogEscape::kJson, "[a\\tb\\u0001]\n"},
           Case{"\x7f\xc3\xa9", config::LogEscape::kJson, "[\x7f\xc3\xa9]\n"},
       }) {
    http::MessageParser parser(http::MessageKind::kRequest, http::ParseLimits{});
    ASSERT_EQ(parser.Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", nullptr).event,
              http::MessageParser::Event::kHeadComplete);
    http::MessageHead head = parser.head();
    // Added after parsing: the parser refuses control bytes in values.
    head.headers.Add("User-Agent", c.agent);
    RequestContext ctx;
    ctx.head = &head;
    std::string out;
    AppendLogLine(Format("[$http_user_agent]", c.escape), ctx, &out);
    EXPECT_EQ(out, c.want) << c.agent;
  }
}

std::string ReadFile(const std::string& path) {
  std::string out;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

// How many of this process's descriptors point at `path`.
int OpenCount(const std::string& path) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(entry.path(), ec) == path) ++n;
  }
  return n;
}

// A file log of `format` that writes the request URI, with the given buffering, to the
// configuration's file `index`.
config::AccessLog FileLog(const std::string& path, uint64_t buffer, absl::Duration flush,
                          size_t index = 0) {
  config::AccessLog log;
  log.kind = config::AccessLog::Kind::kFile;
  log.path = path;
  log.file_index = index;
  log.format =
      std::make_shared<config::LogFormat>(Format("$request_uri", config::LogEscape::kNone));
  log.buffer_size = buffer;
  log.flush = flush;
  return log;
}

// A writer on its own loop.
class AccessLogWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<event::EventLoop>> loop = event::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = *std::move(loop);
    ASSERT_TRUE(writer_.Init(*loop_).ok());
  }
  // A path in the test's own temporary folder.
  std::string TempPath(const char* name) const { return tmp_.File(name); }
  // One configuration's files: `paths` opened, in that order.
  static std::shared_ptr<const LogFileSet> OpenSet(const std::vector<std::string>& paths) {
    std::vector<std::shared_ptr<const LogFile>> files;
    for (const std::string& path : paths) {
      absl::StatusOr<std::shared_ptr<LogFile>> file = LogFile::Open(path);
      EXPECT_TRUE(file.ok()) << file.status();
      if (file.ok()) files.push_back(*std::move(file));
    }
    return std::make_shared<const LogFileSet>(std::move(files));
  }
  // Writes a request for `target` to `logs`.
  void Write(const std::vector<config::AccessLog>& logs, const LogFileSet* files,
             const char* target) {
    http::MessageHead head;
    head.target = target;
    RequestContext ctx;
    ctx.head = &head;
    writer_.Write(logs, files, ctx);
  }
  ScopedTempDir tmp_;  // first: removed after the writer has flushed into it
  std::unique_ptr<event::EventLoop> loop_;
  AccessLogWriter writer_;
};

TEST_F(AccessLogWriterTest, WritesWhenTheBufferFillsAndAtFlushAll) {
  std::string path = TempPath("writer_size.log");
  AccessLogWriter& writer = writer_;
  // 10-byte lines ("/" + 8 digits + "\n") into a 25-byte buffer that never times out.
  std::vector<config::AccessLog> logs = {FileLog(path, 25, absl::Hours(1))};
  std::shared_ptr<const LogFileSet> files = OpenSet({path});
  http::MessageHead head;
  RequestContext ctx;
  ctx.head = &head;
  std::string want;
  for (int i = 0; i < 5; ++i) {
    head.target = absl::StrCat("/", 10000000 + i);
    want += head.target + "\n";
    writer.Write(logs, files.get(), ctx);
    // Written in whole buffers: after the 3rd line (30 >= 25 bytes), then nothing until FlushAll.
    EXPECT_EQ(ReadFile(path), i < 2 ? "" : want.substr(0, 30)) << i;
  }
  writer.FlushAll();
  EXPECT_EQ(ReadFile(path), want);
}

TEST_F(AccessLogWriterTest, UnbufferedAndTimedFlush) {
  std::string path = TempPath("writer_timed.log");
  std::string now_path = TempPath("writer_now.log");
  std::vector<config::AccessLog> logs = {FileLog(path, 1 << 20, absl::Milliseconds(20)),
                                         FileLog(now_path, 0, absl::Seconds(1), 1)};
  std::shared_ptr<const LogFileSet> files = OpenSet({path, now_path});
  Write(logs, files.get(), "/a");
  EXPECT_EQ(ReadFile(now_path), "/a\n");  // buffer=0: at once
  EXPECT_EQ(ReadFile(path), "");
  // The flush timer writes the line; the loop then has nothing left to wait for and returns.
  loop_->Run();
  EXPECT_EQ(ReadFile(path), "/a\n");
}

TEST_F(AccessLogWriterTest, BufferedLinesKeepTheirFileOpenUntilWritten) {
  std::string path = TempPath("writer_kept.log");
  std::vector<config::AccessLog> logs = {FileLog(path, 1 << 20, absl::Hours(1))};
  std::shared_ptr<const LogFileSet> files = OpenSet({path});
  const int fd = files->file(0)->fd();
  Write(logs, files.get(), "/held");
  // The configuration is gone; the line still holds the file (and its number).
  files.reset();
  EXPECT_EQ(OpenCount(path), 1);
  EXPECT_EQ(ReadFile(path), "");
  // The new configuration names no file: what was held for another one is written, and the
  // file closes with it.
  std::shared_ptr<const LogFileSet> next = OpenSet({});
  writer_.FlushUnnamed(next.get());
  EXPECT_EQ(ReadFile(path), "/held\n");
  EXPECT_EQ(OpenCount(path), 0);
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);
}

TEST_F(AccessLogWriterTest, FlushUnnamedKeepsTheLinesOfNamedFiles) {
  std::string kept = TempPath("writer_named.log");
  std::string dropped = TempPath("writer_unnamed.log");
  std::vector<config::AccessLog> logs = {FileLog(kept, 1 << 20, absl::Hours(1)),
                                         FileLog(dropped, 1 << 20, absl::Hours(1), 1)};
  std::shared_ptr<const LogFileSet> files = OpenSet({kept, dropped});
  Write(logs, files.get(), "/x");
  // Still buffered for `kept`, which the current configuration names.
  writer_.FlushUnnamed(std::make_shared<const LogFileSet>(
                           std::vector<std::shared_ptr<const LogFile>>{files->file(0)})
                           .get());
  EXPECT_EQ(ReadFile(kept), "");
  EXPECT_EQ(ReadFile(dropped), "/x\n");
  writer_.FlushAll();
  EXPECT_EQ(ReadFile(kept), "/x\n");
}

TEST_F(AccessLogWriterTest, ABufferTakesTheNumberOfAReopenedFile) {
  // A file closes, another one gets its number: lines go where their configuration says.
  std::string first = TempPath("writer_first.log");
  std::string second = TempPath("writer_second.log");
  std::vector<config::AccessLog> logs = {FileLog(first, 0, absl::Seconds(1))};
  std::shared_ptr<const LogFileSet> files = OpenSet({first});
  const int fd = files->file(0)->fd();
  Write(logs, files.get(), "/1");
  files = OpenSet({});  // closes `first`
  files = OpenSet({second});
  ASSERT_EQ(files->file(0)->fd(), fd);
  logs[0].path = second;
  Write(logs, files.get(), "/2");
  EXPECT_EQ(ReadFile(first), "/1\n");
  EXPECT_EQ(ReadFile(second), "/2\n");
}

// Configurations loaded from text, with their files opened by one LogFiles.
class LogFilesTest : public AccessLogWriterTest {
 protected:
  void SetUp() override {
    AccessLogWriterTest::SetUp();
    dir_ = tmp_.path();
  }
  std::string Path(const char* name) const { return dir_ + "/" + name; }
  // A configuration whose only server logs to each of `paths`, attached.
  absl::StatusOr<std::shared_ptr<const config::Config>> Attach(
      const std::vector<std::string>& paths) {
    std::string text = "http {\nserver {\nlisten 127.0.0.1:8001;\n";
    for (const std::string& p : paths) absl::StrAppend(&text, "access_log ", p, ";\n");
    absl::StrAppend(&text, "}\n}\n");
    absl::StatusOr<std::shared_ptr<const config::Config>> loaded =
        config::LoadConfigFromString(text, dir_ + "/test.conf");
    if (!loaded.ok()) return loaded.status();
    return files_.Attach(*loaded);
  }

  std::string dir_;
  LogFiles files_;
};

TEST_F(LogFilesTest, ConfigurationsShareOpenFilesAndTheLastOneClosesThem) {
  absl::StatusOr<std::shared_ptr<const config::Config>> first = Attach({Path("a"), Path("b")});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_NE((*first)->log_files, nullptr);
  ASSERT_EQ((*first)->log_files->size(), 2u);
  absl::StatusOr<std::shared_ptr<const config::Config>> second = Attach({Path("b"), Path("c")});
  ASSERT_TRUE(second.ok()) << second.status();
  // `b` is the same open file; `c` is new.
  EXPECT_EQ((*second)->log_files->file(0), (*first)->log_files->file(1));
  EXPECT_EQ(files_.open_count(), 3u);
  EXPECT_EQ(OpenCount(Path("b")), 1);
  first->reset();
  EXPECT_EQ(files_.open_count(), 2u);
  EXPECT_EQ(OpenCount(Path("a")), 0);
  EXPECT_EQ(OpenCount(Path("b")), 1);
  second->reset();
  EXPECT_EQ(files_.open_count(), 0u);
  EXPECT_EQ(OpenCount(Path("b")) + OpenCount(Path("c")), 0);
}

TEST_F(LogFilesTest, AFileThatCannotBeOpenedFailsWithItsDirective) {
  absl::StatusOr<std::shared_ptr<const config::Config>> kept = Attach({Path("a")});
  ASSERT_TRUE(kept.ok());
  const std::string missing = Path("missing/x.log");
  absl::StatusOr<std::shared_ptr<const config::Config>> refused =
      Attach({Path("a"), Path("new"), missing});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            absl::StrCat("open() \"", missing, "\" failed (2: No such file or directory) in ", dir_,
                         "/test.conf:6"));
  // What the refused configuration opened is closed again; the running one keeps its file.
  EXPECT_EQ(files_.open_count(), 1u);
  EXPECT_EQ(OpenCount(Path("a")), 1);
  EXPECT_EQ(OpenCount(Path("new")), 0);
}

TEST_F(LogFilesTest, ReopenAllReachesFilesOnlyABufferHolds) {
  absl::StatusOr<std::shared_ptr<const config::Config>> c = Attach({Path("a")});
  ASSERT_TRUE(c.ok());
  std::vector<config::AccessLog> logs = {FileLog(Path("a"), 1 << 20, absl::Hours(1))};
  Write(logs, (*c)->log_files.get(), "/rotated");
  c->reset();
  std::filesystem::rename(Path("a"), Path("a.1"));
  files_.ReopenAll();
  writer_.FlushAll();
  EXPECT_EQ(ReadFile(Path("a")), "/rotated\n");
  EXPECT_EQ(ReadFile(Path("a.1")), "");
  EXPECT_EQ(files_.open_count(), 0u);
}

TEST(AppendJsonEscapedTest, Cases) {
  struct Case {
    const char* name;
    std::string in;
    bool ascii_only;
    std::string want;
  };
  const Case cases[] = {
      {"plain", "abc", false, "abc"},
      {"quote_backslash", "a\"b\\c", false, "a\\\"b\\\\c"},
      {"short_forms", "\n\r\t\b\f", false, "\\n\\r\\t\\b\\f"},
      {"other_controls", std::string("\x01\x1f\0", 3), false, "\\u0001\\u001f\\u0000"},
      {"utf8_kept", "\xc3\xa9", false, "\xc3\xa9"},
      {"utf8_ascii_only", "\xc3\xa9\x7f", true, "\\u00c3\\u00a9\\u007f"},
  };
  for (const Case& c : cases) {
    std::string out;
    AppendJsonEscaped(c.in, c.ascii_only, &out);
    EXPECT_EQ(out, c.want) << c.name;
  }
}

}  // namespace
}  // namespace realip::server
