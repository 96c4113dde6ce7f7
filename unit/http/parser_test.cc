#include "proxy/http/parser.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/http/status_codes.h"

namespace realip::http {
namespace {

using ::testing::ElementsAre;

// What a caller observes from a byte stream: one entry per message.
struct Message {
  MessageHead head;
  std::string body;
  bool complete = false;
};

// What MessageParser::Stopped() said about a request stopped in its head, copied.
struct Stop {
  bool line_complete = false;
  std::string raw_line;
  bool protocol_reached = false;
  std::string method;  // with line_complete: the parsed request line
  std::string target;
  int version_major = 0;
  int version_minor = 0;
  std::vector<std::string> header_names;
};

Stop CopyStopped(MessageParser& parser) {
  StoppedRequest s = parser.Stopped();
  Stop stop{s.line_complete, std::string(s.raw_line), s.protocol_reached, "", "", 0, 0, {}};
  if (s.line_complete) {
    stop.method = parser.head().method;
    stop.target = parser.head().target;
    stop.version_major = parser.head().version_major;
    stop.version_minor = parser.head().version_minor;
    for (const Header& h : parser.head().headers) stop.header_names.push_back(h.name);
  }
  return stop;
}

struct Transcript {
  std::vector<Message> messages;
  int error_status = 0;  // 0: no error
  std::string error;
  Stop stop;  // requests, with an error
};

class Collector : public BodySink {
 public:
  void OnBody(std::string_view data) override { body_->append(data); }
  std::string* body_ = nullptr;
};

// Feeds `input` in pieces: `split` == 0 means whole, 1 byte-by-byte, otherwise first `split`
// bytes then the rest. Mirrors how the engine calls the parser: unconsumed bytes are kept and
// handed in again with the next read.
Transcript Feed(MessageKind kind, std::string_view input, size_t split, ParseLimits limits = {},
               bool finish = false, bool head_response = false) {
  MessageParser parser(kind, limits);
  Transcript t;
  Collector sink;
  std::string pending;
  size_t fed = 0;
  auto next_piece = [&]() -> std::string_view {
    size_t n = input.size() - fed;
    if (split == 1) n = std::min<size_t>(n, 1);
    if (split > 1 && fed == 0) n = std::min(n, split);
    std::string_view piece = input.substr(fed, n);
    fed += n;
    return piece;
  };
  if (head_response) parser.SetNextResponseHasNoBody(true);
  bool after_head = false;
  while (true) {
    if (pending.empty() && !after_head) {
      if (fed == input.size()) break;
      pending.append(next_piece());
    }
    std::string body_scratch;
    sink.body_ = &body_scratch;
    MessageParser::Result r = parser.Parse(pending, &sink);
    if (!body_scratch.empty()) t.messages.back().body += body_scratch;
    pending.erase(0, r.consumed);
    after_head = r.event == MessageParser::Event::kHeadComplete;
    switch (r.event) {
      case MessageParser::Event::kNeedMore:
        if (!pending.empty()) {
          ADD_FAILURE() << "kNeedMore left bytes unconsumed";
          return t;
        }
        break;
      case MessageParser::Event::kHeadComplete:
        t.messages.push_back(Message{parser.head(), "", false});
        break;
      case MessageParser::Event::kMessageComplete:
        // Every message reports its head first, including bodiless responses.
        if (t.messages.empty() || t.messages.back().complete) {
          ADD_FAILURE() << "message completed without a head event";
          return t;
        }
        t.messages.back().complete = true;
        break;
      case MessageParser::Event::kError:
        t.error_status = parser.error().status;
        t.error = parser.error().message;
        if (kind == MessageKind::kRequest) t.stop = CopyStopped(parser);
        return t;
    }
  }
  if (finish) {
    std::string body_scratch;
    sink.body_ = &body_scratch;
    MessageParser::Result r = parser.Finish(&sink);
    if (!body_scratch.empty()) t.messages.back().body += body_scratch;
    if (r.event == MessageParser::Event::kMessageComplete) t.messages.back().complete = true;
    if (r.event == MessageParser::Event::kError) {
      t.error_status = parser.error().status;
      t.error = parser.error().message;
    }
  }
  return t;
}

// Runs every way of splitting `input` and checks that all agree with the whole-input run.
Transcript RunAllSplits(MessageKind kind, std::string_view input, ParseLimits limits = {},
                        bool finish = false, bool head_response = false) {
  Transcript whole = Feed(kind, input, 0, limits, finish, head_response);
  auto same = [&](const Transcript& other, const std::string& how) {
    EXPECT_EQ(other.error_status, whole.error_status) << how << ": " << other.error;
    EXPECT_EQ(other.messages.size(), whole.messages.size()) << how;
    for (size_t i = 0; i < std::min(other.messages.size(), whole.messages.size()); ++i) {
      EXPECT_EQ(other.messages[i].body, whole.messages[i].body) << how;
      EXPECT_EQ(other.messages[i].complete, whole.messages[i].complete) << how;
      EXPECT_EQ(other.messages[i].head.target, whole.messages[i].head.target) << how;
      EXPECT_EQ(other.messages[i].head.headers.size(), whole.messages[i].head.headers.size())
          << how;
    }
  };
  // A request stopped in its head: a parsed line is the same however the bytes came (which
  // header lines were complete may differ: llhttp ends a line when the next one starts); a raw one
  // (a bad or unfinished line) holds what had arrived of it, past the bad byte as nginx's:
  // never less than the byte-by-byte run's, never more than the whole input's.
  const Transcript bytewise = Feed(kind, input, 1, limits, finish, head_response);
  auto same_stop = [&](const Transcript& other, const std::string& how) {
    EXPECT_EQ(other.stop.line_complete, whole.stop.line_complete) << how;
    EXPECT_EQ(other.stop.method, whole.stop.method) << how;
    EXPECT_EQ(other.stop.target, whole.stop.target) << how;
    EXPECT_EQ(other.stop.version_major, whole.stop.version_major) << how;
    EXPECT_EQ(other.stop.version_minor, whole.stop.version_minor) << how;
    EXPECT_EQ(other.stop.protocol_reached, whole.stop.protocol_reached) << how;
    EXPECT_TRUE(whole.stop.raw_line.starts_with(other.stop.raw_line))
        << how << ": " << other.stop.raw_line;
    EXPECT_TRUE(other.stop.raw_line.starts_with(bytewise.stop.raw_line))
        << how << ": " << other.stop.raw_line;
  };
  same(bytewise, "byte by byte");
  same_stop(bytewise, "byte by byte");
  for (size_t split = 2; split < input.size(); ++split) {
    same(Feed(kind, input, split, limits, finish, head_response),
         "split at " + std::to_string(split));
    same_stop(Feed(kind, input, split, limits, finish, head_response),
              "split at " + std::to_string(split));
  }
  return whole;
}

std::vector<std::pair<std::string, std::string>> Pairs(const HeaderList& headers) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Header& h : headers) out.emplace_back(h.name, h.value);
  return out;
}

