// Loading valid configurations: defaults, every directive's stored value, inheritance,
// listeners, and the server/location lookups.
#include "proxy/config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "proxy/base/strings.h"
#include "proxy/config/directive_table.h"
#include "proxy/config/parser.h"
#include "unit/config/must_load.h"

namespace realip::config {
namespace {

using testing_util::kPath;
using testing_util::MustLoad;

std::string Headers(const HttpSettings& s) {
  std::string out;
  for (const HeaderRewrite& h : s.proxy_set_headers) out += h.name + "=" + h.value.source + ";";
  return out;
}

std::string Sources(const HttpSettings& s) {
  std::string out;
  for (const auto& src : s.realip.sources) out += src.name + ";";
  return out;
}

// proxy_redirect rules as "REDIRECT>REPLACEMENT;" each (sources as written).
std::string Redirects(const HttpSettings& s) {
  std::string out;
  for (const ProxyRedirect& r : s.proxy_redirects) {
    out += r.redirect.source + ">" + r.replacement.source + ";";
  }
  return out;
}
std::string Redirects(const Location& l) { return Redirects(l.settings); }

net::IpAddress Ip(const char* text) { return *net::IpAddress::Parse(text); }

TEST(ConfigTest, EmptyConfigHasDefaults) {
  auto c = MustLoad("");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->main.worker_processes, 1);
  EXPECT_FALSE(c->main.daemon);
  EXPECT_EQ(c->main.error_log_path, "stderr");
  EXPECT_EQ(c->main.error_log_level, base::LogLevel::kError);
  EXPECT_EQ(c->main.worker_connections, 512);
  EXPECT_TRUE(c->main.multi_accept);  // nginx: off; see docs/configuration.md
  EXPECT_EQ(c->main.worker_shutdown_timeout, absl::InfiniteDuration());
  EXPECT_EQ(c->main.shutdown_delay, absl::ZeroDuration());
  EXPECT_TRUE(c->servers.empty());
  EXPECT_TRUE(c->listeners.empty());
  EXPECT_EQ(c->log_formats.count("combined"), 1u);
}

TEST(ConfigTest, MainAndEventsDirectives) {
  auto c = MustLoad(
      "worker_processes 3;\ndaemon on;\npid /run/rp.pid;\nerror_log /var/log/rp.log info;\n"
      "worker_rlimit_nofile 65536;\nworker_shutdown_timeout 10s;\nshutdown_delay 5s;\n"
      "events { worker_connections 4096; multi_accept off; use epoll; }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->main.worker_processes, 3);
  EXPECT_TRUE(c->main.daemon);
  EXPECT_EQ(c->main.pid_path, "/run/rp.pid");
  EXPECT_EQ(c->main.error_log_path, "/var/log/rp.log");
  EXPECT_EQ(c->main.error_log_level, base::LogLevel::kInfo);
  EXPECT_EQ(c->main.worker_rlimit_nofile, 65536u);
  EXPECT_EQ(c->main.worker_shutdown_timeout, absl::Seconds(10));
  EXPECT_EQ(c->main.shutdown_delay, absl::Seconds(5));
  EXPECT_EQ(c->main.worker_connections, 4096);
  EXPECT_FALSE(c->main.multi_accept);
}

TEST(ConfigTest, WorkerProcessesAutoIsHardwareThreads) {
  auto c = MustLoad("worker_processes auto;\n");
  ASSERT_NE(c, nullptr);
  const int expected = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  EXPECT_EQ(c->main.worker_processes, expected);
}

TEST(ConfigTest, RelativePathsAreUnderTheConfigFolder) {
  auto c = MustLoad(
      "pid run/rp.pid;\nerror_log logs/error.log;\n"
      "http { access_log logs/access.log; }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->main.pid_path, "/etc/realip-proxy/run/rp.pid");
  EXPECT_EQ(c->main.error_log_path, "/etc/realip-proxy/logs/error.log");
}

TEST(ConfigTest, HttpDefaults) {
  auto c = MustLoad("http { server { listen 127.0.0.1:8001; location / { } } }\n");
  ASSERT_NE(c, nullptr);
  const HttpSettings& s = c->servers[0]->locations[0].settings;
  ASSERT_NE(s.realip.trusted, nullptr);
  EXPECT_TRUE(s.realip.trusted->empty());
  EXPECT_EQ(Sources(s), "X-Real-IP;");
  EXPECT_FALSE(s.realip.recursive);
  EXPECT_EQ(s.keepalive_timeout, absl::Seconds(75));
  EXPECT_EQ(s.keepalive_requests, 1000);
  EXPECT_EQ(s.client_header_timeout, absl::Seconds(60));
  EXPECT_EQ(s.lingering_close, LingeringClose::kOn);
  EXPECT_EQ(s.lingering_time, absl::Seconds(30));
  EXPECT_EQ(s.lingering_timeout, absl::Seconds(5));
  EXPECT_EQ(s.client_max_body_size, 1024u * 1024);
  EXPECT_EQ(s.client_header_buffer_size, 1024u);
  EXPECT_EQ(s.large_client_header_buffers_number, 4);
  EXPECT_EQ(s.large_client_header_buffers_size, 8192u);
  EXPECT_EQ(Headers(s),
            "Host=$http_host;X-Real-IP=$remote_addr;X-Forwarded-For=$realip_x_forwarded_for;"
            "X-Forwarded-Proto=$scheme;");
  EXPECT_EQ(s.proxy_http_version_minor, 1);
  EXPECT_EQ(s.proxy_next_upstream, kNextUpstreamError | kNextUpstreamTimeout);
  EXPECT_EQ(s.proxy_next_upstream_tries, 0);
  EXPECT_FALSE(s.proxy_protocol);
  EXPECT_EQ(s.proxy_protocol_version, 1);
  EXPECT_TRUE(s.server_tokens);
  EXPECT_TRUE(s.absolute_redirect);
  EXPECT_TRUE(s.port_in_redirect);
  EXPECT_FALSE(s.server_name_in_redirect);
  ASSERT_EQ(s.access_logs.size(), 1u);
  EXPECT_EQ(s.access_logs[0].kind, AccessLog::Kind::kStdout);
  EXPECT_EQ(s.access_logs[0].format->name, "combined");
  EXPECT_EQ(s.handler, ContentHandler::kNone);
}

TEST(ConfigTest, EveryHttpDirectiveStoresItsValue) {
  auto c = MustLoad(R"(
http {
  log_format j escape=json '{"a":"$remote_addr",' '"s":$status}';
  server {
    listen 127.0.0.1:8001;
    location / {
      access_log /var/log/a.log j buffer=32k flush=5s;
      access_log stderr;
      set_real_ip_from 10.0.0.0/8;
      set_real_ip_from unix:;
      real_ip_header proxy_protocol X-Forwarded-For;
      real_ip_recursive on;
      keepalive_timeout 10s 10;
      keepalive_requests 7;
      client_body_timeout 3s;
      send_timeout 4s;
      lingering_close always;
      lingering_time 1m;
      lingering_timeout 1500ms;
      client_max_body_size 0;
      proxy_pass http://127.0.0.1:9000/base/;
      proxy_set_header X-Custom "id=$request_id";
      proxy_hide_header X-Powered-By;
      proxy_http_version 1.0;
      proxy_connect_timeout 500ms;
      proxy_read_timeout 1m;
      proxy_send_timeout 2m;
      proxy_next_upstream error timeout http_502 non_idempotent;
      proxy_next_upstream_tries 3;
      proxy_buffering off;
      proxy_protocol on;
      proxy_protocol_version 2;
      server_tokens off;
      absolute_redirect off;
      port_in_redirect off;
      server_name_in_redirect on;
    }
  }
}
)");
  ASSERT_NE(c, nullptr);
  const Location& loc = c->servers[0]->locations[0];
  const HttpSettings& s = loc.settings;
  ASSERT_EQ(s.access_logs.size(), 2u);
  EXPECT_EQ(s.access_logs[0].kind, AccessLog::Kind::kFile);
  EXPECT_EQ(s.access_logs[0].path, "/var/log/a.log");
  EXPECT_EQ(s.access_logs[0].format->name, "j");
  EXPECT_EQ(s.access_logs[0].format->escape, LogEscape::kJson);
  EXPECT_EQ(s.access_logs[0].format->format.source, "{\"a\":\"$remote_addr\",\"s\":$status}");
  EXPECT_EQ(s.access_logs[1].kind, AccessLog::Kind::kStderr);
  EXPECT_EQ(s.access_logs[0].buffer_size, 32u * 1024);
  EXPECT_EQ(s.access_logs[0].flush, absl::Seconds(5));
  EXPECT_EQ(s.access_logs[1].buffer_size, 64u * 1024);  // our defaults: always buffered
  EXPECT_EQ(s.access_logs[1].flush, absl::Seconds(1));
  EXPECT_TRUE(s.realip.trusted->Contains(Ip("10.1.2.3")));
  EXPECT_FALSE(s.realip.trusted->Contains(Ip("11.1.2.3")));
  EXPECT_EQ(s.realip.trusted->size(), 2u);
  EXPECT_EQ(Sources(s), "proxy_protocol;X-Forwarded-For;");
  EXPECT_EQ(s.realip.sources[0].kind, ::realip::realip::RealIpSource::Kind::kProxyProtocol);
  EXPECT_TRUE(s.realip.recursive);
  EXPECT_EQ(s.keepalive_timeout, absl::Seconds(10));
  EXPECT_EQ(s.keepalive_requests, 7);
  EXPECT_EQ(s.client_body_timeout, absl::Seconds(3));
  EXPECT_EQ(s.send_timeout, absl::Seconds(4));
  EXPECT_EQ(s.lingering_close, LingeringClose::kAlways);
  EXPECT_EQ(s.lingering_time, absl::Minutes(1));
  EXPECT_EQ(s.lingering_timeout, absl::Milliseconds(1500));
  EXPECT_EQ(s.client_max_body_size, 0u);
  EXPECT_EQ(s.handler, ContentHandler::kProxyPass);
  ASSERT_NE(s.proxy_pass.upstream, nullptr);
  EXPECT_TRUE(s.proxy_pass.upstream->implicit);
  ASSERT_EQ(s.proxy_pass.upstream->servers.size(), 1u);
  EXPECT_EQ(s.proxy_pass.upstream->servers[0].addresses[0].ToString(), "127.0.0.1:9000");
  EXPECT_EQ(s.proxy_pass.scheme, "http");
  EXPECT_EQ(s.proxy_pass.proxy_host, "127.0.0.1:9000");
  EXPECT_EQ(s.proxy_pass.proxy_port, 9000);
  EXPECT_TRUE(s.proxy_pass.has_uri);
  EXPECT_EQ(s.proxy_pass.uri, "/base/");
  EXPECT_EQ(Headers(s),
            "X-Custom=id=$request_id;Host=$http_host;X-Real-IP=$remote_addr;"
            "X-Forwarded-For=$realip_x_forwarded_for;X-Forwarded-Proto=$scheme;");
  EXPECT_EQ(s.proxy_hide_headers, std::vector<std::string>{"x-powered-by"});
  EXPECT_EQ(s.proxy_http_version_minor, 0);
  EXPECT_EQ(s.proxy_connect_timeout, absl::Milliseconds(500));
  EXPECT_EQ(s.proxy_read_timeout, absl::Minutes(1));
  EXPECT_EQ(s.proxy_send_timeout, absl::Minutes(2));
  EXPECT_EQ(s.proxy_next_upstream, kNextUpstreamError | kNextUpstreamTimeout |
                                       kNextUpstreamHttp502 | kNextUpstreamNonIdempotent);
  EXPECT_EQ(s.proxy_next_upstream_tries, 3);
  EXPECT_FALSE(s.proxy_buffering);
  EXPECT_TRUE(s.proxy_protocol);
  EXPECT_EQ(s.proxy_protocol_version, 2);
  EXPECT_FALSE(s.server_tokens);
  EXPECT_FALSE(s.absolute_redirect);
  EXPECT_FALSE(s.port_in_redirect);
  EXPECT_TRUE(s.server_name_in_redirect);
}

TEST(ConfigTest, ServerLevelOnlyDirectives) {
  auto c = MustLoad(
      "http { client_header_timeout 5s; client_header_buffer_size 2k;\n"
      " large_client_header_buffers 8 16k;\n server { listen 127.0.0.1:8001; } }\n");
  ASSERT_NE(c, nullptr);
  const HttpSettings& s = c->servers[0]->settings;
  EXPECT_EQ(s.client_header_timeout, absl::Seconds(5));
  EXPECT_EQ(s.client_header_buffer_size, 2048u);
  EXPECT_EQ(s.large_client_header_buffers_number, 8);
  EXPECT_EQ(s.large_client_header_buffers_size, 16384u);
}

TEST(ConfigTest, ProxyNextUpstreamOff) {
  auto c = MustLoad("http { proxy_next_upstream off; server { listen 127.0.0.1:8001; } }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->servers[0]->settings.proxy_next_upstream, 0u);
}

TEST(ConfigTest, AccessLogOff) {
  auto c = MustLoad(
      "http { access_log stderr; server { listen 127.0.0.1:8001; access_log off;\n"
      " location /a { } location /b { access_log stdout combined; } } }\n");
  ASSERT_NE(c, nullptr);
  const Server& server = *c->servers[0];
  EXPECT_TRUE(server.settings.access_logs.empty());
  EXPECT_TRUE(server.FindLocation("/a").settings.access_logs.empty());
  ASSERT_EQ(server.FindLocation("/b").settings.access_logs.size(), 1u);
  EXPECT_EQ(server.FindLocation("/b").settings.access_logs[0].kind, AccessLog::Kind::kStdout);
}

TEST(ConfigTest, AccessLogFilesAreListedOnceWithTheirFirstDirective) {
  auto c = MustLoad(
      "http { access_log /l/a.log;\n"
      "server { listen 127.0.0.1:8001;\n"
      " location /a { access_log /l/b.log; access_log stderr; }\n"
      " location /b { access_log /l/a.log; access_log /l/b.log; } } }\n");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->access_log_files.size(), 2u);
  EXPECT_EQ(c->access_log_files[0].path, "/l/a.log");
  EXPECT_EQ(c->access_log_files[0].file, kPath);
  EXPECT_EQ(c->access_log_files[0].line, 1);
  EXPECT_EQ(c->access_log_files[1].path, "/l/b.log");
  EXPECT_EQ(c->access_log_files[1].line, 3);
  const Server& server = *c->servers[0];
  EXPECT_EQ(server.settings.access_logs[0].file_index, 0u);
  const std::vector<AccessLog>& a = server.FindLocation("/a").settings.access_logs;
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].file_index, 1u);
  const std::vector<AccessLog>& b = server.FindLocation("/b").settings.access_logs;
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].file_index, 0u);
  EXPECT_EQ(b[1].file_index, 1u);
  // Opening them is the server's business.
  EXPECT_EQ(c->log_files, nullptr);
}

