// Status codes: reason phrases and the proxy's own small responses (errors, `return`).
// The one place that turns an error status into response bytes.
#pragma once

#include <string>
#include <string_view>

namespace realip::http {

// nginx's own code for a request head over the limits (a header line longer than a buffer,
// the head larger than all of them): answered and logged as 400, with its own page title.
inline constexpr int kRequestHeaderTooLarge = 494;
// nginx's 497: a plain HTTP request on a TLS port, answered as 400 (error_page may match it).
inline constexpr int kPlainHttpToHttps = 497;

// The RFC 9110 section 15 reason phrase for `status`, or "Unknown".
std::string_view ReasonPhrase(int status);

// A complete response the proxy generates itself: small HTML body for errors and redirects,
// `text` verbatim as text/plain otherwise; 1xx, 204 and 304 have neither body nor
// Content-Type and Content-Length. Fields in nginx's order: Server, Date, Content-Type,
// Content-Length, Location (when `location_made_absolute`), Connection, Location (otherwise).
// `head_only` omits the body (HEAD requests); `keep_alive` false writes "Connection: close".
struct LocalResponse {
  int status = 500;
  // Not 0: the status line's code instead of `status`, which still chooses the page, the
  // Location and the framing (an error_page's response status, nginx's r->err_status).
  int sent_status = 0;
  std::string_view text;      // body for non-redirects, Location for redirects
  bool use_text = false;      // false: the standard small HTML page for `status` (no Location)
  // The Location is a `/path` made absolute: nginx's header filter writes it before
  // Connection; any other Location stays among the other fields, after Connection.
  bool location_made_absolute = false;
  // A Location set before an error_page took the request over (`return 301 URL`), sent when
  // this response has none of its own (nginx keeps r->headers_out.location); placed as above.
  std::string_view kept_location;
  bool kept_location_absolute = false;
  bool keep_alive = false;
  bool head_only = false;
  std::string_view content_type;  // with use_text: overrides "text/plain"
  std::string_view server = "realip-proxy";  // Server header and page footer (server_tokens)
  std::string_view date;  // Date header (IMF-fixdate, http::HttpDateCache); empty: none
};
std::string BuildLocalResponse(const LocalResponse& response);

// The error page for `status` with "Connection: close" (errors that end the connection).
std::string ErrorResponse(int status, std::string_view server = "realip-proxy",
                          std::string_view date = {});

}  // namespace realip::http