TEST(RequestParserTest, SimpleGetKeepsHeaderOrderDuplicatesAndCase) {
  Transcript t = RunAllSplits(MessageKind::kRequest,
                              "GET /a?b=1 HTTP/1.1\r\nHost: example.test\r\n"
                              "X-Forwarded-For: 1.1.1.1\r\nx-forwarded-for:2.2.2.2  \r\n\r\n");
  ASSERT_EQ(t.error_status, 0) << t.error;
  ASSERT_EQ(t.messages.size(), 1u);
  const MessageHead& h = t.messages[0].head;
  EXPECT_TRUE(t.messages[0].complete);
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.target, "/a?b=1");
  EXPECT_EQ(h.version_minor, 1);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.content_length.has_value());
  EXPECT_THAT(Pairs(h.headers),
              ElementsAre(std::pair<std::string, std::string>{"Host", "example.test"},
                          std::pair<std::string, std::string>{"X-Forwarded-For", "1.1.1.1"},
                          std::pair<std::string, std::string>{"x-forwarded-for", "2.2.2.2"}));
}

// nginx's ignore_invalid_headers (on) and underscores_in_headers (off): a request header line
// whose name is not letters, digits and '-' is dropped, so that "X_Forwarded_For" or
// "X-Real_IP" (which CGI-style backends read as X-Forwarded-For and X-Real-IP) never reach a
// backend, a variable or the client-IP resolution. Its bytes still count; an ignored first line
// does not make the request line look unfinished.
TEST(RequestParserTest, InvalidHeaderNamesAreDroppedAsNginxDoes) {
  const std::string input =
      "GET / HTTP/1.1\r\nX_Forwarded_For: 6.6.6.6\r\nHost: a\r\nX-Real_IP: 7.7.7.7\r\n"
      "X.Dot: 1\r\nX-Good-1: 2\r\n\r\n";
  using P = std::pair<std::string, std::string>;
  Transcript t = RunAllSplits(MessageKind::kRequest, input);
  ASSERT_EQ(t.error_status, 0) << t.error;
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_THAT(Pairs(t.messages[0].head.headers), ElementsAre(P{"Host", "a"}, P{"X-Good-1", "2"}));

  ParseLimits underscores;
  underscores.underscores_in_names = true;
  t = RunAllSplits(MessageKind::kRequest, input, underscores);
  EXPECT_THAT(Pairs(t.messages[0].head.headers),
              ElementsAre(P{"X_Forwarded_For", "6.6.6.6"}, P{"Host", "a"},
                          P{"X-Real_IP", "7.7.7.7"}, P{"X-Good-1", "2"}));

  ParseLimits keep;
  keep.ignore_invalid_names = false;
  t = RunAllSplits(MessageKind::kRequest, input, keep);
  EXPECT_EQ(t.messages[0].head.headers.size(), 5u);

  // The parser tells how many it dropped, and the first, until the next message.
  MessageParser parser(MessageKind::kRequest, ParseLimits{});
  ASSERT_EQ(parser.Parse(input, nullptr).event, MessageParser::Event::kHeadComplete);
  EXPECT_EQ(parser.ignored_lines(), 3u);
  EXPECT_EQ(parser.first_ignored_line(), "X_Forwarded_For: 6.6.6.6");
  MessageHead spare;
  parser.SwapHead(&spare);
  ASSERT_EQ(parser.Parse("", nullptr).event, MessageParser::Event::kMessageComplete);
  ASSERT_EQ(parser.Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", nullptr).event,
            MessageParser::Event::kHeadComplete);
  EXPECT_EQ(parser.ignored_lines(), 0u);

  // Responses keep every line (nginx reads upstream names with underscores allowed).
  t = RunAllSplits(MessageKind::kResponse,
                   "HTTP/1.1 200 OK\r\nX_Up: 1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(t.messages[0].head.headers.size(), 2u);
}

// RFC 9110 section 5.5: OWS (SP and HTAB) around a field value is not part of it. Spaces and
// tabs alike, at both ends, in requests and responses, however the bytes arrive; inside the
// value they are kept. nginx 1.22 strips spaces only, and keeps a tab at either end.
TEST(RequestParserTest, SpacesAndTabsAroundValuesAreNotPartOfThem) {
  const std::vector<std::pair<std::string, std::string>> want = {
      {"Host", "a"}, {"A", "x"}, {"B", "x"}, {"C", "x"}, {"D", "x \t y"}, {"E", ""}, {"F", "x"}};
  const std::string lines =
      "A: x\t\r\nB:\tx\r\nC: \t x \t \r\nD: x \t y\t\r\nE: \t\r\nF:x  \r\n\r\n";
  for (const auto& [kind, head] :
       {std::pair{MessageKind::kRequest, "GET / HTTP/1.1\r\nHost: a\r\n" + lines},
        std::pair{MessageKind::kResponse, "HTTP/1.1 204 No Content\r\nHost: a\r\n" + lines}}) {
    SCOPED_TRACE(head);
    for (size_t split = 0; split < head.size(); ++split) {
      Transcript t = Feed(kind, head, split);
      ASSERT_EQ(t.messages.size(), 1u) << split << ": " << t.error;
      EXPECT_EQ(Pairs(t.messages[0].head.headers), want) << "split " << split;
    }
  }
}

TEST(RequestParserTest, ContentLengthBody) {
  Transcript t = RunAllSplits(MessageKind::kRequest,
                              "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world");
  ASSERT_EQ(t.error_status, 0) << t.error;
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0].head.content_length, 11u);
  EXPECT_EQ(t.messages[0].body, "hello world");
  EXPECT_TRUE(t.messages[0].complete);
}

