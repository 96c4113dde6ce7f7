#include "proxy/http/serializer.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/http/status_codes.h"

namespace realip::http {
namespace {

TEST(SerializerTest, RequestHead) {
  std::vector<HeaderView> headers = {{"Host", "a"}, {"X-Real-IP", "192.0.2.1"}};
  EXPECT_EQ(SerializeRequestHead("GET", "/x?y", headers),
            "GET /x?y HTTP/1.1\r\nHost: a\r\nX-Real-IP: 192.0.2.1\r\n\r\n");
  EXPECT_EQ(SerializeRequestHead("GET", "/", {}), "GET / HTTP/1.1\r\n\r\n");
}

TEST(SerializerTest, EveryNameAndValueLengthIsCopiedWhole) {
  // Short strings are copied as two overlapping words: each length from 0 to 40 on both sides.
  const std::string letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (size_t n = 0; n <= 40; ++n) {
    const std::string name = letters.substr(0, n);
    const std::string value = letters.substr(letters.size() - n);
    std::vector<HeaderView> headers = {{name, value}, {value, name}, {"K", "v"}};
    std::string want = "GET / HTTP/1.1\r\n";
    for (const HeaderView& h : headers) {
      want.append(h.name).append(": ").append(h.value).append("\r\n");
    }
    want.append("\r\n");
    EXPECT_EQ(SerializeRequestHead("GET", "/", headers), want) << n;
  }
}

TEST(SerializerTest, ResponseHeadUsesStandardReasonWhenEmpty) {
  std::vector<HeaderView> headers = {{"Content-Length", "0"}};
  EXPECT_EQ(SerializeResponseHead(404, "", headers),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(SerializeResponseHead(200, "Fine", {}), "HTTP/1.1 200 Fine\r\n\r\n");
}

TEST(SerializerTest, Chunks) {
  std::string out;
  AppendChunk(&out, "hello");
  AppendChunk(&out, "");
  AppendChunk(&out, std::string(26, 'x'));
  out.append(kLastChunk);
  EXPECT_EQ(out, "5\r\nhello\r\n1a\r\n" + std::string(26, 'x') + "\r\n0\r\n\r\n");
}

TEST(StatusCodesTest, ErrorResponsesCloseAndCarrySmallBody) {
  for (int status : {400, 408, 413, 414, 431, 502, 504}) {
    std::string r = ErrorResponse(status);
    std::string status_line = "HTTP/1.1 " + std::to_string(status) + " " +
                              std::string(ReasonPhrase(status)) + "\r\n";
    EXPECT_EQ(r.rfind(status_line, 0), 0u) << r;
    EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos) << r;
    size_t body = r.find("\r\n\r\n") + 4;
    EXPECT_NE(r.find("Content-Length: " + std::to_string(r.size() - body) + "\r\n"),
              std::string::npos)
        << r;
    EXPECT_LT(r.size() - body, 512u);
  }
}

TEST(StatusCodesTest, LocalResponseTextRedirectAndHead) {
  LocalResponse text;
  text.status = 200;
  text.text = "192.0.2.1\n";
  text.use_text = true;
  text.keep_alive = true;
  EXPECT_EQ(BuildLocalResponse(text),
            "HTTP/1.1 200 OK\r\nServer: realip-proxy\r\nContent-Type: text/plain\r\n"
            "Content-Length: 10\r\nConnection: keep-alive\r\n\r\n192.0.2.1\n");
  text.head_only = true;
  EXPECT_EQ(BuildLocalResponse(text),
            "HTTP/1.1 200 OK\r\nServer: realip-proxy\r\nContent-Type: text/plain\r\n"
            "Content-Length: 10\r\nConnection: keep-alive\r\n\r\n");
  LocalResponse redirect;
  redirect.status = 302;
  redirect.text = "http://example.test/";
  redirect.use_text = true;
  std::string r = BuildLocalResponse(redirect);
  EXPECT_NE(r.find("\r\nLocation: http://example.test/\r\n"), std::string::npos) << r;
  // nginx's header filter: a `/path` it made absolute before Connection, any other Location
  // (an absolute URL, an empty one from `return 302;`) after it.
  redirect.keep_alive = true;
  const auto head_of = [](const LocalResponse& response) {
    const std::string all = BuildLocalResponse(response);
    return all.substr(0, all.find("\r\n\r\n"));
  };
  const std::string page_head =
      "HTTP/1.1 302 Found\r\nServer: realip-proxy\r\nContent-Type: text/html\r\n"
      "Content-Length: 145\r\n";
  EXPECT_EQ(head_of(redirect),
            page_head + "Connection: keep-alive\r\nLocation: http://example.test/");
  redirect.location_made_absolute = true;
  EXPECT_EQ(head_of(redirect),
            page_head + "Location: http://example.test/\r\nConnection: keep-alive");
  redirect.location_made_absolute = false;
  redirect.text = "";
  EXPECT_EQ(head_of(redirect), page_head + "Connection: keep-alive\r\nLocation: ");
  // No Location without use_text (an error page for a redirect status).
  redirect.use_text = false;
  EXPECT_EQ(BuildLocalResponse(redirect).find("Location"), std::string::npos);
  LocalResponse no_content;
  no_content.status = 204;
  EXPECT_EQ(BuildLocalResponse(no_content),
            "HTTP/1.1 204 No Content\r\nServer: realip-proxy\r\nConnection: close\r\n\r\n");
  // 1xx, 204 and 304 never carry a body, a Content-Type or a Content-Length, text or not.
  for (int status : {100, 101, 103, 199, 204, 304}) {
    LocalResponse bodiless;
    bodiless.status = status;
    bodiless.text = "hi";
    bodiless.use_text = true;
    const std::string got = BuildLocalResponse(bodiless);
    EXPECT_EQ(got.substr(got.find("\r\n") + 2), "Server: realip-proxy\r\nConnection: close\r\n\r\n")
        << status;
  }
}

TEST(StatusCodesTest, DateFollowsServerAsNginxWritesThem) {
  LocalResponse text;
  text.status = 200;
  text.text = "x\n";
  text.use_text = true;
  text.keep_alive = true;
  text.server = "realip-proxy/1";
  text.date = "Sun, 06 Nov 1994 08:49:37 GMT";
  EXPECT_EQ(BuildLocalResponse(text),
            "HTTP/1.1 200 OK\r\nServer: realip-proxy/1\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nx\n");
  std::string error = ErrorResponse(502, "realip-proxy", "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(error.rfind("HTTP/1.1 502 Bad Gateway\r\nServer: realip-proxy\r\n"
                        "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: text/html\r\n",
                        0),
            0u)
      << error;
}

}  // namespace
}  // namespace realip::http
