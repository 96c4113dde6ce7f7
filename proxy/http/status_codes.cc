#include "proxy/http/status_codes.h"

#include <string>
#include <vector>

#include "proxy/base/http_status.h"
#include "proxy/http/serializer.h"

namespace realip::http {

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string BuildLocalResponse(const LocalResponse& response) {
  std::string body;
  std::string title;
  int title_status = response.status;  // the status line's
  bool redirect = base::IsRedirectStatus(response.status);
  if (response.use_text && !redirect) {
    body.assign(response.text);
  } else if (response.status == kRequestHeaderTooLarge) {
    title_status = 400;
    title = "400 Request Header Or Cookie Too Large";
  } else {
    title = std::to_string(response.status);
    title.push_back(' ');
    title.append(ReasonPhrase(response.status));
  }
  if (!title.empty()) {
    body = "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" +
           title + "</h1></center>\r\n<hr><center>" + std::string(response.server) +
           "</center>\r\n</body>\r\n</html>\r\n";
  }
  // 1xx, 204 and 304 never carry a body (RFC 9110 sections 15.2, 15.3.5, 15.4.5).
  bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
  if (bodiless) body.clear();
  std::string length = std::to_string(body.size());
  std::vector<HeaderView> headers;
  headers.push_back({"Server", response.server});
  if (!response.date.empty()) headers.push_back({"Date", response.date});
  if (!bodiless) {
    std::string_view type = "text/html";
    if (response.use_text && !redirect) {
      type = response.content_type.empty() ? std::string_view("text/plain")
                                           : response.content_type;
    }
    headers.push_back({"Content-Type", type});
    headers.push_back({"Content-Length", length});
  }
  const bool own = redirect && response.use_text;
  const bool location = own || !response.kept_location.empty();
  const std::string_view value = own ? response.text : response.kept_location;
  const bool absolute = own ? response.location_made_absolute : response.kept_location_absolute;
  if (location && absolute) headers.push_back({"Location", value});
  headers.push_back({"Connection", response.keep_alive ? "keep-alive" : "close"});
  if (location && !absolute) headers.push_back({"Location", value});
  if (response.sent_status != 0) title_status = response.sent_status;
  std::string out = SerializeResponseHead(title_status, "", headers);
  if (!response.head_only) out.append(body);
  return out;
}

std::string ErrorResponse(int status, std::string_view server, std::string_view date) {
  LocalResponse response;
  response.status = status;
  response.server = server;
  response.date = date;
  return BuildLocalResponse(response);
}

}  // namespace realip::http