TEST(RequestParserTest, ChunkedBodyIsDechunkedAndTrailersDropped) {
  Transcript t = RunAllSplits(MessageKind::kRequest,
                              "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
  ASSERT_EQ(t.error_status, 0) << t.error;
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_TRUE(t.messages[0].head.chunked);
  EXPECT_EQ(t.messages[0].body, "hello world");
  EXPECT_EQ(t.messages[0].head.headers.size(), 2u);
}

TEST(RequestParserTest, PipelinedRequestsComeOneAtATime) {
  Transcript t = RunAllSplits(MessageKind::kRequest,
                              "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                              "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok"
                              "GET /3 HTTP/1.0\r\n\r\n");
  ASSERT_EQ(t.error_status, 0) << t.error;
  ASSERT_EQ(t.messages.size(), 3u);
  EXPECT_EQ(t.messages[0].head.target, "/1");
  EXPECT_EQ(t.messages[1].head.target, "/2");
  EXPECT_EQ(t.messages[1].body, "ok");
  EXPECT_EQ(t.messages[2].head.target, "/3");
  EXPECT_EQ(t.messages[2].head.version_minor, 0);
  EXPECT_FALSE(t.messages[2].head.keep_alive);
}

// The engine swaps each completed head out (SwapHead) and hands the parser back an old one to
// reuse: the next message must not see anything of the old head.
TEST(RequestParserTest, SwappedHeadsAreResetForTheNextMessage) {
  MessageParser parser(MessageKind::kRequest, ParseLimits{});
  MessageHead taken;
  std::string input =
      "POST /first HTTP/1.1\r\nHost: a\r\nX-One: 1\r\nX-Two: 2\r\nContent-Length: 0\r\n\r\n"
      "GET /second HTTP/1.0\r\nHost: b\r\n\r\n";
  std::string_view rest = input;
  MessageParser::Result r = parser.Parse(rest, nullptr);
  ASSERT_EQ(r.event, MessageParser::Event::kHeadComplete);
  rest.remove_prefix(r.consumed);
  parser.SwapHead(&taken);
  EXPECT_EQ(taken.target, "/first");
  EXPECT_EQ(taken.headers.size(), 4u);
  r = parser.Parse(rest, nullptr);
  ASSERT_EQ(r.event, MessageParser::Event::kMessageComplete);
  rest.remove_prefix(r.consumed);
  r = parser.Parse(rest, nullptr);
  ASSERT_EQ(r.event, MessageParser::Event::kHeadComplete);
  parser.SwapHead(&taken);  // the parser gets /first's memory back for a later message
  EXPECT_EQ(taken.method, "GET");
  EXPECT_EQ(taken.target, "/second");
  EXPECT_EQ(taken.version_minor, 0);
  EXPECT_FALSE(taken.content_length.has_value());
  ASSERT_EQ(taken.headers.size(), 1u);
  EXPECT_EQ(taken.headers.Find("x-one"), nullptr);
  EXPECT_EQ(taken.headers.Find("host")->value, "b");
}

// A reused response parser (a new upstream attempt) starts clean, even after an error.
TEST(ResponseParserTest, ResetAfterAnErrorParsesAFreshResponse) {
  MessageParser parser(MessageKind::kResponse, ParseLimits{});
  MessageParser::Result r = parser.Parse("HTTP/1.1 200 OK\r\nbad header\r\n\r\n", nullptr);
  ASSERT_EQ(r.event, MessageParser::Event::kError);
  parser.Reset();
  EXPECT_FALSE(parser.message_started());
  r = parser.Parse("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n", nullptr);
  ASSERT_EQ(r.event, MessageParser::Event::kHeadComplete);
  EXPECT_EQ(parser.head().status, 204);
  EXPECT_EQ(parser.head().reason, "No Content");
  EXPECT_EQ(parser.head().headers.size(), 1u);
}

TEST(RequestParserTest, KeepAliveAndUpgradeFlags) {
  Transcript close = Feed(MessageKind::kRequest,
                         "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0);
  ASSERT_EQ(close.messages.size(), 1u);
  EXPECT_FALSE(close.messages[0].head.keep_alive);
  Transcript ka10 = Feed(MessageKind::kRequest,
                        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0);
  ASSERT_EQ(ka10.messages.size(), 1u);
  EXPECT_TRUE(ka10.messages[0].head.keep_alive);
  Transcript up = Feed(MessageKind::kRequest,
                      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\n\r\n", 0);
  ASSERT_EQ(up.messages.size(), 1u);
  EXPECT_TRUE(up.messages[0].head.upgrade);
}

struct RejectCase {
  const char* name;
  const char* input;
  int status;
};

class RequestRejectTest : public ::testing::TestWithParam<RejectCase> {};

TEST_P(RequestRejectTest, RejectedWithStatusAtEverySplit) {
  ParseLimits limits;
  limits.max_target_bytes = 64;
  limits.max_header_line_bytes = 64;
  limits.max_head_bytes = 256;
  limits.max_headers = 5;
  Transcript t = RunAllSplits(MessageKind::kRequest, GetParam().input, limits);
  EXPECT_EQ(t.error_status, GetParam().status) << t.error;
  for (const Message& m : t.messages) {
    // No message with ambiguous framing may be reported complete.
    EXPECT_FALSE(m.complete && m.head.target == "/smuggled") << m.head.target;
  }
}

const RejectCase kRejectCases[] = {
    {"ContentLengthAndTransferEncoding",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n",
     400},
    {"TransferEncodingThenContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
     "0\r\n\r\n",
     400},
    {"DifferingContentLengths",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
    {"RepeatedEqualContentLengths",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", 400},
    {"ContentLengthList", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\na", 400},
    {"ContentLengthSign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\na", 400},
    // RFC 9112 section 6.1, as nginx: a coding other than plain "chunked" is not implemented.
    {"TransferEncodingNotChunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
     501},
    // nginx judges a coding other than "chunked" before the Content-Length beside it: 501
    // (ngx_http_process_request_header); "chunked" with a length, a repeated or invalid
    // length, HTTP/1.0 and a missing Host stay 400.
    {"CodingThenContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nab", 501},
    {"ContentLengthThenCoding",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nTransfer-Encoding: gzip\r\n\r\nab", 501},
    {"CodingBeforeChunkedWithContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 2\r\n"
     "\r\n0\r\n\r\n",
     501},
    {"IdentityWithContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nTransfer-Encoding: identity\r\n\r\nab",
     501},
    {"UpperCaseChunkedWithContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\nContent-Length: 2\r\n\r\n"
     "0\r\n\r\n",
     400},
    {"CodingWithRepeatedContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n"
     "Content-Length: 2\r\n\r\nab",
     400},
    {"RepeatedContentLengthThenCoding",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n"
     "Transfer-Encoding: gzip\r\n\r\nab",
     400},
    {"CodingWithInvalidContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nContent-Length: x\r\n\r\nab", 400},
    {"CodingWithContentLengthInHttp10",
     "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nab", 400},
    {"CodingWithContentLengthWithoutHost",
     "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nab", 400},
    // nginx's ngx_http_validate_host and request-line host rules: 400, before the framing.
    {"HostWithSlash", "GET / HTTP/1.1\r\nHost: a/b\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
    {"HostWithTwoDots", "GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", 400},
    {"HostEmpty", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400},
    {"HostOnlyADot", "GET / HTTP/1.1\r\nHost: .\r\n\r\n", 400},
    {"HostOnlyAPort", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400},
    {"HostWithSpace", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
    {"TargetHostWithTwoDots", "GET http://a..b/x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"TargetHostWithUnderscore", "GET http://a_b/x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"TargetHostWithPercent", "GET http://a%2fb/x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"TargetHostWithUserinfo", "GET http://u@a/x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"TargetHostEmpty", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"TargetHostBadPort", "GET http://a:8x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"TargetHostUnclosedLiteral", "GET http://[::1/x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"TransferEncodingIdentity",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 501},
    {"TransferEncodingChunkedNotFinal",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501},
    {"TransferEncodingCodingBeforeChunked",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
    {"TransferEncodingEmpty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 501},
    {"TransferEncodingUpperCaseName",
     "POST / HTTP/1.1\r\nHost: a\r\nTRANSFER-ENCODING: gzip\r\n\r\n", 501},
    {"TransferEncodingChunkedThenEmpty",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding:\r\n\r\n"
     "0\r\n\r\n",
     400},
    {"TransferEncodingCodingWithoutHost", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
     400},
    {"TransferEncodingCodingInHttp10", "POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
    {"TransferEncodingTwice",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
     "\r\n\r\n0\r\n\r\n",
     400},
    {"TransferEncodingInHttp10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400},
    {"InvalidChunkSize", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
     400},
    {"ChunkSizeWithSpace",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\na\r\n0\r\n\r\n", 400},
    {"ChunkSizeOverflow",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     "10000000000000000\r\n",
     400},
    {"ChunkWithBareLf",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n", 400},
    {"WhitespaceBeforeColon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
    {"TabBeforeColon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},
    {"ObsFold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400},
    {"ObsFoldWithTab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 400},
    {"ObsFoldAfterEmptyValue", "GET / HTTP/1.1\r\nHost: a\r\nX-A:\r\n c\r\n\r\n", 400},
    {"BareLfLineEndings", "GET / HTTP/1.1\nHost: a\n\n", 400},
    {"BareLfInHeaderLine", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400},
    {"BareCrInHeaderValue", "GET / HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n", 400},
    {"ControlCharInHeaderValue",
     "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01"
     "b\r\n\r\n",
     400},
    {"SpaceInTarget", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"MissingHost", "GET / HTTP/1.1\r\n\r\n", 400},
    {"RepeatedHost", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
    {"UnknownMethod", "FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"ConnectMethod", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405},
    {"Http2Version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"Http9Version", "GET / HTTP/9.1\r\nHost: a\r\n\r\n", 505},
    {"TwoDigitMajorVersion", "GET / HTTP/10.0\r\nHost: a\r\n\r\n", 505},
    {"Http09Version", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 400},
    {"TwoDigitMinorVersion", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
    {"Http2Preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
    {"TrailingSpaceAfterVersion", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
    {"TargetTooLong",
     "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n"
     "Host: a\r\n\r\n",
     414},
    {"HeaderLineTooLong",
     "GET / HTTP/1.1\r\nHost: a\r\n"
     "X: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
     kRequestHeaderTooLarge},
    {"TooManyHeaders", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
     kRequestHeaderTooLarge},
    {"HeadTooLarge",
     "GET / HTTP/1.1\r\nHost: a\r\n"
     "A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
     "B: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
     "C: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
     "D: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
     kRequestHeaderTooLarge},
};

INSTANTIATE_TEST_SUITE_P(Smuggling, RequestRejectTest, ::testing::ValuesIn(kRejectCases),
                         [](const auto& info) { return std::string(info.param.name); });

// A request rejected after its request line keeps the parsed line and the header lines
// before the stop, however the bytes are split (nginx logs them; RunAllSplits compares).
TEST(RequestParserTest, RejectedHeadKeepsTheParsedRequestLine) {
  struct Case {
    const char* input;
    int status;
    const char* method;
    const char* target;
    std::vector<std::string> headers;
  };
  const Case cases[] = {
      {"GET /a?x=1 HTTP/1.1\r\n\r\n", 400, "GET", "/a?x=1", {}},
      {"GET /b HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n", 400, "GET", "/b", {"Host"}},
      {"GET /b HTTP/1.1\r\nBad Header\r\nHost: h\r\n\r\n", 400, "GET", "/b", {}},
      {"GET /c HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "GET", "/c", {"Host", "Host"}},
      {"POST /d HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       400,
       "POST",
       "/d",
       {"Host", "Content-Length"}},
      {"POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
       501,
       "POST",
       "/e",
       {"Host", "Transfer-Encoding"}},
      {"\r\nGET /h HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", 400, "GET", "/h", {"Host"}},
      {"DELETE /i HTTP/1.0\r\nX: 1\r\n a\r\n\r\n", 400, "DELETE", "/i", {"X"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    Transcript t = RunAllSplits(MessageKind::kRequest, c.input);
    EXPECT_EQ(t.error_status, c.status) << t.error;
    EXPECT_TRUE(t.stop.line_complete);
    EXPECT_EQ(t.stop.raw_line, "");
    EXPECT_EQ(t.stop.method, c.method);
    EXPECT_EQ(t.stop.target, c.target);
    EXPECT_EQ(t.stop.version_major, 1);
    EXPECT_EQ(t.stop.header_names, c.headers);
  }
}

// A request rejected in its request line keeps the line as received, up to CR or LF: the
// whole line when it arrived in one piece (nginx's $request), at least up to the bad byte
// however it was split (RunAllSplits checks).
TEST(RequestParserTest, RejectedRequestLineIsKeptRaw) {
  ParseLimits limits;
  limits.max_target_bytes = 24;
  struct Case {
    const char* input;
    int status;
    const char* line;
    bool protocol_reached;
  };
  const Case cases[] = {
      {"G@T /g HTTP/1.1\r\nHost: a\r\n\r\n", 400, "G@T /g HTTP/1.1", false},
      {"get /g HTTP/1.1\r\nHost: a\r\n\r\n", 400, "get /g HTTP/1.1", false},
      {"\r\n\r\nGET /g HTTX/1.1\r\nHost: a\r\n\r\n", 400, "GET /g HTTX/1.1", true},
      {"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "GET /a b HTTP/1.1", false},
      {"GET /f HTTP/9.1\r\nHost: a\r\n\r\n", 505, "GET /f HTTP/9.1", true},
      {"GET /f HTTP/2.0\r\nHost: a\r\n\r\n", 505, "GET /f HTTP/2.0", true},
      {"GET /f HTTP/10.0\r\nHost: a\r\n\r\n", 505, "GET /f HTTP/10.0", true},
      {"GET /f HTTP/0.9\r\nHost: a\r\n\r\n", 400, "GET /f HTTP/0.9", true},
      {"GET /f HTTP/1.1x\r\n\r\n", 400, "GET /f HTTP/1.1x", true},
      // A bad target that llhttp refuses at the LF ending it (found by the fuzz target): the
      // line did not end well, at any split.
      {"POST HTTh:\nTr\nTr", 400, "POST HTTh:", false},
      // A version refused in the line wins over a fault found later in the head, at any split.
      {"GET / HTTP/0.1\r\nHost: a\r\nX: b\r\n cT\r\n\r\n", 400, "GET / HTTP/0.1", true},
      {"GET / HTTP/2.0\r\nHost: a\r\nX: b\r\n cT\r\n\r\n", 505, "GET / HTTP/2.0", true},
      {"GET / HTTP/3.0\r\nHost: a\r\nBad Header\r\n\r\n", 505, "GET / HTTP/3.0", true},
      // The version is judged where llhttp refused it, not at a later "HTTP/" in the line.
      {"POST /e HTTP/18 x HTTP/1\r\n\r\n", 505, "POST /e HTTP/18 x HTTP/1", true},
      {"GET /e HTTP/08 x HTTP/22\r\n\r\n", 400, "GET /e HTTP/08 x HTTP/22", true},
      // 414: nginx logs the one buffer the line did not fit in.
      {"GET /0123456789abcdefghijklmnopqrstuvwxyz HTTP/1.1\r\nHost: a\r\n\r\n", 414,
       "GET /0123456789abcdefghi", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    Transcript t = RunAllSplits(MessageKind::kRequest, c.input, limits);
    EXPECT_EQ(t.error_status, c.status) << t.error;
    EXPECT_FALSE(t.stop.line_complete);
    EXPECT_EQ(t.stop.raw_line, c.line);
    EXPECT_EQ(t.stop.protocol_reached, c.protocol_reached);
    EXPECT_EQ(t.stop.method, "");
  }
}

// A head the caller stops waiting for (client_header_timeout): the parsed line once its LF
// came, else the bytes of the line so far; the same at every split of what arrived.
TEST(RequestParserTest, UnfinishedHeadIsReportedTheSameAtEverySplit) {
  struct Case {
    std::string input;
    bool line_complete;
    const char* raw_line;
  };
  const Case cases[] = {
      {"GET /j HTT", false, "GET /j HTT"},
      {"\r\nGET /j?q HTTP/1.1", false, "GET /j?q HTTP/1.1"},
      {"GET /j?q HTTP/1.1\r", false, "GET /j?q HTTP/1.1"},
      {"GET /j?q HTTP/1.1\r\n", true, ""},
      {"GET /j?q HTTP/1.1\r\nHost: a\r\nX-Y", true, ""},
  };
  for (const Case& c : cases) {
    for (size_t split = 0; split <= c.input.size(); ++split) {
      SCOPED_TRACE(c.input + " split at " + std::to_string(split));
      MessageParser parser(MessageKind::kRequest, ParseLimits{});
      std::string pending;
      auto feed = [&](std::string_view piece) {
        pending.append(piece);
        MessageParser::Result r = parser.Parse(pending, nullptr);
        ASSERT_EQ(r.event, MessageParser::Event::kNeedMore);
        pending.erase(0, r.consumed);
      };
      feed(std::string_view(c.input).substr(0, split));
      feed(std::string_view(c.input).substr(split));
      Stop stop = CopyStopped(parser);
      EXPECT_EQ(stop.line_complete, c.line_complete);
      EXPECT_EQ(stop.raw_line, c.raw_line);
      if (c.line_complete) {
        EXPECT_EQ(stop.method, "GET");
        EXPECT_EQ(stop.target, "/j?q");
        EXPECT_EQ(stop.version_minor, 1);
      }
    }
  }
}

// RFC 9112 section 2.3, as nginx: any HTTP/1 minor version is served.
TEST(RequestParserTest, AnyHttp1MinorVersionIsAccepted) {
  Transcript t = RunAllSplits(MessageKind::kRequest, "GET /f HTTP/1.2\r\nHost: a\r\n\r\n");
  EXPECT_EQ(t.error_status, 0) << t.error;
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0].head.version_major, 1);
  EXPECT_EQ(t.messages[0].head.version_minor, 2);
  EXPECT_TRUE(t.messages[0].head.keep_alive);
}

TEST(RequestParserTest, HostsNginxAcceptsAreAccepted) {
  // Checked against nginx 1.22: each of these is served (200), not refused.
  for (std::string_view host : {"a.", "[::1]:80", "a\\b", "a:b:c", "A.EXAMPLE", "_x", "a%2fb",
                                "[::1", "a]b", "-", "a?b", "a#b", "a@b", "a.b.:8"}) {
    Transcript t = RunAllSplits(MessageKind::kRequest,
                                "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n");
    EXPECT_EQ(t.error_status, 0) << host << ": " << t.error;
  }
  for (std::string_view target : {"http://A.B./x", "http://[::1]:8/x", "http://a:80/x",
                                  "http://a?x", "http://a", "https://a-b.c:/x"}) {
    Transcript t = RunAllSplits(MessageKind::kRequest,
                                "GET " + std::string(target) + " HTTP/1.1\r\nHost: z\r\n\r\n");
    EXPECT_EQ(t.error_status, 0) << target << ": " << t.error;
  }
}

TEST(RequestParserTest, NulByteRejected) {
  constexpr char kRaw[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
  std::string input(kRaw, sizeof(kRaw) - 1);
  Transcript t = RunAllSplits(MessageKind::kRequest, input);
  EXPECT_EQ(t.error_status, 400);
}

TEST(RequestParserTest, RequestAfterRejectedOneIsNeverSeen) {
  Transcript t = RunAllSplits(MessageKind::kRequest,
                              "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                              "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(t.error_status, 400);
  EXPECT_TRUE(t.messages.empty());
}

TEST(ResponseParserTest, ContentLengthChunkedAndInterim) {
  Transcript t = RunAllSplits(MessageKind::kResponse,
                              "HTTP/1.1 100 Continue\r\n\r\n"
                              "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
                              "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "2\r\nxy\r\n0\r\n\r\n"
                              "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"
                              "HTTP/1.1 304 Not Modified\r\n\r\n");
  ASSERT_EQ(t.error_status, 0) << t.error;
  ASSERT_EQ(t.messages.size(), 5u);
  EXPECT_EQ(t.messages[0].head.status, 100);
  EXPECT_EQ(t.messages[1].head.status, 200);
  EXPECT_EQ(t.messages[1].head.reason, "OK");
  EXPECT_EQ(t.messages[1].body, "abc");
  EXPECT_EQ(t.messages[2].head.status, 201);
  EXPECT_TRUE(t.messages[2].head.chunked);
  EXPECT_EQ(t.messages[2].body, "xy");
  EXPECT_EQ(t.messages[3].head.status, 204);
  EXPECT_EQ(t.messages[3].body, "");
  EXPECT_EQ(t.messages[4].head.status, 304);
  for (const Message& m : t.messages) EXPECT_TRUE(m.complete);
}

TEST(ResponseParserTest, ResponseToHeadHasNoBody) {
  Transcript t = RunAllSplits(MessageKind::kResponse,
                              "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", {}, false, true);
  ASSERT_EQ(t.error_status, 0) << t.error;
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_TRUE(t.messages[0].complete);
  EXPECT_EQ(t.messages[0].head.content_length, 100u);
}

TEST(ResponseParserTest, CloseDelimitedBodyEndsAtFinish) {
  Transcript t = RunAllSplits(MessageKind::kResponse, "HTTP/1.1 200 OK\r\n\r\nuntil close", {},
                              true);
  ASSERT_EQ(t.error_status, 0) << t.error;
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_TRUE(t.messages[0].head.body_until_close);
  EXPECT_EQ(t.messages[0].body, "until close");
  EXPECT_TRUE(t.messages[0].complete);
}

TEST(ResponseParserTest, TruncatedBodyIsAnError) {
  Transcript t = Feed(MessageKind::kResponse, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                     0, {}, true);
  EXPECT_EQ(t.error_status, 502);
}

TEST(ResponseParserTest, SwitchingProtocols) {
  Transcript t = Feed(MessageKind::kResponse,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\n\r\n",
                     0);
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0].head.status, 101);
  EXPECT_TRUE(t.messages[0].head.upgrade);
}

TEST(ResponseParserTest, MalformedResponsesAre502) {
  for (const char* input : {"HTTP/1.1 2000 OK\r\n\r\n", "HTTX/1.1 200 OK\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"}) {
    Transcript t = RunAllSplits(MessageKind::kResponse, input);
    EXPECT_EQ(t.error_status, 502) << input;
  }
}

}  // namespace
}  // namespace realip::http
