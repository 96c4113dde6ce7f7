// Fuzz target for the Set-Cookie rewriting of proxy_cookie_domain and proxy_cookie_path: any
// value (as the response parser lets through: no CR, LF or NUL) must not crash, must leave
// *out untouched when nothing matched, and when rewritten must keep every part's name in
// order and put no CR, LF or NUL into the line.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/base/check.h"
#include "proxy/config/config.h"
#include "proxy/http/parser.h"
#include "proxy/server/redirect.h"
#include "proxy/server/request_context.h"

namespace {

using realip::server::RequestContext;

// The names of the ';'-separated parts, spaces around them dropped (as the rewriting parses).
std::vector<std::string> PartNames(std::string_view value) {
  std::vector<std::string> names;
  for (;;) {
    const size_t semicolon = value.find(';');
    std::string_view name = value.substr(0, semicolon);
    name = name.substr(0, name.find('='));
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    names.emplace_back(name);
    if (semicolon == std::string_view::npos) return names;
    value.remove_prefix(semicolon + 1);
  }
}

struct Fixture {
  Fixture() {
    auto loaded = realip::config::LoadConfigFromString(
        "events {}\nhttp {\n server {\n  listen 127.0.0.1:8080;\n  location / {\n"
        "   proxy_pass http://127.0.0.1:9001;\n"
        "   proxy_cookie_domain .example.com new.example;\n"
        "   proxy_cookie_domain $host $http_x_to;\n"
        "   proxy_cookie_path /app /v2/app;\n   proxy_cookie_path / /p/;\n  }\n }\n}\n",
        "/fuzz/realip-proxy.conf");
    REALIP_CHECK(loaded.ok());
    config = *loaded;
    realip::http::MessageParser parser(realip::http::MessageKind::kRequest,
                                       realip::http::ParseLimits{});
    const auto r = parser.Parse("GET / HTTP/1.1\r\nHost: h.test\r\nX-To: to.test\r\n\r\n", nullptr);
    REALIP_CHECK(r.event == realip::http::MessageParser::Event::kHeadComplete);
    head = parser.head();
    ctx.server = config->servers.at(0).get();
    ctx.location = &ctx.server->FindLocation("/");
    ctx.head = &head;
  }
  std::shared_ptr<const realip::config::Config> config;
  realip::http::MessageHead head;
  RequestContext ctx;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture* const fixture = new Fixture();
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) return 0;
  const realip::config::HttpSettings& s = fixture->ctx.location->settings;
  std::string out = "x";
  if (!realip::server::RewriteSetCookie(value, s.proxy_cookie_domains, s.proxy_cookie_paths,
                                        fixture->ctx, &out)) {
    REALIP_CHECK(out == "x");
    return 0;
  }
  const std::string_view line = std::string_view(out).substr(1);
  REALIP_CHECK(line.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
  REALIP_CHECK(PartNames(line) == PartNames(value));
  return 0;
}