TEST(ConfigTest, ObservabilityHandlers) {
  auto c = MustLoad(
      "http { server { listen 127.0.0.1:8001; location = /metrics { metrics; }\n"
      " location /whoami { realip_echo; location /whoami/x { } } access_log stdout c buffer=0; }\n"
      " log_format c '$remote_addr'; }\n");
  ASSERT_NE(c, nullptr);
  const Server& server = *c->servers[0];
  EXPECT_EQ(server.FindLocation("/metrics").settings.handler, ContentHandler::kMetrics);
  EXPECT_EQ(server.FindLocation("/whoami").settings.handler, ContentHandler::kRealipEcho);
  // A content handler belongs to its block, as proxy_pass does.
  EXPECT_EQ(server.FindLocation("/whoami/x").settings.handler, ContentHandler::kNone);
  EXPECT_EQ(server.FindLocation("/other").settings.handler, ContentHandler::kNone);
  EXPECT_EQ(server.settings.access_logs.at(0).buffer_size, 0u);
}

TEST(ConfigTest, MetricsCollectionIsOnUnlessTurnedOff) {
  auto defaults = MustLoad("http { }\n");
  ASSERT_NE(defaults, nullptr);
  EXPECT_TRUE(defaults->metrics_collection);
  auto no_http = MustLoad("");
  ASSERT_NE(no_http, nullptr);
  EXPECT_TRUE(no_http->metrics_collection);
  auto off = MustLoad(
      "http { metrics_collection off;\n"
      " server { listen 127.0.0.1:8001; location = /metrics { metrics; } } }\n");
  ASSERT_NE(off, nullptr);
  EXPECT_FALSE(off->metrics_collection);
  // The handler is unaffected: the scrape still answers with what was counted before.
  EXPECT_EQ(off->servers[0]->FindLocation("/metrics").settings.handler,
            ContentHandler::kMetrics);
  auto on = MustLoad("http { metrics_collection on; }\n");
  ASSERT_NE(on, nullptr);
  EXPECT_TRUE(on->metrics_collection);
}

// ---------------------------------------------------------------------------------------------
// inheritance

