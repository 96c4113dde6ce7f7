#include "proxy/server/access_log.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/config/variables.h"
#include "proxy/event/loop.h"
#include "proxy/http/parser.h"
#include "proxy/net/ip_address.h"

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

// A file log of `format` that writes the request URI, with the given buffering.
config::AccessLog FileLog(const std::string& path, uint64_t buffer, absl::Duration flush) {
  config::AccessLog log;
  log.kind = config::AccessLog::Kind::kFile;
  log.path = path;
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
  // A fresh path under the test's temporary folder.
  static std::string TempPath(const char* name) {
    std::string path = ::testing::TempDir() + "/" + name;
    std::remove(path.c_str());
    return path;
  }
  std::unique_ptr<event::EventLoop> loop_;
  LogFiles files_;
  AccessLogWriter writer_{files_};
};

TEST_F(AccessLogWriterTest, WritesWhenTheBufferFillsAndAtFlushAll) {
  std::string path = TempPath("writer_size.log");
  AccessLogWriter& writer = writer_;
  // 10-byte lines ("/" + 8 digits + "\n") into a 25-byte buffer that never times out.
  std::vector<config::AccessLog> logs = {FileLog(path, 25, absl::Hours(1))};
  http::MessageHead head;
  RequestContext ctx;
  ctx.head = &head;
  std::string want;
  for (int i = 0; i < 5; ++i) {
    head.target = absl::StrCat("/", 10000000 + i);
    want += head.target + "\n";
    writer.Write(logs, ctx);
    // Written in whole buffers: after the 3rd line (30 >= 25 bytes), then nothing until FlushAll.
    EXPECT_EQ(ReadFile(path), i < 2 ? "" : want.substr(0, 30)) << i;
  }
  writer.FlushAll();
  EXPECT_EQ(ReadFile(path), want);
}

TEST_F(AccessLogWriterTest, UnbufferedAndTimedFlush) {
  std::string path = TempPath("writer_timed.log");
  std::string now_path = TempPath("writer_now.log");
  AccessLogWriter& writer = writer_;
  std::vector<config::AccessLog> logs = {FileLog(path, 1 << 20, absl::Milliseconds(20)),
                                         FileLog(now_path, 0, absl::Seconds(1))};
  http::MessageHead head;
  head.target = "/a";
  RequestContext ctx;
  ctx.head = &head;
  writer.Write(logs, ctx);
  EXPECT_EQ(ReadFile(now_path), "/a\n");  // buffer=0: at once
  EXPECT_EQ(ReadFile(path), "");
  // The flush timer writes the line; the loop then has nothing left to wait for and returns.
  loop_->Run();
  EXPECT_EQ(ReadFile(path), "/a\n");
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
