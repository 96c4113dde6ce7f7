// The header rewriting of a reverse proxy: the request head sent upstream and the response
// head sent back, from the parsed heads and the location's settings. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "proxy/config/config.h"
#include "proxy/http/parser.h"
#include "proxy/server/request_context.h"

namespace realip::server {

// The request-target sent upstream. Without a URI part in proxy_pass the original target goes
// unchanged; with one, the matched location prefix of the normalized path `uri` ($uri; empty:
// the raw path) is replaced by it and the rest escaped (nginx's rule), and the query string
// is kept. Returned without a copy when the target goes unchanged; otherwise built in *storage.
std::string_view UpstreamTargetView(const http::MessageHead& request,
                                    const config::Location& location, std::string* storage,
                                    std::string_view uri = {});

// How the upstream request is framed and what the connection carries.
struct UpstreamRequestOptions {
  bool keep_alive = false;  // the upstream connection goes back to a pool afterwards
  bool upgrade = false;     // pass Upgrade and "Connection: upgrade" (tunnel request)
  bool peer_trusted = false;  // the client connection's sender is in set_real_ip_from
  int version_minor = 1;      // proxy_http_version: 0 sends HTTP/1.0 (never kept alive)
  // The client's body goes upstream (its Content-Length or Transfer-Encoding is sent); false
  // after an error_page redirect, whose request is sent without the body the proxy discards.
  bool send_body = true;
};

// The upstream request head: proxy_set_header values first (empty ones dropped), then the
// client's headers minus hop-by-hop ones, framing headers, Expect, the ones a proxy_set_header
// replaces, and X-Real-IP / Forwarded from an untrusted sender; then framing and Connection.
// Appended to *out (reused memory: no allocation per request once it has grown).
void AppendUpstreamHead(const RequestContext& ctx, const UpstreamRequestOptions& options,
                        std::string* out);

// How a response body is written to the client.
enum class ClientFraming {
  kNone,           // no body (HEAD, 1xx, 204, 304)
  kContentLength,  // as the upstream sent it
  kChunked,        // re-chunked: the upstream used chunked or close-delimited, client is 1.1
  kClose,          // delimited by closing the connection (HTTP/1.0 client)
};

// Chooses the framing towards the client for an upstream response.
ClientFraming ChooseClientFraming(const http::MessageHead& response, bool head_request,
                                  int client_version_minor);

// The fields the proxy writes at the top of every response head, as nginx's header filter.
struct OwnFields {
  std::string_view server;  // the Server value server_tokens chose
  std::string_view date;    // now, as an IMF-fixdate (http::HttpDateCache)
  // Not 0: the status line's code instead of the upstream's (an error_page's response status,
  // nginx's r->err_status), with its standard reason phrase.
  int status = 0;
};

// The response head for the client: the upstream status line; our Server and Date, each left
// out while proxy_pass_header passes the upstream's (nginx then sends the upstream's, or none);
// the upstream headers minus hop-by-hop, framing and hidden names (settings.hidden_headers),
// Location and Refresh rewritten by proxy_redirect (for `ctx`'s request); then our framing and
// Connection header. A tunnel (101) keeps Upgrade and sends "Connection: upgrade". Appended to
// *out.
void AppendClientResponseHead(const http::MessageHead& response,
                              const config::HttpSettings& settings, const RequestContext& ctx,
                              const OwnFields& own, ClientFraming framing, bool keep_alive,
                              bool tunnel, std::string* out);

}  // namespace realip::server