TEST(InheritanceTest, ScalarsFlowDownAndLowerLevelsOverride) {
  auto c = MustLoad(R"(
http {
  proxy_read_timeout 10s;
  real_ip_recursive on;
  server {
    listen 127.0.0.1:8001;
    proxy_read_timeout 20s;
    location /a { }
    location /b { proxy_read_timeout 30s; real_ip_recursive off; }
  }
  server { listen 127.0.0.1:8002; }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& s1 = *c->servers[0];
  EXPECT_EQ(s1.settings.proxy_read_timeout, absl::Seconds(20));
  EXPECT_EQ(s1.FindLocation("/a").settings.proxy_read_timeout, absl::Seconds(20));
  EXPECT_TRUE(s1.FindLocation("/a").settings.realip.recursive);
  EXPECT_EQ(s1.FindLocation("/b").settings.proxy_read_timeout, absl::Seconds(30));
  EXPECT_FALSE(s1.FindLocation("/b").settings.realip.recursive);
  EXPECT_EQ(c->servers[1]->settings.proxy_read_timeout, absl::Seconds(10));
}

TEST(ProxyRedirectTest, DefaultIsTheProxyPassUrlAndTheLocation) {
  auto c = MustLoad(R"(
http {
  server {
    listen 127.0.0.1:8001;
    location / { proxy_pass http://127.0.0.1:1; }
    location /app/ { proxy_pass http://127.0.0.1:1/x/; }
    location = /exact { proxy_pass HTTP://127.0.0.1:1/y; }
    location ^~ /root/ { proxy_pass http://127.0.0.1:1/; }
    location /static/ { }
  }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& s = *c->servers[0];
  // Without a URI part: "URL/" -> "/"; with one: the URL as written -> the location's path.
  EXPECT_EQ(Redirects(s.FindLocation("/")), "http://127.0.0.1:1/>/;");
  EXPECT_EQ(Redirects(s.FindLocation("/app/")), "http://127.0.0.1:1/x/>/app/;");
  EXPECT_EQ(Redirects(s.FindLocation("/exact")), "HTTP://127.0.0.1:1/y>/exact;");
  EXPECT_EQ(Redirects(s.FindLocation("/root/")), "http://127.0.0.1:1/>/root/;");
  EXPECT_EQ(Redirects(s.FindLocation("/static/")), "");
  EXPECT_EQ(Redirects(s.settings), "");
  // The default rule is literal text, compared without evaluation.
  EXPECT_TRUE(s.FindLocation("/app/").settings.proxy_redirects[0].redirect.IsLiteral());
}

TEST(ProxyRedirectTest, ListsReplaceInheritedOnesAndOffClears) {
  auto c = MustLoad(R"(
http {
  proxy_redirect http://a/ /a/;
  server {
    listen 127.0.0.1:8001;
    location /inherit/ { proxy_pass http://127.0.0.1:1/; }
    location /own/ {
      proxy_pass http://127.0.0.1:1/;
      proxy_redirect http://b/ /b/;
      proxy_redirect default;
      proxy_redirect http://$host/ https://$host/;
    }
    location /off/ { proxy_pass http://127.0.0.1:1/; proxy_redirect off; }
  }
  server {
    listen 127.0.0.1:8002;
    proxy_redirect off;
    location /still-off/ { proxy_pass http://127.0.0.1:1/; }
    location /on-again/ { proxy_pass http://127.0.0.1:1/; proxy_redirect default; }
  }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& s1 = *c->servers[0];
  EXPECT_EQ(Redirects(s1.settings), "http://a/>/a/;");
  // Inherited rules stand instead of the default (nginx adds it only to an empty list).
  EXPECT_EQ(Redirects(s1.FindLocation("/inherit/")), "http://a/>/a/;");
  EXPECT_EQ(Redirects(s1.FindLocation("/own/")),
            "http://b/>/b/;http://127.0.0.1:1/>/own/;http://$host/>https://$host/;");
  EXPECT_FALSE(s1.FindLocation("/own/").settings.proxy_redirects[2].redirect.IsLiteral());
  EXPECT_EQ(Redirects(s1.FindLocation("/off/")), "");
  const Server& s2 = *c->servers[1];
  EXPECT_EQ(Redirects(s2.FindLocation("/still-off/")), "");
  EXPECT_EQ(Redirects(s2.FindLocation("/on-again/")), "http://127.0.0.1:1/>/on-again/;");
}

TEST(ProxyRedirectTest, NestedLocationKeepsItsParentsDefault) {
  // nginx merges a parent location before its children: a child without proxy_redirect
  // inherits the default rule made from the parent's proxy_pass, not one from its own.
  auto c = MustLoad(R"(
http {
  server {
    listen 127.0.0.1:8001;
    location /app/ {
      proxy_pass http://127.0.0.1:1/x/;
      location /app/inner/ { proxy_pass http://127.0.0.1:2/in/; }
      location /app/own/ { proxy_pass http://127.0.0.1:2/own/; proxy_redirect default; }
    }
    location /outer/ {
      location /outer/inner/ { proxy_pass http://127.0.0.1:2/; }
    }
  }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& s = *c->servers[0];
  EXPECT_EQ(Redirects(s.FindLocation("/app/inner/")), "http://127.0.0.1:1/x/>/app/;");
  EXPECT_EQ(Redirects(s.FindLocation("/app/own/")), "http://127.0.0.1:2/own/>/app/own/;");
  EXPECT_EQ(Redirects(s.FindLocation("/outer/inner/")), "http://127.0.0.1:2/>/outer/inner/;");
}

TEST(InheritanceTest, LingeringSettingsFlowDownAndLowerLevelsOverride) {
  auto c = MustLoad(R"(
http {
  lingering_close always;
  lingering_timeout 2s;
  server {
    listen 127.0.0.1:8001;
    lingering_time 10s;
    location /a { }
    location /b { lingering_close off; lingering_timeout 500ms; }
  }
  server { listen 127.0.0.1:8002; lingering_close on; }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& s1 = *c->servers[0];
  EXPECT_EQ(s1.settings.lingering_close, LingeringClose::kAlways);
  EXPECT_EQ(s1.settings.lingering_time, absl::Seconds(10));
  EXPECT_EQ(s1.settings.lingering_timeout, absl::Seconds(2));
  const HttpSettings& a = s1.FindLocation("/a").settings;
  EXPECT_EQ(a.lingering_close, LingeringClose::kAlways);
  EXPECT_EQ(a.lingering_time, absl::Seconds(10));
  EXPECT_EQ(a.lingering_timeout, absl::Seconds(2));
  const HttpSettings& b = s1.FindLocation("/b").settings;
  EXPECT_EQ(b.lingering_close, LingeringClose::kOff);
  EXPECT_EQ(b.lingering_time, absl::Seconds(10));
  EXPECT_EQ(b.lingering_timeout, absl::Milliseconds(500));
  const HttpSettings& s2 = c->servers[1]->settings;
  EXPECT_EQ(s2.lingering_close, LingeringClose::kOn);
  EXPECT_EQ(s2.lingering_time, absl::Seconds(30));
  EXPECT_EQ(s2.lingering_timeout, absl::Seconds(2));
}

std::string AddHeaders(const HttpSettings& s) {
  std::string out;
  for (const AddHeader& h : s.add_headers) {
    out += h.name + "=" + h.value.source + (h.always ? " always;" : ";");
  }
  return out;
}

TEST(AddHeaderTest, StoredInOrderWithVariablesAndAlways) {
  auto c = MustLoad(R"(
http {
  server {
    listen 127.0.0.1:8001;
    location / {
      add_header X-Request-ID $request_id always;
      add_header X-Frame-Options DENY;
      add_header X-Frame-Options SAMEORIGIN;
      add_header X-Empty "";
      add_header X-Mixed "id=${request_id}-$remote_addr";
    }
  }
}
)");
  ASSERT_NE(c, nullptr);
  const HttpSettings& s = c->servers[0]->FindLocation("/").settings;
  EXPECT_EQ(AddHeaders(s),
            "X-Request-ID=$request_id always;X-Frame-Options=DENY;X-Frame-Options=SAMEORIGIN;"
            "X-Empty=;X-Mixed=id=${request_id}-$remote_addr;");
  ASSERT_EQ(s.add_headers.size(), 5u);
  EXPECT_FALSE(s.add_headers[0].value.IsLiteral());
  EXPECT_TRUE(s.add_headers[1].value.IsLiteral());
  EXPECT_TRUE(s.add_headers[3].value.segments.empty());
  EXPECT_EQ(s.add_headers[4].value.segments.size(), 4u);
}

TEST(AddHeaderTest, ListInheritedOnlyByLevelsWithoutOwn) {
  auto c = MustLoad(R"(
http {
  add_header X-Http h;
  add_header X-Http2 h2 always;
  server {
    listen 127.0.0.1:8001;
    location /inherit { }
    location /own { add_header X-Loc l; }
    location /outer {
      location /outer/inner { }
      location /outer/own { add_header X-Inner i always; }
    }
  }
  server {
    listen 127.0.0.1:8002;
    add_header X-Srv s;
    location /inherit { }
    location /own { add_header X-Loc l; }
  }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& s1 = *c->servers[0];
  EXPECT_EQ(AddHeaders(s1.settings), "X-Http=h;X-Http2=h2 always;");
  EXPECT_EQ(AddHeaders(s1.FindLocation("/inherit").settings), "X-Http=h;X-Http2=h2 always;");
  EXPECT_EQ(AddHeaders(s1.FindLocation("/own").settings), "X-Loc=l;");
  EXPECT_EQ(AddHeaders(s1.FindLocation("/outer/inner").settings), "X-Http=h;X-Http2=h2 always;");
  EXPECT_EQ(AddHeaders(s1.FindLocation("/outer/own").settings), "X-Inner=i always;");
  EXPECT_EQ(AddHeaders(s1.FindLocation("/nowhere").settings), "X-Http=h;X-Http2=h2 always;");
  const Server& s2 = *c->servers[1];
  EXPECT_EQ(AddHeaders(s2.settings), "X-Srv=s;");
  EXPECT_EQ(AddHeaders(s2.FindLocation("/inherit").settings), "X-Srv=s;");
  EXPECT_EQ(AddHeaders(s2.FindLocation("/own").settings), "X-Loc=l;");
}

TEST(AddHeaderTest, NoneByDefault) {
  auto c = MustLoad("http { server { listen 127.0.0.1:8001; location / { } } }");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->servers[0]->FindLocation("/").settings.add_headers.empty());
}

TEST(AddHeaderTest, StatusRuleIsNginxList) {
  const std::set<int> applies = {200, 201, 204, 206, 301, 302, 303, 304, 307, 308};
  for (int status = 100; status < 600; ++status) {
    EXPECT_EQ(AddHeaderApplies(status, false), applies.count(status) == 1) << status;
    EXPECT_TRUE(AddHeaderApplies(status, true)) << status;
  }
}

TEST(InheritanceTest, ArraysReplaceInsteadOfMerging) {
  auto c = MustLoad(R"(
http {
  set_real_ip_from 10.0.0.0/8;
  set_real_ip_from 192.168.0.0/16;
  proxy_set_header X-A a;
  proxy_set_header X-B b;
  proxy_hide_header X-H1;
  server {
    listen 127.0.0.1:8001;
    set_real_ip_from 172.16.0.0/12;
    location /inherit { }
    location /own {
      proxy_set_header X-C c;
      proxy_hide_header X-H2;
      set_real_ip_from 127.0.0.1;
    }
  }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& s = *c->servers[0];
  const HttpSettings& inherit = s.FindLocation("/inherit").settings;
  // The server's own set_real_ip_from replaces the http list.
  EXPECT_TRUE(inherit.realip.trusted->Contains(Ip("172.16.1.1")));
  EXPECT_FALSE(inherit.realip.trusted->Contains(Ip("10.0.0.1")));
  EXPECT_FALSE(inherit.realip.trusted->Contains(Ip("192.168.1.1")));
  EXPECT_EQ(Headers(inherit),
            "X-A=a;X-B=b;Host=$http_host;X-Real-IP=$remote_addr;"
            "X-Forwarded-For=$realip_x_forwarded_for;X-Forwarded-Proto=$scheme;");
  EXPECT_EQ(inherit.proxy_hide_headers, std::vector<std::string>{"x-h1"});

  const HttpSettings& own = s.FindLocation("/own").settings;
  EXPECT_TRUE(own.realip.trusted->Contains(Ip("127.0.0.1")));
  EXPECT_FALSE(own.realip.trusted->Contains(Ip("172.16.1.1")));
  EXPECT_EQ(Headers(own),
            "X-C=c;Host=$http_host;X-Real-IP=$remote_addr;"
            "X-Forwarded-For=$realip_x_forwarded_for;X-Forwarded-Proto=$scheme;");
  EXPECT_EQ(own.proxy_hide_headers, std::vector<std::string>{"x-h2"});
}

// nginx's ngx_http_upstream_hide_headers_hash: proxy_hide_header and proxy_pass_header are
// inherited each on its own (a level's own list replaces the parent's), then the hidden set is
// the defaults plus the hide list minus the pass list.
TEST(InheritanceTest, HideAndPassHeaderListsInheritSeparately) {
  auto c = MustLoad(R"(
http {
  proxy_hide_header X-H1;
  proxy_pass_header Server;
  server {
    listen 127.0.0.1:8001;
    location /inherit { }
    location /hide { proxy_hide_header X-H2; }
    location /pass { proxy_pass_header X-Accel-Buffering; proxy_pass_header Date; }
    location /both { proxy_hide_header Date; proxy_pass_header date; }
    location /outer {
      proxy_pass_header X-Pad;
      location /outer/inner { }
    }
  }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& s = *c->servers[0];
  struct Case {
    const char* location;
    std::vector<std::string> hidden;
    bool server;  // our Server is written
    bool date;
  };
  const std::vector<std::string> accel = {"x-accel-expires", "x-accel-redirect",
                                          "x-accel-limit-rate", "x-accel-buffering",
                                          "x-accel-charset"};
  auto with = [&](std::vector<std::string> names) {
    names.insert(names.end(), accel.begin(), accel.end());
    return names;
  };
  for (const Case& c : {
           // http's pass list lets Server through; its hide list adds X-H1.
           Case{"/inherit", with({"date", "x-pad", "x-h1"}), false, true},
           Case{"/hide", with({"date", "x-pad", "x-h2"}), false, true},
           // An own pass list replaces http's: Server is hidden again.
           Case{"/pass",
                {"server", "x-pad", "x-accel-expires", "x-accel-redirect", "x-accel-limit-rate",
                 "x-accel-charset", "x-h1"},
                true,
                false},
           // Pass wins over hide, in any case.
           Case{"/both", with({"server", "x-pad"}), true, false},
           Case{"/outer/inner", with({"date", "server", "x-h1"}), true, true},
       }) {
    const HttpSettings& settings = s.FindLocation(c.location).settings;
    std::vector<std::string> hidden = settings.hidden_headers.names();
    std::vector<std::string> want = c.hidden;
    std::sort(hidden.begin(), hidden.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(hidden, want) << c.location;
    EXPECT_EQ(settings.hide_upstream_server, c.server) << c.location;
    EXPECT_EQ(settings.hide_upstream_date, c.date) << c.location;
  }
  // Nothing configured: nginx's eight names.
  auto d = MustLoad("http {\n  server {\n    listen 127.0.0.1:8002;\n  }\n}\n");
  ASSERT_NE(d, nullptr);
  const HttpSettings& plain = d->servers[0]->settings;
  EXPECT_EQ(plain.hidden_headers.names().size(), 8u);
  EXPECT_TRUE(plain.hide_upstream_server);
  EXPECT_TRUE(plain.hide_upstream_date);
}

TEST(InheritanceTest, ExplicitHeadersOverrideDefaultsByNameAndEmptyRemoves) {
  auto c = MustLoad(R"(
http {
  server {
    listen 127.0.0.1:8001;
    location / {
      proxy_set_header host $proxy_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Real-IP "";
      proxy_set_header X-Dup first;
      proxy_set_header x-dup second;
    }
  }
}
)");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Headers(c->servers[0]->FindLocation("/").settings),
            "host=$proxy_host;X-Forwarded-For=$proxy_add_x_forwarded_for;X-Real-IP=;"
            "x-dup=second;X-Forwarded-Proto=$scheme;");
}

TEST(InheritanceTest, NestedLocationsInheritFromTheirParent) {
  auto c = MustLoad(R"(
http {
  server {
    listen 127.0.0.1:8001;
    location /api/ {
      proxy_read_timeout 7s;
      proxy_pass http://127.0.0.1:9000;
      location /api/v2/ { proxy_pass http://127.0.0.1:9002; }
      location /api/static/ { return 204; }
    }
  }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& s = *c->servers[0];
  ASSERT_EQ(s.locations.size(), 3u);
  const Location& v2 = s.FindLocation("/api/v2/users");
  EXPECT_EQ(v2.path, "/api/v2/");
  EXPECT_EQ(v2.settings.proxy_read_timeout, absl::Seconds(7));
  EXPECT_EQ(v2.settings.proxy_pass.proxy_port, 9002);
  // Content handlers are not inherited: /api/static/ only returns.
  const Location& st = s.FindLocation("/api/static/x");
  EXPECT_EQ(st.settings.handler, ContentHandler::kReturn);
  EXPECT_EQ(st.settings.ret.code, 204);
  EXPECT_EQ(s.FindLocation("/api/other").settings.proxy_pass.proxy_port, 9000);
}

TEST(InheritanceTest, ContentHandlerIsNotInheritedByTheServer) {
  auto c = MustLoad(
      "http { server { listen 127.0.0.1:8001; location /a { proxy_pass http://127.0.0.1:1; } } "
      "}\n");
  ASSERT_NE(c, nullptr);
  const Location& none = c->servers[0]->FindLocation("/b");
  EXPECT_EQ(none.path, "");
  EXPECT_EQ(none.settings.handler, ContentHandler::kNone);
}

TEST(InheritanceTest, ReadinessBelongsToItsLocation) {
  auto c = MustLoad(
      "http { server { listen 127.0.0.1:8001; location = /ready { readiness; } "
      "location /ready/x { } } }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->servers[0]->FindLocation("/ready").settings.handler, ContentHandler::kReadiness);
  EXPECT_EQ(c->servers[0]->FindLocation("/ready/x").settings.handler, ContentHandler::kNone);
  EXPECT_EQ(c->servers[0]->FindLocation("/other").settings.handler, ContentHandler::kNone);
}

// ---------------------------------------------------------------------------------------------
// return, proxy_pass, upstreams

TEST(ReturnTest, Forms) {
  auto c = MustLoad(R"(
http {
  server {
    listen 127.0.0.1:8001;
    location = /ok { return 200 "ok\n"; }
    location = /code { return 404; }
    location = /moved { return 301 https://$host$request_uri; }
    location = /url { return http://example.com/; }
    location = /first { return 200 a; return 500 b; }
  }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& s = *c->servers[0];
  const ReturnAction& ok = s.FindLocation("/ok").settings.ret;
  EXPECT_EQ(ok.code, 200);
  EXPECT_TRUE(ok.has_text);
  EXPECT_EQ(ok.text.LiteralText(), "ok\n");
  EXPECT_EQ(s.FindLocation("/code").settings.ret.code, 404);
  EXPECT_FALSE(s.FindLocation("/code").settings.ret.has_text);
  const ReturnAction& moved = s.FindLocation("/moved").settings.ret;
  EXPECT_EQ(moved.code, 301);
  EXPECT_EQ(moved.text.segments.size(), 3u);
  EXPECT_EQ(s.FindLocation("/url").settings.ret.code, 302);
  EXPECT_EQ(s.FindLocation("/url").settings.ret.text.LiteralText(), "http://example.com/");
  EXPECT_EQ(s.FindLocation("/first").settings.ret.code, 200);
}

TEST(ReturnTest, ServerLevelReturnWinsOverLocations) {
  auto c = MustLoad(
      "http { server { listen 127.0.0.1:8001; return 301 https://$host$request_uri;\n"
      " location / { proxy_pass http://127.0.0.1:1; } } }\n");
  ASSERT_NE(c, nullptr);
  const Location& l = c->servers[0]->FindLocation("/anything");
  EXPECT_EQ(l.settings.handler, ContentHandler::kReturn);
  EXPECT_EQ(l.settings.ret.code, 301);
}

TEST(ProxyPassTest, UpstreamReferenceAndUriForms) {
  auto c = MustLoad(R"(
http {
  server {
    listen 127.0.0.1:8001;
    location /a/ { proxy_pass http://app; }
    location /b/ { proxy_pass http://APP/; }
    location /c/ { proxy_pass https://127.0.0.1; }
    location /d/ { proxy_pass http://[::1]:9000/x; }
    location /e/ { proxy_pass http://localhost:9001; }
  }
  upstream app {
    server 127.0.0.1:9000 weight=3 max_fails=2 fail_timeout=5s;
    server 127.0.0.2 backup;
    server 127.0.0.3:9000 down;
    keepalive 16;
    keepalive_timeout 30s;
    keepalive_requests 50;
    least_conn;
  }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& s = *c->servers[0];
  const ProxyPass& a = s.FindLocation("/a/x").settings.proxy_pass;
  ASSERT_NE(a.upstream, nullptr);
  EXPECT_EQ(a.upstream.get(), c->upstreams.at("app").get());
  EXPECT_FALSE(a.has_uri);
  EXPECT_EQ(a.proxy_host, "app");
  EXPECT_EQ(a.proxy_port, 80);
  const ProxyPass& b = s.FindLocation("/b/x").settings.proxy_pass;
  EXPECT_EQ(b.upstream.get(), a.upstream.get());
  EXPECT_TRUE(b.has_uri);
  EXPECT_EQ(b.uri, "/");
  const ProxyPass& cc = s.FindLocation("/c/").settings.proxy_pass;
  EXPECT_EQ(cc.scheme, "https");
  EXPECT_EQ(cc.proxy_port, 443);
  EXPECT_EQ(cc.upstream->servers[0].addresses[0].ToString(), "127.0.0.1:443");
  const ProxyPass& d = s.FindLocation("/d/").settings.proxy_pass;
  EXPECT_EQ(d.upstream->servers[0].addresses[0].ToString(), "[::1]:9000");
  EXPECT_EQ(d.uri, "/x");
  const ProxyPass& e = s.FindLocation("/e/").settings.proxy_pass;
  ASSERT_FALSE(e.upstream->servers[0].addresses.empty());
  EXPECT_EQ(e.upstream->servers[0].addresses[0].port, 9001);

  const Upstream& u = *c->upstreams.at("app");
  EXPECT_FALSE(u.implicit);
  ASSERT_EQ(u.servers.size(), 3u);
  EXPECT_EQ(u.servers[0].weight, 3);
  EXPECT_EQ(u.servers[0].max_fails, 2);
  EXPECT_EQ(u.servers[0].fail_timeout, absl::Seconds(5));
  EXPECT_EQ(u.servers[1].addresses[0].ToString(), "127.0.0.2:80");
  EXPECT_TRUE(u.servers[1].backup);
  EXPECT_TRUE(u.servers[2].down);
  EXPECT_EQ(u.keepalive, 16);
  EXPECT_EQ(u.keepalive_timeout, absl::Seconds(30));
  EXPECT_EQ(u.keepalive_requests, 50);
  EXPECT_EQ(u.balancer, Balancer::kLeastConn);
}

TEST(ProxyPassTest, ImplicitUpstreamsAreSharedByTarget) {
  auto c = MustLoad(
      "http { server { listen 127.0.0.1:8001;\n location /a { proxy_pass http://127.0.0.1:9; }\n"
      " location /b { proxy_pass http://127.0.0.1:9/b; } } }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->servers[0]->FindLocation("/a").settings.proxy_pass.upstream.get(),
            c->servers[0]->FindLocation("/b").settings.proxy_pass.upstream.get());
}

TEST(UpstreamTest, Balancers) {
  auto c = MustLoad(R"(
http {
  upstream rr { server 127.0.0.1; }
  upstream ih { ip_hash; server 127.0.0.1; }
  upstream h { hash $remote_addr$http_x_key consistent; server 127.0.0.1; }
  upstream h2 { hash $request_uri; server 127.0.0.1; }
}
)");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->upstreams.at("rr")->balancer, Balancer::kRoundRobin);
  EXPECT_EQ(c->upstreams.at("rr")->keepalive, 0);
  EXPECT_EQ(c->upstreams.at("ih")->balancer, Balancer::kIpHash);
  const Upstream& h = *c->upstreams.at("h");
  EXPECT_EQ(h.balancer, Balancer::kHash);
  EXPECT_TRUE(h.hash_consistent);
  EXPECT_EQ(h.hash_key.segments.size(), 2u);
  EXPECT_FALSE(c->upstreams.at("h2")->hash_consistent);
}

TEST(UpstreamTest, RedefinedBalancerWarns) {
  auto c = MustLoad("http { upstream u { least_conn; ip_hash; server 127.0.0.1; } }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->upstreams.at("u")->balancer, Balancer::kIpHash);
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_EQ(c->warnings[0], std::string("load balancing method redefined in ") + kPath + ":1");
}

// ---------------------------------------------------------------------------------------------
// listeners and lookups

TEST(ListenerTest, AddressesAreGroupedWithMergedFlags) {
  auto c = MustLoad(R"(
http {
  set_real_ip_from 10.0.0.0/8;
  server {
    listen 127.0.0.1:8001 proxy_protocol=optional backlog=100;
    listen [::1]:8002 ipv6only=off reuseport;
    listen unix:/run/rp.sock;
    server_name a.example;
  }
  server {
    listen 127.0.0.1:8001 default_server ssl;
    server_name b.example;
    set_real_ip_from 192.0.2.1;
  }
  server {
    listen 8003 proxy_protocol;
    listen *:8004;
  }
}
)");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->listeners.size(), 5u);
  const Listener& l1 = c->listeners[0];
  EXPECT_EQ(l1.text, "127.0.0.1:8001");
  EXPECT_EQ(l1.address.port, 8001);
  EXPECT_EQ(l1.proxy_protocol, ProxyProtocolMode::kOptional);
  EXPECT_EQ(l1.backlog, 100);
  EXPECT_TRUE(l1.ssl);
  ASSERT_EQ(l1.servers.size(), 2u);
  EXPECT_EQ(l1.default_server, c->servers[1]);
  // The optional PROXY header is trusted from the default server's set_real_ip_from.
  EXPECT_TRUE(l1.proxy_protocol_trusted->Contains(Ip("192.0.2.1")));
  EXPECT_FALSE(l1.proxy_protocol_trusted->Contains(Ip("10.0.0.1")));

  const Listener& l2 = c->listeners[1];
  EXPECT_EQ(l2.text, "[::1]:8002");
  EXPECT_FALSE(l2.ipv6only);
  EXPECT_TRUE(l2.reuseport);
  EXPECT_EQ(l2.backlog, 511);
  EXPECT_EQ(l2.proxy_protocol, ProxyProtocolMode::kOff);

  const Listener& l3 = c->listeners[2];
  EXPECT_TRUE(l3.address.is_unix);
  EXPECT_EQ(l3.unix_path, "/run/rp.sock");
  EXPECT_EQ(l3.text, "unix:/run/rp.sock");

  EXPECT_EQ(c->listeners[3].text, "0.0.0.0:8003");
  EXPECT_EQ(c->listeners[3].proxy_protocol, ProxyProtocolMode::kRequired);
  EXPECT_EQ(c->listeners[4].text, "0.0.0.0:8004");
}

TEST(ListenerTest, SocketOptions) {
  // nginx's deferred, so_keepalive, rcvbuf and sndbuf; given on one listen of an address, they
  // apply to the address (the others share its socket).
  auto c = MustLoad(R"(
http {
  server {
    listen 127.0.0.1:8001 deferred so_keepalive=on rcvbuf=64k sndbuf=1m;
    listen 127.0.0.1:8002 so_keepalive=30m::10;
    listen 127.0.0.1:8003 so_keepalive=1h30m:75s:;
    listen 127.0.0.1:8004 so_keepalive=:5:;
    listen 127.0.0.1:8005 so_keepalive=off rcvbuf=1000;
    listen 127.0.0.1:8006 so_keepalive=10;
    listen 127.0.0.1:8007;
  }
  server {
    listen 127.0.0.1:8001;
    listen 127.0.0.1:8007 deferred;
  }
}
)");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->listeners.size(), 7u);
  const ListenSocketOptions& o1 = c->listeners[0].socket_options;
  EXPECT_TRUE(o1.deferred);
  EXPECT_EQ(o1.keepalive, true);
  EXPECT_EQ(o1.keepidle, 0);
  EXPECT_EQ(o1.rcvbuf, 64 * 1024);
  EXPECT_EQ(o1.sndbuf, 1024 * 1024);

  const ListenSocketOptions& o2 = c->listeners[1].socket_options;
  EXPECT_FALSE(o2.deferred);
  EXPECT_EQ(o2.keepalive, true);
  EXPECT_EQ(o2.keepidle, 1800);
  EXPECT_EQ(o2.keepintvl, 0);
  EXPECT_EQ(o2.keepcnt, 10);
  EXPECT_EQ(o2.rcvbuf, -1);
  EXPECT_EQ(o2.sndbuf, -1);

  const ListenSocketOptions& o3 = c->listeners[2].socket_options;
  EXPECT_EQ(o3.keepidle, 5400);
  EXPECT_EQ(o3.keepintvl, 75);
  EXPECT_EQ(o3.keepcnt, 0);

  const ListenSocketOptions& o4 = c->listeners[3].socket_options;
  EXPECT_EQ(o4.keepalive, true);
  EXPECT_EQ(o4.keepidle, 0);
  EXPECT_EQ(o4.keepintvl, 5);

  const ListenSocketOptions& o5 = c->listeners[4].socket_options;
  EXPECT_EQ(o5.keepalive, false);
  EXPECT_EQ(o5.rcvbuf, 1000);

  EXPECT_EQ(c->listeners[5].socket_options.keepidle, 10);  // a bare number is seconds

  // Set by the second server's listen of the address.
  EXPECT_TRUE(c->listeners[6].socket_options.deferred);
  EXPECT_FALSE(c->listeners[6].socket_options.keepalive.has_value());
}

TEST(ListenerTest, SocketOptionsDefaultToTheKernels) {
  auto c = MustLoad("http { server { listen 127.0.0.1:8001 backlog=10; } }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->listeners[0].socket_options, ListenSocketOptions{});
  EXPECT_EQ(c->listeners[0].socket_options.rcvbuf, -1);
}

TEST(ListenerTest, ServerWithoutListenUsesTheNginxDefault) {
  auto c = MustLoad("http { server { } }\n");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->listeners.size(), 1u);
  EXPECT_EQ(c->listeners[0].address.port, geteuid() == 0 ? 80 : 8000);
}

TEST(ListenerTest, FindServerByHost) {
  auto c = MustLoad(R"(
http {
  server { listen 127.0.0.1:8001; server_name first.example; }
  server { listen 127.0.0.1:8001; server_name www.example.com example.com; }
  server { listen 127.0.0.1:8001; server_name *.example.com; }
  server { listen 127.0.0.1:8001; server_name *.api.example.com; }
  server { listen 127.0.0.1:8001; server_name .example.org; }
  server { listen 127.0.0.1:8001; server_name www.example.*; }
  server { listen 127.0.0.1:8001; server_name "" dup.example; }
  server { listen 127.0.0.1:8001 default_server; server_name _ dup.example; }
}
)");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->listeners.size(), 1u);
  const Listener& l = c->listeners[0];
  const auto name = [&](std::string_view host) {
    const Server& s = l.FindServer(host);
    return s.names.empty() ? std::string("<none>") : s.names[0];
  };
  struct Case {
    const char* host;
    const char* server;
  } cases[] = {
      {"first.example", "first.example"},
      {"FIRST.example:8001", "first.example"},
      {"first.example.", "first.example"},
      {"www.example.com", "www.example.com"},
      {"example.com", "www.example.com"},
      {"a.example.com", "*.example.com"},
      {"a.b.example.com", "*.example.com"},
      {"x.api.example.com", "*.api.example.com"},
      {"example.org", ".example.org"},
      {"deep.sub.example.org", ".example.org"},
      {"www.example.net", "www.example.*"},
      {"", ""},
      {"dup.example", ""},
      {"unknown.test", "_"},
      {"[::1]:8001", "_"},
  };
  for (const Case& c : cases) EXPECT_EQ(name(c.host), c.server) << c.host;
  EXPECT_EQ(name(std::string(300, 'a') + ".example.com"), "_");
  // The second server claiming dup.example is ignored, with nginx's warning.
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_EQ(c->warnings[0],
            std::string("conflicting server name \"dup.example\" on 127.0.0.1:8001, ignored in ") +
                kPath + ":10");
}

TEST(ListenerTest, DefaultServerIsTheFirstWithoutDefaultServerFlag) {
  auto c = MustLoad(
      "http { server { listen 127.0.0.1:8001; server_name a; }\n"
      " server { listen 127.0.0.1:8001; server_name b; } }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->listeners[0].FindServer("zzz").names[0], "a");
}

TEST(LocationTest, ExactThenLongestPrefix) {
  auto c = MustLoad(R"(
http {
  server {
    listen 127.0.0.1:8001;
    location / { return 200 root; }
    location /api { return 200 api; }
    location /api/v1/ { return 200 v1; }
    location = /api { return 200 exact; }
    location ^~ /static/ { return 200 static; }
    location =/healthz { return 200 health; }
  }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& s = *c->servers[0];
  const auto text = [&](std::string_view path) {
    return s.FindLocation(path).settings.ret.text.LiteralText();
  };
  EXPECT_EQ(text("/"), "root");
  EXPECT_EQ(text("/other"), "root");
  EXPECT_EQ(text("/api"), "exact");
  EXPECT_EQ(text("/api/"), "api");
  EXPECT_EQ(text("/apix"), "api");
  EXPECT_EQ(text("/api/v1/users"), "v1");
  EXPECT_EQ(text("/api/v1"), "api");
  EXPECT_EQ(text("/static/app.js"), "static");
  EXPECT_EQ(text("/healthz"), "health");
  EXPECT_EQ(text("/healthz/x"), "root");
  EXPECT_EQ(s.FindLocation("/api").match, Location::Match::kExact);
  EXPECT_EQ(s.FindLocation("/static/").match, Location::Match::kPrefixNoRegex);
}

TEST(LocationTest, NoMatchFallsBackToServerLevel) {
  auto c = MustLoad("http { server { listen 127.0.0.1:8001; location /a { return 204; } } }\n");
  ASSERT_NE(c, nullptr);
  const Location& l = c->servers[0]->FindLocation("/b");
  EXPECT_EQ(&l, &c->servers[0]->fallback);
  EXPECT_EQ(l.settings.handler, ContentHandler::kNone);
}

TEST(DumpTest, MainFileWithHeader) {
  const std::string text = "worker_processes 2;\n";
  auto c = MustLoad(text);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Dump(), std::string("# configuration file ") + kPath + ":\n" + text + "\n");
}

// One valid use of every directive in the table: a new row without a test fails here.
TEST(ConfigTest, EveryDirectiveOfTheTableLoads) {
  const std::string text = R"(
worker_processes 2; daemon off; pid /run/rp.pid; error_log stderr notice;
worker_rlimit_nofile 1024; worker_shutdown_timeout 5s; shutdown_delay 1s;
events { worker_connections 64; multi_accept off; use epoll; }
http {
  log_format f '$remote_addr';
  access_log stdout f;
  set_real_ip_from 127.0.0.1; real_ip_header X-Real-IP; real_ip_recursive off;
  ssl_certificate a.crt; ssl_certificate_key a.key; ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers HIGH; ssl_prefer_server_ciphers on; ssl_session_cache shared:SSL:1m;
  ssl_session_tickets on; ssl_session_ticket_key t.key; ssl_session_timeout 10m;
  ssl_client_certificate ca.crt; ssl_verify_client optional; ssl_verify_depth 2;
  ssl_handshake_timeout 10s; ssl_dhparam dh.pem; ssl_ecdh_curve X25519:prime256v1;
  ssl_trusted_certificate t.crt; ssl_stapling off; ssl_stapling_file s.der;
  ssl_stapling_verify off; ssl_stapling_responder http://ocsp.test/;
  resolver 127.0.0.1 [::1]:5353 valid=30s ipv6=off; resolver_timeout 5s;
  proxy_ssl_verify on; proxy_ssl_trusted_certificate ca.crt; proxy_ssl_server_name on;
  proxy_ssl_name b.test; proxy_ssl_certificate c.crt; proxy_ssl_certificate_key c.key;
  proxy_ssl_protocols TLSv1.3; proxy_ssl_ciphers DEFAULT; proxy_ssl_session_reuse off;
  proxy_ssl_verify_depth 3;
  keepalive_timeout 5s; keepalive_requests 10; client_header_timeout 5s;
  client_body_timeout 5s; send_timeout 5s; client_max_body_size 2m;
  lingering_close on; lingering_time 30s; lingering_timeout 5s;
  client_header_buffer_size 2k; large_client_header_buffers 2 4k;
  ignore_invalid_headers on; underscores_in_headers off; merge_slashes on;
  proxy_set_header X-A a; proxy_hide_header X-B; proxy_pass_header X-Pad; proxy_http_version 1.1;
  proxy_connect_timeout 1s; proxy_read_timeout 1s; proxy_send_timeout 1s;
  proxy_next_upstream error; proxy_next_upstream_tries 1; proxy_buffering on;
  proxy_protocol off; proxy_protocol_version 1; server_tokens on; metrics_collection on;
  absolute_redirect on; port_in_redirect on; server_name_in_redirect off;
  allow 127.0.0.1; deny all; geo $g { default x; } map $g $m { default y; }
  limit_req_zone $binary_remote_addr zone=r:1m rate=1r/s; limit_req zone=r;
  limit_req_status 429; limit_req_dry_run off;
  limit_conn_zone $binary_remote_addr zone=c:1m; limit_conn c 1;
  limit_conn_status 429; limit_conn_dry_run off;
  add_header X-C c always;
  tcp_nodelay on; reset_timedout_connection off; proxy_buffer_size 8k; types { text/html html; } default_type text/plain;
  gzip off; sendfile on; tcp_nopush on; types_hash_max_size 2048; types_hash_bucket_size 64;
  server_names_hash_max_size 512; server_names_hash_bucket_size 64;
  variables_hash_max_size 1024; variables_hash_bucket_size 64; map_hash_max_size 2048;
  map_hash_bucket_size 64; proxy_buffers 8 16k; proxy_busy_buffers_size 32k;
  client_body_buffer_size 16k; proxy_request_buffering off; proxy_max_temp_file_size 0;
  proxy_temp_file_write_size 16k; proxy_temp_path /tmp/p 1 2; client_body_temp_path /tmp/b 2;
  error_page 404 /404.html; recursive_error_pages on; proxy_intercept_errors on;
  upstream u { server 127.0.0.1:1; keepalive 1; keepalive_timeout 1s; keepalive_requests 1;
               least_conn; }
  upstream i { ip_hash; server 127.0.0.1:1; }
  upstream h { hash $remote_addr; server 127.0.0.1:1; }
  server {
    listen 127.0.0.1:8001; server_name a.test;
    return 204;
    location / {
      proxy_pass http://u; proxy_redirect default;
      proxy_cookie_domain a.internal a.test; proxy_cookie_path /app/ /;
    }
    location = /ready { readiness; }
    location = /metrics { metrics; }
    location = /whoami { realip_echo; }
    location @named { return 204; }
  }
}
)";
  auto c = MustLoad(text);
  ASSERT_NE(c, nullptr);
  std::unique_ptr<FileSource> files = NewDiskFileSource();
  absl::StatusOr<ParsedConfig> parsed = ParseConfigText(text, kPath, *files);
  ASSERT_TRUE(parsed.ok());
  std::set<std::string> used;
  std::vector<const std::vector<Directive>*> todo = {&parsed->directives};
  while (!todo.empty()) {
    const std::vector<Directive>* block = todo.back();
    todo.pop_back();
    for (const Directive& d : *block) {
      used.insert(d.name);
      todo.push_back(&d.block);
    }
  }
  for (const internal::DirectiveSpec& row : internal::DirectiveTable()) {
    // `user` loads or not depending on who runs the test: UserDirectiveTest.
    if (row.name == "user") continue;
    EXPECT_EQ(used.count(std::string(row.name)), 1u) << row.name << " is not exercised";
  }
}

// nginx warns and ignores `user` unless it runs as root; realip-proxy as root refuses it (it
// cannot drop privileges and still reload). The tests run as root in CI; the other case is
// test_compat_directives.py's, which runs the binary as nobody.
TEST(UserDirectiveTest, RefusedAsRootWarnedOtherwise) {
  absl::StatusOr<std::shared_ptr<const Config>> c =
      LoadConfigFromString("user www-data www-data;\n", kPath);
  if (geteuid() == 0) {
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(),
              absl::StrCat("the \"user\" directive is not supported when realip-proxy runs as "
                           "root; start it as \"www-data\" instead (docker run --user, "
                           "Kubernetes runAsUser) in ",
                           kPath, ":1"));
  } else {
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ((*c)->warnings,
              std::vector<std::string>{absl::StrCat(
                  "the \"user\" directive makes sense only if the master process runs with "
                  "super-user privileges, ignored in ",
                  kPath, ":1")});
  }
}

TEST(MimeTypesTest, ExtensionOfTheUriAsNginxFindsIt) {
  MimeTypes types;
  EXPECT_EQ(types.Add("JSON", "application/json"), "");
  EXPECT_EQ(types.Add("txt", "text/plain"), "");
  EXPECT_EQ(types.Add("json", "text/json"), "application/json");  // the later one wins
  auto type = [&](std::string_view uri) -> std::string {
    const std::string* t = types.ForUri(uri);
    return t == nullptr ? "-" : *t;
  };
  EXPECT_EQ(type("/a.json"), "text/json");
  EXPECT_EQ(type("/dir.txt/a.JSON"), "text/json");
  EXPECT_EQ(type("/dir.txt/a"), "-");  // the extension of the last segment only
  EXPECT_EQ(type("/dir/.txt"), "-");   // a leading dot starts no extension
  EXPECT_EQ(type("/a.b.txt"), "text/plain");
  EXPECT_EQ(type("/a."), "-");
  EXPECT_EQ(type("/"), "-");
  EXPECT_EQ(type(""), "-");
  EXPECT_EQ(*MimeTypes::Defaults()->ForUri("/x.HTML"), "text/html");
  EXPECT_EQ(*MimeTypes::Defaults()->ForUri("/x.jpg"), "image/jpeg");
  EXPECT_EQ(MimeTypes::Defaults()->size(), 3u);
}

TEST(MimeTypesTest, TypesBlocksOfALevelAddUpAndReplaceTheInheritedTable) {
  auto c = MustLoad(
      "http {\n"
      "  types { text/html html; application/json json; }\n"
      "  types { text/plain JSON; }\n"
      "  default_type application/octet-stream;\n"
      "  server {\n"
      "    listen 127.0.0.1:8001;\n"
      "    location /a { return 200 a; }\n"
      "    location /b { types { image/png png; } default_type text/x-b; return 200 b; }\n"
      "  }\n"
      "}\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->warnings, std::vector<std::string>{absl::StrCat(
                             "duplicate extension \"json\", content type: \"text/plain\", "
                             "previous content type: \"application/json\" in ",
                             kPath, ":3")});
  const HttpSettings& a = c->servers[0]->locations[0].settings;
  EXPECT_EQ(*a.types->ForUri("/x.json"), "text/plain");
  EXPECT_EQ(*a.types->ForUri("/x.html"), "text/html");
  EXPECT_EQ(a.default_type, "application/octet-stream");
  const HttpSettings& b = c->servers[0]->locations[1].settings;
  EXPECT_EQ(b.types->ForUri("/x.json"), nullptr);
  EXPECT_EQ(*b.types->ForUri("/x.png"), "image/png");
  EXPECT_EQ(b.default_type, "text/x-b");
  // Nothing configured: nginx's three types and text/plain.
  auto plain = MustLoad("http { server { listen 127.0.0.1:8001; } }\n");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->servers[0]->settings.types, MimeTypes::Defaults());
  EXPECT_EQ(plain->servers[0]->settings.default_type, "text/plain");
}

TEST(CompatDirectivesTest, Http2OnATlsListenerWarns) {
  auto c = MustLoad(
      "http {\n"
      "  server {\n"
      "    listen 127.0.0.1:8443 http2 ssl;\n"
      "  }\n"
      "}\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->warnings, std::vector<std::string>{absl::StrCat(
                             "\"http2\" of \"listen 127.0.0.1:8443\" is ignored: clients are "
                             "served HTTP/1.1, which ALPN offers them in ",
                             kPath, ":3")});
  EXPECT_TRUE(c->listeners[0].ssl);
}

TEST(CompatDirectivesTest, TcpNodelayAndProxyBufferSizeInherit) {
  auto c = MustLoad(
      "http {\n"
      "  tcp_nodelay off; proxy_buffer_size 4k;\n"
      "  server {\n"
      "    listen 127.0.0.1:8001;\n"
      "    location /a { }\n"
      "    location /b { tcp_nodelay on; proxy_buffer_size 64k; }\n"
      "  }\n"
      "}\n");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->servers[0]->locations[0].settings.tcp_nodelay);
  EXPECT_EQ(c->servers[0]->locations[0].settings.proxy_buffer_size, 4096u);
  EXPECT_TRUE(c->servers[0]->locations[1].settings.tcp_nodelay);
  EXPECT_EQ(c->servers[0]->locations[1].settings.proxy_buffer_size, 65536u);
  auto plain = MustLoad("http { server { listen 127.0.0.1:8001; } }\n");
  ASSERT_NE(plain, nullptr);
  EXPECT_TRUE(plain->servers[0]->settings.tcp_nodelay);
  EXPECT_EQ(plain->servers[0]->settings.proxy_buffer_size, 32768u);
}

TEST(ShippedConfigTest, DefaultConfMeansWhatItsCommentsSay) {
  absl::StatusOr<std::shared_ptr<const Config>> loaded =
      LoadConfig(std::string(REALIP_SOURCE_DIR) + "/conf/realip-proxy.conf");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Config& c = **loaded;
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].text, "0.0.0.0:8080");
  EXPECT_EQ(c.listeners[1].text, "0.0.0.0:9145");
  const Server& ops = c.listeners[1].FindServer("localhost:9145");
  EXPECT_EQ(ops.FindLocation("/metrics").settings.handler, ContentHandler::kMetrics);
  EXPECT_EQ(ops.FindLocation("/ready").settings.handler, ContentHandler::kReadiness);
  EXPECT_TRUE(ops.FindLocation("/metrics").settings.access_logs.empty());
  EXPECT_EQ(c.listeners[0].proxy_protocol, ProxyProtocolMode::kOff);
  const Server& server = c.listeners[0].FindServer("localhost:8080");
  const HttpSettings& root = server.FindLocation("/anything").settings;
  EXPECT_TRUE(root.realip.trusted->Contains(Ip("127.0.0.1")));
  EXPECT_TRUE(root.realip.trusted->Contains(Ip("127.255.0.9")));
  EXPECT_TRUE(root.realip.trusted->Contains(Ip("::1")));
  EXPECT_FALSE(root.realip.trusted->Contains(Ip("192.0.2.1")));
  EXPECT_EQ(Sources(root), "X-Forwarded-For;");
  EXPECT_TRUE(root.realip.recursive);
  ASSERT_EQ(root.handler, ContentHandler::kProxyPass);
  EXPECT_EQ(root.proxy_pass.upstream->servers[0].addresses[0].ToString(), "127.0.0.1:8081");
  EXPECT_EQ(root.proxy_pass.upstream->keepalive, 32);
  const HttpSettings& health = server.FindLocation("/healthz").settings;
  EXPECT_EQ(health.handler, ContentHandler::kReturn);
  EXPECT_EQ(health.ret.code, 200);
  EXPECT_EQ(health.ret.text.LiteralText(), "ok\n");
  EXPECT_TRUE(health.access_logs.empty());
  EXPECT_EQ(server.FindLocation("/realip").settings.handler, ContentHandler::kRealipEcho);
}

TEST(ConfigTest, RepeatedLoadsAreIndependentSnapshots) {
  const std::string text = "http { server { listen 127.0.0.1:8001; } }\n";
  auto a = MustLoad(text);
  auto b = MustLoad(text);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a.get(), b.get());
  EXPECT_NE(a->servers[0].get(), b->servers[0].get());
}

TEST(SslSettingsTest, InheritedAndOverriddenPerLevel) {
  auto c = MustLoad(R"(
http {
  ssl_protocols TLSv1.3;
  ssl_session_ticket_key /k/new.key;
  ssl_session_ticket_key old.key;
  proxy_ssl_verify on;
  server {
    listen 127.0.0.1:8443 ssl;
    ssl_ciphers ECDHE+AESGCM;
    ssl_verify_client optional;
    location /a { proxy_ssl_name a.internal; return 204; }
    location /b { proxy_ssl_verify off; return 204; }
  }
}
)");
  ASSERT_NE(c, nullptr);
  const Server& server = *c->servers[0];
  EXPECT_TRUE(c->listeners[0].ssl);
  const SslSettings& s = server.settings.ssl;
  EXPECT_EQ(s.protocols, kTlsV13);
  EXPECT_EQ(s.ciphers, "ECDHE+AESGCM");
  EXPECT_EQ(s.verify_client, SslVerifyClient::kOptional);
  ASSERT_EQ(s.session_ticket_keys.size(), 2u);
  EXPECT_EQ(s.session_ticket_keys[0].path, "/k/new.key");
  EXPECT_EQ(s.session_ticket_keys[1].path, "/etc/realip-proxy/old.key");
  EXPECT_EQ(s.session_ticket_keys[1].line, 5);
  EXPECT_EQ(s.session_timeout, absl::Minutes(5));
  const SslSettings& a = server.FindLocation("/a").settings.ssl;
  EXPECT_TRUE(a.proxy_verify);
  EXPECT_EQ(a.proxy_name, "a.internal");
  EXPECT_EQ(a.protocols, kTlsV13);
  EXPECT_FALSE(server.FindLocation("/b").settings.ssl.proxy_verify);
}

}  // namespace
}  // namespace realip::config

namespace realip::config {
namespace {

TEST(ConfigTest, VariableUsageOfTheLoadedStrings) {
  auto plain = MustLoad(R"(http { log_format f '$remote_addr $arg_a'; server { listen 80;
      access_log /dev/null f; location / { proxy_pass http://127.0.0.1:1; } } })");
  EXPECT_FALSE(plain->variables.sent_http || plain->variables.upstream_http ||
               plain->variables.upstream_bytes);
  auto logged = MustLoad(R"(http { log_format f '$sent_http_x_id $upstream_bytes_sent';
      server { listen 80; location / {
      proxy_set_header X-U $upstream_http_x; proxy_pass http://127.0.0.1:1; } } })");
  EXPECT_TRUE(logged->variables.sent_http);
  EXPECT_TRUE(logged->variables.upstream_http);
  EXPECT_TRUE(logged->variables.upstream_bytes);
}

}  // namespace
}  // namespace realip::config
