// realip-echo: an HTTP backend that answers every request with a JSON description of it:
// method, URI, the TCP peer it saw, and every request header in arrival order. It is the
// demo backend behind the proxy and the backend of the integration tests.
//
//   realip-echo [-l ADDRESS] [-p PORT] [-n NAME]
//
// Prints "realip-echo listening on ADDRESS:PORT" once bound (port 0 picks a free one) and
// exits 0 on SIGTERM or SIGINT.
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace {

// JSON string escaping per RFC 8259 section 7.
void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

const char* MethodName(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
  }
  return "UNKNOWN";
}

struct EchoServer {
  std::string name;
};

void HandleRequest(evhttp_request* req, void* arg) {
  auto* server = static_cast<EchoServer*>(arg);
  evhttp_connection* conn = evhttp_request_get_connection(req);
  char* peer_host = nullptr;
  ev_uint16_t peer_port = 0;
  evhttp_connection_get_peer(conn, &peer_host, &peer_port);

  std::string body = "{";
  if (!server->name.empty()) {
    body.append("\"server\": ");
    AppendJsonString(&body, server->name);
    body.append(", ");
  }
  body.append("\"method\": ");
  AppendJsonString(&body, MethodName(evhttp_request_get_command(req)));
  body.append(", \"uri\": ");
  AppendJsonString(&body, evhttp_request_get_uri(req));
  body.append(", \"peer\": ");
  AppendJsonString(&body, peer_host != nullptr ? peer_host : "");
  absl::StrAppend(&body, ", \"peer_port\": ", peer_port);
  absl::StrAppend(&body, ", \"body_bytes\": ",
                  evbuffer_get_length(evhttp_request_get_input_buffer(req)));
  // Headers as an array of [name, value] pairs: duplicates and order are what a test checks.
  body.append(", \"header_list\": [");
  evkeyvalq* headers = evhttp_request_get_input_headers(req);
  bool first = true;
  for (evkeyval* kv = headers->tqh_first; kv != nullptr; kv = kv->next.tqe_next) {
    if (!first) body.append(", ");
    first = false;
    body.push_back('[');
    AppendJsonString(&body, kv->key);
    body.append(", ");
    AppendJsonString(&body, kv->value);
    body.push_back(']');
  }
  // And as an object keyed by lowercase name (last value wins) for people reading it.
  body.append("], \"headers\": {");
  first = true;
  for (evkeyval* kv = headers->tqh_first; kv != nullptr; kv = kv->next.tqe_next) {
    if (!first) body.append(", ");
    first = false;
    std::string lower = kv->key;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    AppendJsonString(&body, lower);
    body.append(": ");
    AppendJsonString(&body, kv->value);
  }
  body.append("}}\n");

  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, body.data(), body.size());
  evhttp_send_reply(req, HTTP_OK, "OK", out);
  evbuffer_free(out);
}

void OnSignal(evutil_socket_t, short, void* arg) {
  event_base_loopexit(static_cast<event_base*>(arg), nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1";
  int port = 8081;
  EchoServer server;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if ((arg == "-l" || arg == "-p" || arg == "-n") && i + 1 < argc) {
      const char* value = argv[++i];
      if (arg == "-l") address = value;
      if (arg == "-p") port = std::atoi(value);
      if (arg == "-n") server.name = value;
    } else {
      std::fprintf(stderr, "usage: realip-echo [-l ADDRESS] [-p PORT] [-n NAME]\n");
      return arg == "-h" ? 0 : 2;
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  event_base* base = event_base_new();
  evhttp* http = evhttp_new(base);
  evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                       EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                       EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
  evhttp_set_gencb(http, HandleRequest, &server);
  evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(http, address.c_str(), port);
  if (bound == nullptr) {
    std::fprintf(stderr, "realip-echo: cannot listen on %s:%d\n", address.c_str(), port);
    evhttp_free(http);
    event_base_free(base);
    return 1;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&ss), &len);
  int bound_port = ss.ss_family == AF_INET6
                       ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                       : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  std::string shown = address.find(':') != std::string::npos ? absl::StrCat("[", address, "]")
                                                              : address;
  std::printf("realip-echo listening on %s:%d\n", shown.c_str(), bound_port);
  std::fflush(stdout);

  event* term = evsignal_new(base, SIGTERM, OnSignal, base);
  event* intr = evsignal_new(base, SIGINT, OnSignal, base);
  event_add(term, nullptr);
  event_add(intr, nullptr);
  event_base_dispatch(base);
  event_free(term);
  event_free(intr);
  evhttp_free(http);
  event_base_free(base);
  return 0;
}
