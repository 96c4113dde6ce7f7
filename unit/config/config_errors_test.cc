// Every configuration error: exact nginx-form text, file and line.
#include <gtest/gtest.h>

#include <string>

#include "proxy/base/strings.h"
#include "proxy/config/config.h"

namespace realip::config {
namespace {

constexpr char kPath[] = "/etc/realip-proxy/realip-proxy.conf";

std::string Load(const std::string& text) {
  absl::StatusOr<std::shared_ptr<const Config>> c = LoadConfigFromString(text, kPath);
  return c.ok() ? "OK" : std::string(base::AsStd(c.status().message()));
}

struct ErrorCase {
  const char* name;
  const char* config;
  const char* message;  // without " in FILE:LINE"
  int line;
};

// Wraps a location-level body.
#define LOC(body) "http {\n server {\n  location / {\n" body "\n  }\n }\n}\n"
// Wraps a server-level body.
#define SRV(body) "http {\n server {\n" body "\n }\n}\n"

const ErrorCase kErrorCases[] = {
    // language
    {"unknown_directive", "worker_processes 1;\n\nfoo bar;\n", "unknown directive \"foo\"", 3},
    {"unknown_directive_in_block", "http {\n  proxy_passs http://a;\n}\n",
     "unknown directive \"proxy_passs\"", 2},
    {"unexpected_close", "events {\n}\n}\n", "unexpected \"}\"", 3},
    {"close_before_semicolon", "events { worker_connections 1 }\n", "unexpected \"}\"", 1},
    {"unclosed_block", "http {\n server {\n }\n", "unexpected end of file, expecting \"}\"", 4},
    {"missing_semicolon_at_eof", "daemon off", "unexpected end of file, expecting \";\" or \"}\"",
     1},
    {"lone_semicolon", "daemon off;;\n", "unexpected \";\"", 1},
    {"lone_brace", "{ }\n", "unexpected \"{\"", 1},
    {"unterminated_quote", "http {\n  log_format x \"$remote_addr;\n}\n",
     "unexpected end of file, unterminated quoted string", 2},
    {"text_after_quote", "pid \"/run/x\"y;\n", "unexpected \"y\"", 1},
    {"block_without_brace", "http;\n", "directive \"http\" has no opening \"{\"", 1},
    {"value_with_block", "daemon off {\n}\n", "directive \"daemon\" is not terminated by \";\"", 1},
    // contexts
    {"listen_in_main", "listen 80;\n", "\"listen\" directive is not allowed here", 1},
    {"proxy_pass_in_server", SRV("  proxy_pass http://127.0.0.1:1;"),
     "\"proxy_pass\" directive is not allowed here", 3},
    {"worker_connections_in_main", "worker_connections 8;\n",
     "\"worker_connections\" directive is not allowed here", 1},
    {"log_format_in_server", SRV("  log_format x y;"),
     "\"log_format\" directive is not allowed here", 3},
    {"client_header_timeout_in_location", LOC("client_header_timeout 5s;"),
     "\"client_header_timeout\" directive is not allowed here", 4},
    {"location_in_http", "http {\n location / { }\n}\n",
     "\"location\" directive is not allowed here", 2},
    {"least_conn_with_args", "http {\n upstream u {\n  least_conn x;\n }\n}\n",
     "invalid number of arguments in \"least_conn\" directive", 3},
    // arity
    {"worker_processes_no_args", "worker_processes;\n",
     "invalid number of arguments in \"worker_processes\" directive", 1},
    {"daemon_two_args", "daemon on off;\n", "invalid number of arguments in \"daemon\" directive",
     1},
    {"proxy_set_header_one_arg", LOC("proxy_set_header Host;"),
     "invalid number of arguments in \"proxy_set_header\" directive", 4},
    {"add_header_one_arg", LOC("add_header X-A;"),
     "invalid number of arguments in \"add_header\" directive", 4},
    {"add_header_four_args", LOC("add_header X-A a always always;"),
     "invalid number of arguments in \"add_header\" directive", 4},
    {"add_header_bad_parameter", LOC("add_header X-A a x;"), "invalid parameter \"x\"", 4},
    {"add_header_parameter_case", LOC("add_header X-A a Always;"), "invalid parameter \"Always\"",
     4},
    {"add_header_bad_name", LOC("add_header \"X A\" a;"), "invalid header name \"X A\"", 4},
    {"add_header_unknown_variable", LOC("add_header X-A $nope;"), "unknown \"nope\" variable", 4},
    {"add_header_in_main", "add_header X-A a;\n", "\"add_header\" directive is not allowed here",
     1},
    {"location_no_args", SRV("  location { }"),
     "invalid number of arguments in \"location\" directive", 3},
    {"events_with_args", "events x { }\n", "invalid number of arguments in \"events\" directive",
     1},
    // duplicates
    {"duplicate_daemon", "daemon on;\ndaemon off;\n", "\"daemon\" directive is duplicate", 2},
    {"duplicate_http", "http { }\nhttp { }\n", "\"http\" directive is duplicate", 2},
    {"duplicate_real_ip_header", "http {\n real_ip_header X-Real-IP;\n real_ip_header a;\n}\n",
     "\"real_ip_header\" directive is duplicate", 3},
    {"duplicate_proxy_pass", LOC("proxy_pass http://127.0.0.1:1;\nproxy_pass http://127.0.0.1:2;"),
     "\"proxy_pass\" directive is duplicate", 5},
    {"duplicate_upstream",
     "http {\n upstream a { server 127.0.0.1; }\n upstream A { server "
     "127.0.0.1; }\n}\n",
     "duplicate upstream \"A\"", 3},
    {"duplicate_log_format", "http {\n log_format a x;\n log_format a y;\n}\n",
     "duplicate \"log_format\" name \"a\"", 3},
    {"redefine_combined", "http {\n log_format combined x;\n}\n",
     "duplicate \"log_format\" name \"combined\"", 2},
    {"duplicate_location", SRV("  location /a { }\n  location ^~ /a { }"),
     "duplicate location \"/a\"", 4},
    {"duplicate_default_server",
     "http {\n server { listen 127.0.0.1:8001 default_server; }\n server { listen "
     "127.0.0.1:8001 default_server; }\n}\n",
     "a duplicate default server for 127.0.0.1:8001", 3},
    {"duplicate_listen_same_server", SRV("  listen 127.0.0.1:8001;\n  listen 127.0.0.1:8001;"),
     "a duplicate listen 127.0.0.1:8001", 4},
    {"duplicate_listen_options",
     "http {\n server { listen 8001 backlog=10; }\n server { listen 8001 reuseport; }\n}\n",
     "duplicate listen options for 0.0.0.0:8001", 3},
    // deferred, so_keepalive, rcvbuf and sndbuf are listen options like backlog.
    {"duplicate_listen_options_deferred",
     "http {\n server { listen 8001 deferred; }\n server { listen 8001 rcvbuf=8k; }\n}\n",
     "duplicate listen options for 0.0.0.0:8001", 3},
    {"duplicate_listen_options_so_keepalive",
     "http {\n server { listen 8001 so_keepalive=on; }\n server { listen 8001 backlog=5; }\n}\n",
     "duplicate listen options for 0.0.0.0:8001", 3},
    {"duplicate_listen_options_sndbuf",
     "http {\n server { listen 127.0.0.1:8001 reuseport; }\n"
     " server { listen 127.0.0.1:8001 sndbuf=1m; }\n}\n",
     "duplicate listen options for 127.0.0.1:8001", 3},
    {"conflicting_proxy_protocol",
     "http {\n server { listen 8001 proxy_protocol; }\n server { listen 8001 "
     "proxy_protocol=optional; }\n}\n",
     "conflicting proxy_protocol modes for 0.0.0.0:8001", 3},
    // values
    {"bad_cidr", "http {\n set_real_ip_from 10.0.0.0/33;\n}\n", "invalid CIDR \"10.0.0.0/33\"", 2},
    {"bad_cidr_address", "http {\n set_real_ip_from 10.0.0.256;\n}\n",
     "invalid CIDR \"10.0.0.256\"", 2},
    {"set_real_ip_from_unknown_host", "http {\n set_real_ip_from nosuch.invalid;\n}\n",
     "host not found in set_real_ip_from \"nosuch.invalid\"", 2},
    {"bad_real_ip_header", "http {\n real_ip_header \"X Bad\";\n}\n",
     "invalid real_ip_header \"X Bad\"", 2},
    {"bad_listen_port", SRV("  listen 70000;"),
     "invalid port in \"70000\" of the \"listen\" directive", 3},
    {"bad_listen_port_zero", SRV("  listen 127.0.0.1:0;"),
     "invalid port in \"127.0.0.1:0\" of the \"listen\" directive", 3},
    {"bad_listen_port_text", SRV("  listen 127.0.0.1:http;"),
     "invalid port in \"127.0.0.1:http\" of the \"listen\" directive", 3},
    {"bad_listen_host", SRV("  listen nosuch.invalid:80;"),
     "host not found in \"nosuch.invalid:80\" of the \"listen\" directive", 3},
    {"bad_listen_param", SRV("  listen 8001 quic;"), "invalid parameter \"quic\"", 3},
    {"bad_listen_backlog", SRV("  listen 8001 backlog=x;"), "invalid backlog \"backlog=x\"", 3},
    {"bad_listen_rcvbuf", SRV("  listen 8001 rcvbuf=x;"), "invalid rcvbuf \"rcvbuf=x\"", 3},
    {"bad_listen_rcvbuf_empty", SRV("  listen 8001 rcvbuf=;"), "invalid rcvbuf \"rcvbuf=\"", 3},
    {"bad_listen_rcvbuf_unit", SRV("  listen 8001 rcvbuf=64q;"), "invalid rcvbuf \"rcvbuf=64q\"",
     3},
    {"bad_listen_rcvbuf_negative", SRV("  listen 8001 rcvbuf=-1;"), "invalid rcvbuf \"rcvbuf=-1\"",
     3},
    {"bad_listen_rcvbuf_above_int", SRV("  listen 8001 rcvbuf=2g;"), "invalid rcvbuf \"rcvbuf=2g\"",
     3},
    {"bad_listen_sndbuf", SRV("  listen 8001 sndbuf=1x;"), "invalid sndbuf \"sndbuf=1x\"", 3},
    {"bad_so_keepalive_word", SRV("  listen 8001 so_keepalive=yes;"),
     "invalid so_keepalive value: \"yes\"", 3},
    {"bad_so_keepalive_empty", SRV("  listen 8001 so_keepalive=;"),
     "invalid so_keepalive value: \"\"", 3},
    {"bad_so_keepalive_all_empty", SRV("  listen 8001 so_keepalive=::;"),
     "invalid so_keepalive value: \"::\"", 3},
    {"bad_so_keepalive_all_zero", SRV("  listen 8001 so_keepalive=0:0s:0;"),
     "invalid so_keepalive value: \"0:0s:0\"", 3},
    {"bad_so_keepalive_idle", SRV("  listen 8001 so_keepalive=30x::;"),
     "invalid so_keepalive value: \"30x::\"", 3},
    {"bad_so_keepalive_idle_ms", SRV("  listen 8001 so_keepalive=500ms::;"),
     "invalid so_keepalive value: \"500ms::\"", 3},
    {"bad_so_keepalive_intvl", SRV("  listen 8001 so_keepalive=1m:x:;"),
     "invalid so_keepalive value: \"1m:x:\"", 3},
    {"bad_so_keepalive_cnt_unit", SRV("  listen 8001 so_keepalive=::5s;"),
     "invalid so_keepalive value: \"::5s\"", 3},
    {"bad_so_keepalive_cnt_sign", SRV("  listen 8001 so_keepalive=::-5;"),
     "invalid so_keepalive value: \"::-5\"", 3},
    {"bad_so_keepalive_extra_field", SRV("  listen 8001 so_keepalive=1:2:3:4;"),
     "invalid so_keepalive value: \"1:2:3:4\"", 3},
    {"bad_so_keepalive_cnt_above_int", SRV("  listen 8001 so_keepalive=::2147483648;"),
     "invalid so_keepalive value: \"::2147483648\"", 3},
    {"bad_deferred_value", SRV("  listen 8001 deferred=on;"), "invalid parameter \"deferred=on\"",
     3},
    {"ipv6only_on_ipv4", SRV("  listen 127.0.0.1:8001 ipv6only=on;"),
     "ipv6only is not supported on addr \"127.0.0.1:8001\"", 3},
    {"bad_size", LOC("client_max_body_size 10q;"),
     "invalid value \"10q\" in \"client_max_body_size\" directive", 4},
    {"bad_time", LOC("proxy_read_timeout 5x;"),
     "invalid value \"5x\" in \"proxy_read_timeout\" directive", 4},
    {"bad_time_order", "http {\n send_timeout \"1s 1m\";\n}\n",
     "invalid value \"1s 1m\" in \"send_timeout\" directive", 2},
    {"bad_flag", "daemon yes;\n",
     "invalid value \"yes\" in \"daemon\" directive, it must be \"on\" or \"off\"", 1},
    {"bad_worker_processes", "worker_processes many;\n",
     "invalid value \"many\" in \"worker_processes\" directive", 1},
    {"bad_worker_connections", "events {\n worker_connections 0;\n}\n",
     "invalid value \"0\" in \"worker_connections\" directive", 2},
    {"bad_event_method", "events {\n use kqueue;\n}\n", "invalid event type \"kqueue\"", 2},
    {"bad_error_log_level", "error_log stderr loud;\n", "invalid log level \"loud\"", 1},
    {"bad_keepalive_header_timeout", "http {\n keepalive_timeout 5s x;\n}\n",
     "invalid value \"x\" in \"keepalive_timeout\" directive", 2},
    {"bad_large_buffers", "http {\n large_client_header_buffers 0 8k;\n}\n",
     "invalid value \"0\" in \"large_client_header_buffers\" directive", 2},
    {"bad_proxy_http_version", LOC("proxy_http_version 2.0;"),
     "invalid value \"2.0\" in \"proxy_http_version\" directive, it must be \"1.0\" or \"1.1\"", 4},
    {"bad_proxy_protocol_version", LOC("proxy_protocol_version 3;"),
     "invalid value \"3\" in \"proxy_protocol_version\" directive, it must be \"1\" or \"2\"", 4},
    {"bad_next_upstream", LOC("proxy_next_upstream error http_418;"),
     "invalid value \"http_418\" in \"proxy_next_upstream\" directive", 4},
    {"bad_header_name", LOC("proxy_set_header \"X Bad\" 1;"), "invalid header name \"X Bad\"", 4},
    {"unknown_variable", LOC("proxy_set_header X-A $nope;"), "unknown \"nope\" variable", 4},
    {"unknown_variable_in_log_format", "http {\n log_format x '$remote_addr $bogus';\n}\n",
     "unknown \"bogus\" variable", 2},
    {"bad_log_escape", "http {\n log_format x escape=xml '$remote_addr';\n}\n",
     "unknown log format escaping \"xml\"", 2},
    {"unknown_log_format", "http {\n access_log stdout nosuch;\n}\n",
     "unknown log format \"nosuch\"", 2},
    {"bad_access_log_param", "http {\n access_log stdout combined gzip=1;\n}\n",
     "invalid parameter \"gzip=1\"", 2},
    {"bad_return_code", LOC("return abc;"), "invalid return code \"abc\"", 4},
    {"readiness_with_args", LOC("readiness on;"),
     "invalid number of arguments in \"readiness\" directive", 4},
    {"readiness_in_server", SRV("  readiness;"), "\"readiness\" directive is not allowed here", 3},
    {"readiness_and_proxy_pass", LOC("readiness;\nproxy_pass http://127.0.0.1:1;"),
     "\"proxy_pass\" directive conflicts with \"readiness\"", 5},
    {"duplicate_readiness", LOC("readiness;\nreadiness;"), "\"readiness\" directive is duplicate",
     5},
    {"bad_shutdown_delay", "shutdown_delay soon;\n",
     "invalid value \"soon\" in \"shutdown_delay\" directive", 1},
    {"shutdown_delay_in_http", "http {\n shutdown_delay 5s;\n}\n",
     "\"shutdown_delay\" directive is not allowed here", 2},
    {"bad_return_code_range", LOC("return 1000;"), "invalid return code \"1000\"", 4},
    {"bad_proxy_pass_scheme", LOC("proxy_pass ftp://127.0.0.1;"),
     "invalid URL prefix in \"ftp://127.0.0.1\"", 4},
    {"bad_proxy_pass_port", LOC("proxy_pass http://127.0.0.1:99999/;"),
     "invalid port in upstream \"127.0.0.1:99999\"", 4},
    {"proxy_pass_variables", LOC("proxy_pass http://$host;"),
     "variables in \"proxy_pass\" are not supported", 4},
    {"proxy_pass_no_host", LOC("proxy_pass http:///x;"), "no host in upstream \"http:///x\"", 4},
    {"missing_proxy_pass_target", LOC("proxy_pass http://nosuch.invalid;"),
     "host not found in upstream \"nosuch.invalid\"", 4},
    {"missing_proxy_pass_target_with_port", LOC("proxy_pass http://nosuch.invalid:8080/x;"),
     "host not found in upstream \"nosuch.invalid:8080\"", 4},
    {"upstream_with_port_is_not_the_block",
     "http {\n upstream app { server 127.0.0.1:1; }\n server {\n  location / {\n   proxy_pass "
     "http://app:8080;\n  }\n }\n}\n",
     "host not found in upstream \"app:8080\"", 5},
    {"return_and_proxy_pass_coexist", LOC("return 200;\nproxy_pass http://127.0.0.1:1;"), "OK", 0},
    {"regex_location", SRV("  location ~ \\.php$ { }"),
     "regex locations (\"~\" and \"~*\") are not supported", 3},
    {"regex_location_ci", SRV("  location ~* /x { }"),
     "regex locations (\"~\" and \"~*\") are not supported", 3},
    {"regex_location_glued", SRV("  location ~/x { }"),
     "regex locations (\"~\" and \"~*\") are not supported", 3},
    {"bad_location_modifier", SRV("  location != /x { }"), "invalid location modifier \"!=\"", 3},
    {"nested_outside_parent", SRV("  location /a {\n   location /b { }\n  }"),
     "location \"/b\" is outside location \"/a\"", 4},
    {"nested_in_exact", SRV("  location = /a {\n   location /a/b { }\n  }"),
     "location \"/a/b\" cannot be inside the exact location \"/a\"", 4},
    {"regex_server_name", SRV("  server_name ~^www\\d+$;"),
     "regex server names are not supported: \"~^www\\d+$\"", 3},
    {"bad_wildcard", SRV("  server_name www.*.com;"),
     "invalid server name or wildcard \"www.*.com\"", 3},
    // one bad value per remaining directive
    {"bad_worker_rlimit_nofile", "worker_rlimit_nofile lots;\n",
     "invalid value \"lots\" in \"worker_rlimit_nofile\" directive", 1},
    {"bad_worker_shutdown_timeout", "worker_shutdown_timeout soon;\n",
     "invalid value \"soon\" in \"worker_shutdown_timeout\" directive", 1},
    {"bad_multi_accept", "events {\n multi_accept maybe;\n}\n",
     "invalid value \"maybe\" in \"multi_accept\" directive, it must be \"on\" or \"off\"", 2},
    {"empty_pid", "pid \"\";\n", "invalid value \"\" in \"pid\" directive", 1},
    {"empty_error_log", "error_log '';\n", "invalid value \"\" in \"error_log\" directive", 1},
    {"syslog_error_log", "error_log syslog:server=x;\n",
     "\"syslog:server=x\" error logs are not supported", 1},
    {"bad_real_ip_recursive", "http {\n real_ip_recursive 1;\n}\n",
     "invalid value \"1\" in \"real_ip_recursive\" directive, it must be \"on\" or \"off\"", 2},
    {"duplicate_real_ip_header_value", "http {\n real_ip_header X-A x-a;\n}\n",
     "duplicate value \"x-a\" in \"real_ip_header\" directive", 2},
    {"bad_keepalive_timeout", "http {\n keepalive_timeout never;\n}\n",
     "invalid value \"never\" in \"keepalive_timeout\" directive", 2},
    {"bad_keepalive_requests", "http {\n keepalive_requests -1;\n}\n",
     "invalid value \"-1\" in \"keepalive_requests\" directive", 2},
    {"bad_client_header_timeout", "http {\n client_header_timeout 1q;\n}\n",
     "invalid value \"1q\" in \"client_header_timeout\" directive", 2},
    {"bad_client_body_timeout", "http {\n client_body_timeout x;\n}\n",
     "invalid value \"x\" in \"client_body_timeout\" directive", 2},
    {"zero_client_header_buffer_size", "http {\n client_header_buffer_size 0;\n}\n",
     "invalid value \"0\" in \"client_header_buffer_size\" directive", 2},
    {"bad_large_buffers_size", "http {\n large_client_header_buffers 4 8x;\n}\n",
     "invalid value \"8x\" in \"large_client_header_buffers\" directive", 2},
    {"bad_proxy_connect_timeout", LOC("proxy_connect_timeout 1d2d;"),
     "invalid value \"1d2d\" in \"proxy_connect_timeout\" directive", 4},
    {"bad_proxy_send_timeout", LOC("proxy_send_timeout s;"),
     "invalid value \"s\" in \"proxy_send_timeout\" directive", 4},
    {"bad_proxy_next_upstream_tries", LOC("proxy_next_upstream_tries many;"),
     "invalid value \"many\" in \"proxy_next_upstream_tries\" directive", 4},
    {"bad_proxy_buffering", LOC("proxy_buffering yes;"),
     "invalid value \"yes\" in \"proxy_buffering\" directive, it must be \"on\" or \"off\"", 4},
    {"bad_proxy_protocol_flag", LOC("proxy_protocol v2;"),
     "invalid value \"v2\" in \"proxy_protocol\" directive, it must be \"on\" or \"off\"", 4},
    {"bad_lingering_close", LOC("lingering_close yes;"),
     "invalid value \"yes\" in \"lingering_close\" directive, it must be \"off\", \"on\" or "
     "\"always\"",
     4},
    {"bad_lingering_close_case", "http {\n lingering_close Always;\n}\n",
     "invalid value \"Always\" in \"lingering_close\" directive, it must be \"off\", \"on\" or "
     "\"always\"",
     2},
    {"lingering_close_two_args", "http {\n lingering_close on always;\n}\n",
     "invalid number of arguments in \"lingering_close\" directive", 2},
    {"duplicate_lingering_close", SRV("  lingering_close on;\n  lingering_close off;"),
     "\"lingering_close\" directive is duplicate", 4},
    {"bad_lingering_time", LOC("lingering_time 30q;"),
     "invalid value \"30q\" in \"lingering_time\" directive", 4},
    {"bad_lingering_time_negative", "http {\n lingering_time -1s;\n}\n",
     "invalid value \"-1s\" in \"lingering_time\" directive", 2},
    {"bad_lingering_timeout", SRV("  lingering_timeout 5s1m;"),
     "invalid value \"5s1m\" in \"lingering_timeout\" directive", 3},
    {"lingering_timeout_in_main", "lingering_timeout 5s;\n",
     "\"lingering_timeout\" directive is not allowed here", 1},
    {"bad_port_in_redirect", LOC("port_in_redirect 80;"),
     "invalid value \"80\" in \"port_in_redirect\" directive, it must be \"on\" or \"off\"", 4},
    {"bad_server_tokens", LOC("server_tokens build;"),
     "invalid value \"build\" in \"server_tokens\" directive, it must be \"on\" or \"off\"", 4},
    {"bad_proxy_hide_header", LOC("proxy_hide_header \"a:b\";"), "invalid header name \"a:b\"", 4},
    {"bad_proxy_pass_header", LOC("proxy_pass_header \"a b\";"), "invalid header name \"a b\"", 4},
    {"proxy_pass_header_no_args", LOC("proxy_pass_header;"),
     "invalid number of arguments in \"proxy_pass_header\" directive", 4},
    {"proxy_pass_header_two_args", SRV("  proxy_pass_header Server Date;"),
     "invalid number of arguments in \"proxy_pass_header\" directive", 3},
    {"proxy_pass_header_in_main", "proxy_pass_header Server;\n",
     "\"proxy_pass_header\" directive is not allowed here", 1},
    {"access_log_off_with_format", "http {\n access_log off combined;\n}\n",
     "invalid number of arguments in \"access_log\" directive", 2},
    {"access_log_bad_buffer", "http {\n access_log stdout combined buffer=big;\n}\n",
     "invalid buffer size \"buffer=big\"", 2},
    {"access_log_zero_flush", "http {\n access_log stdout combined flush=0s;\n}\n",
     "invalid flush time \"flush=0s\"", 2},
    {"metrics_with_argument", LOC("metrics on;"),
     "invalid number of arguments in \"metrics\" directive", 4},
    {"metrics_in_server", SRV("  metrics;"), "\"metrics\" directive is not allowed here", 3},
    {"bad_metrics_collection", "http {\n metrics_collection maybe;\n}\n",
     "invalid value \"maybe\" in \"metrics_collection\" directive, it must be \"on\" or \"off\"",
     2},
    {"metrics_collection_in_server", SRV("  metrics_collection off;"),
     "\"metrics_collection\" directive is not allowed here", 3},
    {"metrics_collection_in_main", "metrics_collection off;\n",
     "\"metrics_collection\" directive is not allowed here", 1},
    {"metrics_collection_twice", "http {\n metrics_collection on;\n metrics_collection off;\n}\n",
     "\"metrics_collection\" directive is duplicate", 3},
    {"metrics_collection_no_value", "http {\n metrics_collection;\n}\n",
     "invalid number of arguments in \"metrics_collection\" directive", 2},
    {"realip_echo_in_http", "http {\n realip_echo;\n}\n",
     "\"realip_echo\" directive is not allowed here", 2},
    {"metrics_and_proxy_pass", LOC("proxy_pass http://127.0.0.1:1;\nmetrics;"),
     "\"metrics\" directive conflicts with \"proxy_pass\"", 5},
    {"realip_echo_twice", LOC("realip_echo;\nrealip_echo;"),
     "\"realip_echo\" directive is duplicate", 5},
    {"syslog_access_log", "http {\n access_log syslog:server=x;\n}\n",
     "syslog access logs are not supported", 2},
    {"bad_return_text_variable", LOC("return 200 \"$nope\";"), "unknown \"nope\" variable", 4},
    {"return_three_args", LOC("return 200 a b;"),
     "invalid number of arguments in \"return\" directive", 4},
    {"proxy_pass_unix", LOC("proxy_pass http://unix:/run/app.sock;"),
     "unix sockets in \"proxy_pass\" are not supported", 4},
    {"bad_ipv6only_value", SRV("  listen [::1]:8001 ipv6only=yes;"),
     "invalid ipv6only flags \"yes\"", 3},
    {"listen_unix_without_path", SRV("  listen unix:;"),
     "no path in \"unix:\" of the \"listen\" directive", 3},
    {"bad_server_name_dot", SRV("  server_name .;"), "invalid server name \".\"", 3},
    {"upstream_bad_max_fails", "http {\n upstream u {\n  server 127.0.0.1 max_fails=-1;\n }\n}\n",
     "invalid parameter \"max_fails=-1\"", 3},
    {"upstream_unknown_param", "http {\n upstream u {\n  server 127.0.0.1 max_conns=5;\n }\n}\n",
     "invalid parameter \"max_conns=5\"", 3},
    {"upstream_unix_server", "http {\n upstream u {\n  server unix:/run/a.sock;\n }\n}\n",
     "unix sockets in upstream servers are not supported", 3},
    {"upstream_bad_keepalive_timeout",
     "http {\n upstream u {\n  server 127.0.0.1;\n  keepalive_timeout x;\n }\n}\n",
     "invalid value \"x\" in \"keepalive_timeout\" directive", 4},
    {"upstream_bad_keepalive_requests",
     "http {\n upstream u {\n  server 127.0.0.1;\n  keepalive_requests 0;\n }\n}\n",
     "invalid value \"0\" in \"keepalive_requests\" directive", 4},
    {"upstream_hash_unknown_variable",
     "http {\n upstream u {\n  server 127.0.0.1;\n  hash $nope;\n }\n}\n",
     "unknown \"nope\" variable", 4},
    {"upstream_ip_hash_backup",
     "http {\n upstream u {\n  ip_hash;\n  server 127.0.0.1 backup;\n }\n}\n",
     "balancing method does not support parameter \"backup\"", 4},
    // upstream
    {"empty_upstream", "http {\n upstream u {\n }\n}\n", "no servers are inside upstream", 2},
    {"upstream_bad_weight", "http {\n upstream u {\n  server 127.0.0.1 weight=0;\n }\n}\n",
     "invalid parameter \"weight=0\"", 3},
    {"upstream_bad_fail_timeout",
     "http {\n upstream u {\n  server 127.0.0.1 fail_timeout=x;\n }\n}\n",
     "invalid parameter \"fail_timeout=x\"", 3},
    {"upstream_bad_port", "http {\n upstream u {\n  server 127.0.0.1:0;\n }\n}\n",
     "invalid port in \"127.0.0.1:0\" of the \"server\" directive", 3},
    {"upstream_unknown_host", "http {\n upstream u {\n  server nosuch.invalid:80;\n }\n}\n",
     "host not found in upstream \"nosuch.invalid:80\"", 3},
    {"upstream_keepalive_zero",
     "http {\n upstream u {\n  server 127.0.0.1;\n  keepalive 0;\n "
     "}\n}\n",
     "invalid value \"0\" in \"keepalive\" directive", 4},
    {"upstream_hash_param",
     "http {\n upstream u {\n  server 127.0.0.1;\n  hash $remote_addr "
     "ring;\n }\n}\n",
     "invalid parameter \"ring\"", 4},
    {"upstream_hash_backup",
     "http {\n upstream u {\n  hash $remote_addr;\n  server 127.0.0.1;\n  server 127.0.0.2 "
     "backup;\n }\n}\n",
     "balancing method does not support parameter \"backup\"", 5},
    {"upstream_directive_in_server", SRV("  keepalive 4;"),
     "\"keepalive\" directive is not allowed here", 3},
    // tls
    {"ssl_protocols_sslv3", SRV("  ssl_protocols TLSv1.2 SSLv3;"),
     "invalid value \"SSLv3\" in \"ssl_protocols\" directive, it must be \"TLSv1\", "
     "\"TLSv1.1\", \"TLSv1.2\" or \"TLSv1.3\"",
     3},
    {"ssl_verify_client_bad", SRV("  ssl_verify_client maybe;"),
     "invalid value \"maybe\" in \"ssl_verify_client\" directive, it must be \"on\", \"off\" "
     "or \"optional\"",
     3},
    {"ssl_session_cache_bad", SRV("  ssl_session_cache shared:x;"),
     "invalid value \"shared:x\" in \"ssl_session_cache\" directive", 3},
    {"ssl_session_cache_small", SRV("  ssl_session_cache shared:x:1k;"),
     "invalid value \"shared:x:1k\" in \"ssl_session_cache\" directive", 3},
    {"ssl_session_cache_off_with_more", SRV("  ssl_session_cache off builtin;"),
     "invalid value \"off\" in \"ssl_session_cache\" directive", 3},
    {"ssl_session_timeout_bad", SRV("  ssl_session_timeout soon;"),
     "invalid value \"soon\" in \"ssl_session_timeout\" directive", 3},
    {"ssl_certificate_in_location", LOC("   ssl_certificate a.crt;"),
     "\"ssl_certificate\" directive is not allowed here", 4},
    {"proxy_ssl_verify_bad", LOC("   proxy_ssl_verify yes;"),
     "invalid value \"yes\" in \"proxy_ssl_verify\" directive, it must be \"on\" or \"off\"", 4},
    {"proxy_ssl_name_variable", LOC("   proxy_ssl_name $host;"),
     "invalid value \"$host\" in \"proxy_ssl_name\" directive, variables are not supported "
     "here",
     4},
    {"proxy_ssl_verify_depth_bad", LOC("   proxy_ssl_verify_depth -1;"),
     "invalid value \"-1\" in \"proxy_ssl_verify_depth\" directive", 4},
};

class ConfigErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorTest, ExactMessageAndLine) {
  const ErrorCase& c = GetParam();
  const std::string expected =
      c.line == 0 ? c.message
                  : std::string(c.message) + " in " + kPath + ":" + std::to_string(c.line);
  EXPECT_EQ(Load(c.config), expected) << c.config;
}

INSTANTIATE_TEST_SUITE_P(Cases, ConfigErrorTest, testing::ValuesIn(kErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

// allow/deny, geo, limit_req, limit_conn (access_directives.cc).
#define HTTP(body) "http {\n" body "\n}\n"
const ErrorCase kAccessErrorCases[] = {
    {"allow_bad_address", LOC("allow 10.0.0.300;"), "invalid parameter \"10.0.0.300\"", 4},
    {"deny_two_args", LOC("deny 10.0.0.1 10.0.0.2;"),
     "invalid number of arguments in \"deny\" directive", 4},
    {"allow_in_main", "allow all;\n", "\"allow\" directive is not allowed here", 1},
    {"geo_in_server", "http {\n server {\n  geo $g { }\n }\n}\n",
     "\"geo\" directive is not allowed here", 3},
    {"geo_without_block", HTTP("geo $g;"), "directive \"geo\" has no opening \"{\"", 2},
    {"geo_bad_variable", HTTP("geo g { }"), "invalid variable name \"g\"", 2},
    {"geo_builtin_variable", HTTP("geo $remote_addr { }"), "the duplicate \"remote_addr\" variable",
     2},
    {"geo_builtin_other_case", HTTP("geo $Remote_Addr { }"),
     "the duplicate \"Remote_Addr\" variable", 2},
    {"geo_unknown_address_variable", HTTP("geo $nope $g { }"), "unknown \"nope\" variable", 2},
    {"geo_bad_network", HTTP("geo $g {\n 10.0.0.300/8 x;\n}"), "invalid network \"10.0.0.300/8\"",
     3},
    {"geo_ranges", HTTP("geo $g {\n ranges;\n}"), "\"ranges\" is not supported in geo", 3},
    {"geo_proxy", HTTP("geo $g {\n proxy 10.0.0.1;\n}"), "\"proxy\" is not supported in geo", 3},
    {"geo_nested_block", HTTP("geo $g {\n x { }\n}"), "unexpected \"{\" in geo", 3},
    {"limit_req_zone_bad_rate", HTTP("limit_req_zone $binary_remote_addr zone=z:1m rate=0r/s;"),
     "invalid rate \"rate=0r/s\"", 2},
    {"limit_req_zone_small", HTTP("limit_req_zone $binary_remote_addr zone=z:1k rate=1r/s;"),
     "zone \"zone=z:1k\" is too small", 2},
    {"limit_req_zone_unknown_variable", HTTP("limit_req_zone $nope zone=z:1m rate=1r/s;"),
     "unknown \"nope\" variable", 2},
    {"limit_req_zone_twice",
     HTTP("limit_req_zone $binary_remote_addr zone=z:1m rate=1r/s;\n"
          "limit_req_zone $remote_addr zone=z:1m rate=1r/s;"),
     "limit_req_zone \"z\" is already bound to key \"$binary_remote_addr\"", 3},
    {"limit_req_zone_in_server",
     "http {\n server {\n  limit_req_zone $a zone=z:1m rate=1r/s;\n }\n}\n",
     "\"limit_req_zone\" directive is not allowed here", 3},
    {"limit_req_unknown_zone", LOC("limit_req zone=nope;"), "unknown limit_req_zone \"nope\"", 4},
    {"limit_req_same_zone_twice",
     "http {\n limit_req_zone $binary_remote_addr zone=z:1m rate=1r/s;\n server {\n"
     "  limit_req zone=z;\n  limit_req zone=z burst=2;\n }\n}\n",
     "\"limit_req\" directive is duplicate", 5},
    {"limit_req_bad_burst", LOC("limit_req zone=z burst=x;"), "invalid burst value \"burst=x\"", 4},
    {"limit_req_status_low", LOC("limit_req_status 399;"), "value must be between 400 and 599", 4},
    {"limit_req_status_word", LOC("limit_req_status many;"),
     "\"limit_req_status\" directive invalid number", 4},
    {"limit_req_dry_run_bad", LOC("limit_req_dry_run maybe;"),
     "invalid value \"maybe\" in \"limit_req_dry_run\" directive, it must be \"on\" or \"off\"", 4},
    {"limit_req_status_twice", LOC("limit_req_status 429;\nlimit_req_status 503;"),
     "\"limit_req_status\" directive is duplicate", 5},
    {"limit_conn_zone_no_zone", HTTP("limit_conn_zone $binary_remote_addr;"),
     "invalid number of arguments in \"limit_conn_zone\" directive", 2},
    {"limit_conn_unknown_zone", LOC("limit_conn nope 1;"), "unknown limit_conn_zone \"nope\"", 4},
    {"limit_conn_zero", LOC("limit_conn a 0;"), "invalid number of connections \"0\"", 4},
    {"limit_conn_same_zone_twice",
     "http {\n limit_conn_zone $binary_remote_addr zone=a:1m;\n server {\n"
     "  limit_conn a 1;\n  limit_conn a 2;\n }\n}\n",
     "\"limit_conn\" directive is duplicate", 5},
    {"limit_conn_status_high", LOC("limit_conn_status 600;"), "value must be between 400 and 599",
     4},
};
#undef HTTP

INSTANTIATE_TEST_SUITE_P(Access, ConfigErrorTest, testing::ValuesIn(kAccessErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

// map (access_directives.cc, map_variable.cc): nginx 1.22's messages where it has one.
#define HTTP(body) "http {\n" body "\n}\n"
const ErrorCase kMapErrorCases[] = {
    {"map_in_server", SRV("  map $host $m { }"), "\"map\" directive is not allowed here", 3},
    {"map_in_main", "map $host $m { }\n", "\"map\" directive is not allowed here", 1},
    {"map_without_block", HTTP("map $host $m;"), "directive \"map\" has no opening \"{\"", 2},
    {"map_one_arg", HTTP("map $m { }"), "invalid number of arguments in \"map\" directive", 2},
    {"map_three_args", HTTP("map $host $m $n { }"),
     "invalid number of arguments in \"map\" directive", 2},
    {"map_bad_variable", HTTP("map $host m { }"), "invalid variable name \"m\"", 2},
    {"map_bare_dollar", HTTP("map $host $ { }"), "invalid variable name \"$\"", 2},
    {"map_builtin_variable", HTTP("map $http_a $Host { }"), "the duplicate \"Host\" variable", 2},
    // A block that a later one of the same name replaces is still checked, as in nginx.
    {"geo_replaced_by_map_still_checked", HTTP("geo $g {\n 10.0.0.300/8 x;\n}\nmap $host $g { }"),
     "invalid network \"10.0.0.300/8\"", 3},
    {"map_replaced_by_geo_still_checked", HTTP("map $host $g {\n a $nope;\n}\ngeo $g { }"),
     "unknown \"nope\" variable", 3},
    {"map_unknown_source", HTTP("map $nope $m { }"), "unknown \"nope\" variable", 2},
    {"map_unknown_in_value", HTTP("map $host $m {\n a $nope;\n}"), "unknown \"nope\" variable", 3},
    {"map_bad_value", HTTP("map $host $m {\n a \"x$\";\n}"), "invalid variable name in \"x$\"", 3},
    {"map_one_word", HTTP("map $host $m {\n a;\n}"), "invalid number of the map parameters", 3},
    {"map_three_words", HTTP("map $host $m {\n a b c;\n}"), "invalid number of the map parameters",
     3},
    {"map_default_without_value", HTTP("map $host $m {\n default;\n}"),
     "invalid number of the map parameters", 3},
    {"map_two_defaults", HTTP("map $host $m {\n default a;\n\n default b;\n}"),
     "duplicate default map parameter", 5},
    {"map_conflicting_key", HTTP("map $host $m {\n a x;\n A y;\n}"), "conflicting parameter \"a\"",
     4},
    {"map_conflicting_empty_key", HTTP("map $host $m {\n '' x;\n \"\" y;\n}"),
     "conflicting parameter \"\"", 4},
    {"map_conflicting_masks", HTTP("map $host $m {\n hostnames;\n .a.com x;\n *.a.com y;\n}"),
     "conflicting parameter \"*.a.com\"", 5},
    {"map_conflicting_dot_mask_and_name",
     HTTP("map $host $m {\n hostnames;\n a.com x;\n .A.com y;\n}"),
     "conflicting parameter \".a.com\"", 5},
    {"map_conflicting_trailing_masks",
     HTTP("map $host $m {\n hostnames;\n www.a.* x;\n www.a.* y;\n}"),
     "conflicting parameter \"www.a.*\"", 5},
    {"map_bad_mask", HTTP("map $host $m {\n hostnames;\n *a.com x;\n}"),
     "invalid hostname or wildcard \"*a.com\"", 4},
    {"map_two_stars", HTTP("map $host $m {\n hostnames;\n *.a.* x;\n}"),
     "invalid hostname or wildcard \"*.a.*\"", 4},
    {"map_empty_label", HTTP("map $host $m {\n hostnames;\n a..com x;\n}"),
     "invalid hostname or wildcard \"a..com\"", 4},
    {"map_regex", HTTP("map $host $m {\n ~^www x;\n}"),
     "regular expressions in \"map\" are not supported: \"~^www\"", 3},
    {"map_regex_caseless", HTTP("map $host $m {\n ~*^www x;\n}"),
     "regular expressions in \"map\" are not supported: \"~*^www\"", 3},
    {"map_nested_block", HTTP("map $host $m {\n a { }\n}"), "unexpected \"{\"", 3},
    {"map_value_line_break", HTTP("map $host $m {\n a \"x\\ny\";\n}"),
     "control byte 0x0A in \"map\" value: a header line cannot carry CR, LF, NUL or other "
     "control bytes but tab",
     3},
};
#undef HTTP

INSTANTIATE_TEST_SUITE_P(Map, ConfigErrorTest, testing::ValuesIn(kMapErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

// tcp_nodelay, proxy_buffer_size, types, default_type, gzip and the directives accepted without
// effect: values refused as nginx 1.22 refuses them (our "invalid value" form names the value).
#define HTTP(body) "http {\n" body "\n}\n"
const ErrorCase kCompatErrorCases[] = {
    {"tcp_nodelay_bad", HTTP("tcp_nodelay 1;"),
     "invalid value \"1\" in \"tcp_nodelay\" directive, it must be \"on\" or \"off\"", 2},
    {"tcp_nodelay_in_main", "tcp_nodelay on;\n", "\"tcp_nodelay\" directive is not allowed here",
     1},
    {"proxy_buffer_size_bad", HTTP("proxy_buffer_size 1x;"),
     "invalid value \"1x\" in \"proxy_buffer_size\" directive", 2},
    {"types_with_argument", HTTP("types x { }"),
     "invalid number of arguments in \"types\" directive", 2},
    {"types_without_block", HTTP("types;"), "directive \"types\" has no opening \"{\"", 2},
    {"types_entry_without_extension", HTTP("types {\n text/html;\n}"), "unexpected \";\"", 3},
    {"types_entry_with_block", HTTP("types {\n text/html html { }\n}"), "unexpected \"{\"", 3},
    {"types_line_break", HTTP("types {\n \"text/\nhtml\" html;\n}"),
     "control byte 0x0A in \"types\" content type: a header line cannot carry CR, LF, NUL or "
     "other control bytes but tab",
     4},
    {"default_type_two_args", HTTP("default_type a b;"),
     "invalid number of arguments in \"default_type\" directive", 2},
    {"default_type_line_break", HTTP("default_type \"a\r\nX-Injected: 1\";"),
     "control byte 0x0D in \"default_type\" value: a header line cannot carry CR, LF, NUL or "
     "other control bytes but tab",
     3},
    {"gzip_bad", HTTP("gzip x;"),
     "invalid value \"x\" in \"gzip\" directive, it must be \"on\" or \"off\"", 2},
    {"gzip_on", HTTP("gzip on;"),
     "\"gzip on\" is not supported: realip-proxy sends responses as the backend sent them "
     "(compress them there, or use \"gzip off\")",
     2},
    {"sendfile_bad", HTTP("sendfile x;"),
     "invalid value \"x\" in \"sendfile\" directive, it must be \"on\" or \"off\"", 2},
    {"tcp_nopush_bad", HTTP("tcp_nopush yes;"),
     "invalid value \"yes\" in \"tcp_nopush\" directive, it must be \"on\" or \"off\"", 2},
    {"types_hash_max_size_bad", HTTP("types_hash_max_size x;"),
     "invalid value \"x\" in \"types_hash_max_size\" directive", 2},
    {"server_names_hash_in_server", SRV("  server_names_hash_bucket_size 64;"),
     "\"server_names_hash_bucket_size\" directive is not allowed here", 3},
    {"proxy_buffers_one_arg", HTTP("proxy_buffers 8;"),
     "invalid number of arguments in \"proxy_buffers\" directive", 2},
    {"proxy_buffers_bad_size", HTTP("proxy_buffers 8 x;"),
     "invalid value \"x\" in \"proxy_buffers\" directive", 2},
    {"proxy_buffers_bad_number", HTTP("proxy_buffers 0 4k;"),
     "invalid value \"0\" in \"proxy_buffers\" directive", 2},
    {"client_body_buffer_size_bad", HTTP("client_body_buffer_size x;"),
     "invalid value \"x\" in \"client_body_buffer_size\" directive", 2},
    {"access_log_if_unknown_variable", HTTP("access_log /tmp/a.log combined if=$nope;"),
     "unknown \"nope\" variable", 2},
    {"reset_timedout_connection_bad", HTTP("reset_timedout_connection 1;"),
     "invalid value \"1\" in \"reset_timedout_connection\" directive, it must be \"on\" or "
     "\"off\"",
     2},
    {"proxy_request_buffering_bad", HTTP("proxy_request_buffering x;"),
     "invalid value \"x\" in \"proxy_request_buffering\" directive, it must be \"on\" or "
     "\"off\"",
     2},
    {"proxy_temp_path_bad_level", HTTP("proxy_temp_path /tmp/p x;"),
     "invalid value \"x\" in \"proxy_temp_path\" directive", 2},
    {"client_body_temp_path_five_args", HTTP("client_body_temp_path /tmp/b 1 2 2 1;"),
     "invalid number of arguments in \"client_body_temp_path\" directive", 2},
    {"user_in_http", HTTP("user nobody;"), "\"user\" directive is not allowed here", 2},
    {"listen_http2_without_ssl", SRV("  listen 127.0.0.1:8001 http2;"),
     "\"http2\" without \"ssl\" is not supported: realip-proxy speaks HTTP/1.1 to clients "
     "(over TLS, ALPN lets clients fall back to it)",
     3},
    {"resolver_bad_port", HTTP("resolver 1.2.3.4:x;"), "invalid port in resolver \"1.2.3.4:x\"", 2},
    {"resolver_open_bracket", HTTP("resolver [::1;"), "invalid host in resolver \"[::1\"", 2},
    {"resolver_bare_ipv6", HTTP("resolver ::1;"), "invalid port in resolver \"::1\"", 2},
    {"resolver_after_bracket", HTTP("resolver [::1]x;"), "invalid host in resolver \"[::1]x\"", 2},
    {"resolver_bad_valid", HTTP("resolver 1.2.3.4 valid=x;"), "invalid parameter: valid=x", 2},
    {"resolver_timeout_bad", HTTP("resolver_timeout x;"),
     "invalid value \"x\" in \"resolver_timeout\" directive", 2},
    {"ssl_stapling_bad", HTTP("ssl_stapling x;"),
     "invalid value \"x\" in \"ssl_stapling\" directive, it must be \"on\" or \"off\"", 2},
    {"ssl_stapling_verify_bad", HTTP("ssl_stapling_verify x;"),
     "invalid value \"x\" in \"ssl_stapling_verify\" directive, it must be \"on\" or \"off\"", 2},
    {"ssl_dhparam_in_location", LOC("ssl_dhparam dh.pem;"),
     "\"ssl_dhparam\" directive is not allowed here", 4},
    {"user_three_args", "user a b c;\n", "invalid number of arguments in \"user\" directive", 1},
};
#undef HTTP

INSTANTIATE_TEST_SUITE_P(Compat, ConfigErrorTest, testing::ValuesIn(kCompatErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

// proxy_redirect: nginx 1.22's messages for the same lines.
#define PASS "proxy_pass http://127.0.0.1:1;\n"
const ErrorCase kRedirectErrorCases[] = {
    {"redirect_no_args", LOC(PASS "proxy_redirect;"),
     "invalid number of arguments in \"proxy_redirect\" directive", 5},
    {"redirect_three_args", LOC(PASS "proxy_redirect a b c;"),
     "invalid number of arguments in \"proxy_redirect\" directive", 5},
    {"redirect_bad_parameter", LOC(PASS "proxy_redirect foo;"), "invalid parameter \"foo\"", 5},
    {"redirect_off_is_lower_case", LOC(PASS "proxy_redirect Off;"), "invalid parameter \"Off\"", 5},
    {"redirect_default_before_proxy_pass", LOC("proxy_redirect default;\n" PASS),
     "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive", 4},
    {"redirect_default_in_server", SRV("  proxy_redirect default;"),
     "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive", 3},
    {"redirect_default_in_http", "http {\n proxy_redirect default;\n}\n",
     "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive", 2},
    {"redirect_off_twice", LOC(PASS "proxy_redirect off;\nproxy_redirect off;"),
     "\"proxy_redirect\" directive is duplicate", 6},
    {"redirect_rule_then_off", LOC(PASS "proxy_redirect a b;\nproxy_redirect off;"),
     "\"proxy_redirect\" directive is duplicate", 6},
    {"redirect_off_then_rule", LOC(PASS "proxy_redirect off;\nproxy_redirect a b;"),
     "\"proxy_redirect\" directive is duplicate", 6},
    {"redirect_off_then_default", LOC(PASS "proxy_redirect off;\nproxy_redirect default;"),
     "\"proxy_redirect\" directive is duplicate", 6},
    {"redirect_regex", LOC(PASS "proxy_redirect ~^http://a(/.*) $1;"),
     "regular expressions in \"proxy_redirect\" are not supported: \"~^http://a(/.*)\"", 5},
    {"redirect_caseless_regex", LOC(PASS "proxy_redirect ~*^http://a/ /;"),
     "regular expressions in \"proxy_redirect\" are not supported: \"~*^http://a/\"", 5},
    {"redirect_unknown_variable", LOC(PASS "proxy_redirect http://$nope/ /;"),
     "unknown \"nope\" variable", 5},
    {"redirect_unknown_variable_in_replacement", LOC(PASS "proxy_redirect / http://$nope/;"),
     "unknown \"nope\" variable", 5},
    {"redirect_in_main", "proxy_redirect off;\n",
     "\"proxy_redirect\" directive is not allowed here", 1},
};
#undef PASS

INSTANTIATE_TEST_SUITE_P(Redirect, ConfigErrorTest, testing::ValuesIn(kRedirectErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

// proxy_cookie_domain, proxy_cookie_path: nginx 1.22's messages for the same lines (`nginx -t`),
// but for regular expressions, which nginx accepts.
const ErrorCase kCookieErrorCases[] = {
    {"domain_no_args", LOC("proxy_cookie_domain;"),
     "invalid number of arguments in \"proxy_cookie_domain\" directive", 4},
    {"path_three_args", LOC("proxy_cookie_path a b c;"),
     "invalid number of arguments in \"proxy_cookie_path\" directive", 4},
    {"domain_bad_parameter", LOC("proxy_cookie_domain foo;"), "invalid parameter \"foo\"", 4},
    {"path_off_is_lower_case", LOC("proxy_cookie_path Off;"), "invalid parameter \"Off\"", 4},
    {"path_off_twice", LOC("proxy_cookie_path off;\nproxy_cookie_path off;"),
     "\"proxy_cookie_path\" directive is duplicate", 5},
    {"domain_rule_then_off", LOC("proxy_cookie_domain a b;\nproxy_cookie_domain off;"),
     "\"proxy_cookie_domain\" directive is duplicate", 5},
    {"path_off_then_rule", LOC("proxy_cookie_path off;\nproxy_cookie_path a b;"),
     "\"proxy_cookie_path\" directive is duplicate", 5},
    {"domain_regex", SRV("proxy_cookie_domain ~^(.*)\\.internal$ $1.example.com;"),
     "regular expressions in \"proxy_cookie_domain\" are not supported: "
     "\"~^(.*)\\.internal$\"",
     3},
    {"path_caseless_regex", "http {\nproxy_cookie_path ~*^/app /;\n}\n",
     "regular expressions in \"proxy_cookie_path\" are not supported: \"~*^/app\"", 2},
    {"domain_unknown_variable", LOC("proxy_cookie_domain $nope b;"), "unknown \"nope\" variable",
     4},
    {"path_unknown_variable_in_replacement", LOC("proxy_cookie_path / /$nope;"),
     "unknown \"nope\" variable", 4},
    {"domain_replacement_with_cr", LOC("proxy_cookie_domain a \"b\\rc\";"),
     "control byte 0x0D in \"proxy_cookie_domain\" replacement: a header line cannot carry CR, "
     "LF, NUL or other control bytes but tab",
     4},
    {"path_in_main", "proxy_cookie_path off;\n",
     "\"proxy_cookie_path\" directive is not allowed here", 1},
    {"domain_in_events", "events {\nproxy_cookie_domain a b;\n}\n",
     "\"proxy_cookie_domain\" directive is not allowed here", 2},
};

INSTANTIATE_TEST_SUITE_P(Cookie, ConfigErrorTest, testing::ValuesIn(kCookieErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

// Configuration strings that become part of a header line (or the request line) refuse CR,
// LF, NUL and the other control bytes but tab, from an escape ("\r") or written raw.
#define CTL(byte, directive, what)                     \
  "control byte 0x" byte " in \"" directive "\" " what \
  ": a header line cannot carry CR, LF, NUL or other control bytes but tab"
// error_page, named locations, recursive_error_pages and proxy_intercept_errors: nginx 1.22's
// `nginx -t` messages (an unknown variable is reported with its location, as everywhere).
const ErrorCase kErrorPageErrorCases[] = {
    {"no_uri", SRV("  error_page 404;"), "invalid number of arguments in \"error_page\" directive",
     3},
    {"below_300", SRV("  error_page 299 /x;"), "value \"299\" must be between 300 and 599", 3},
    {"above_599", LOC("error_page 404 600 /x;"), "value \"600\" must be between 300 and 599", 4},
    {"not_a_code", SRV("  error_page abc /x;"), "invalid value \"abc\"", 3},
    {"code_499", SRV("  error_page 499 /x;"), "invalid value \"499\"", 3},
    {"negative_code", SRV("  error_page -404 /x;"), "invalid value \"-404\"", 3},
    {"signed_code", SRV("  error_page +404 /x;"), "invalid value \"+404\"", 3},
    {"response_without_code", SRV("  error_page =404 /x;"), "invalid value \"=404\"", 3},
    {"response_not_a_number", SRV("  error_page 404 =abc /x;"), "invalid value \"=abc\"", 3},
    {"response_negative", SRV("  error_page 404 =-1 /x;"), "invalid value \"=-1\"", 3},
    {"equals_as_code", SRV("  error_page 404 = = /x;"), "invalid value \"=\"", 3},
    {"unknown_variable", "http {\n error_page 404 /x$nope;\n}\n", "unknown \"nope\" variable", 2},
    {"in_main", "error_page 404 /x;\n", "\"error_page\" directive is not allowed here", 1},
    {"uri_control_byte", SRV("  error_page 404 \"http://a/\\r\\nInjected: x\";"),
     "control byte 0x0D in \"error_page\" URI: a header line cannot carry CR, LF, NUL or other "
     "control bytes but tab",
     3},
    {"named_location_nested", SRV("  location /a {\n   location @b { }\n  }"),
     "named location \"@b\" can be on the server level only", 4},
    {"location_inside_named", SRV("  location @a {\n   location /b { }\n  }"),
     "location \"/b\" cannot be inside the named location \"@a\"", 4},
    {"named_proxy_pass_with_uri", SRV("  location @a { proxy_pass http://127.0.0.1:1/x; }"),
     "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside "
     "named location, or inside \"if\" statement, or inside \"limit_except\" block",
     3},
    {"named_location_twice", SRV("  location @a { }\n  location @a { }"), "OK", 0},
    {"recursive_error_pages_value", LOC("recursive_error_pages maybe;"),
     "invalid value \"maybe\" in \"recursive_error_pages\" directive, it must be \"on\" or "
     "\"off\"",
     4},
    {"recursive_error_pages_twice", SRV("  recursive_error_pages on;\n  recursive_error_pages on;"),
     "\"recursive_error_pages\" directive is duplicate", 4},
    {"proxy_intercept_errors_value", SRV("  proxy_intercept_errors 1;"),
     "invalid value \"1\" in \"proxy_intercept_errors\" directive, it must be \"on\" or "
     "\"off\"",
     3},
    {"proxy_intercept_errors_in_upstream",
     "http {\n upstream u {\n  server 127.0.0.1:1;\n  proxy_intercept_errors on;\n }\n}\n",
     "\"proxy_intercept_errors\" directive is not allowed here", 4},
};

INSTANTIATE_TEST_SUITE_P(ErrorPage, ConfigErrorTest, testing::ValuesIn(kErrorPageErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

const ErrorCase kHeaderTextErrorCases[] = {
    {"proxy_set_header_crlf", LOC("proxy_set_header X-A \"a\\r\\nInjected: x\";"),
     CTL("0D", "proxy_set_header", "value"), 4},
    {"proxy_set_header_raw_lf", LOC("proxy_set_header X-A \"a\nb $host\";"),
     CTL("0A", "proxy_set_header", "value"), 5},
    {"proxy_set_header_soh",
     LOC("proxy_set_header X-A a\x01"
         "b;"),
     CTL("01", "proxy_set_header", "value"), 4},
    {"add_header_crlf", LOC("add_header X-A \"a\\r\\nInjected: x\" always;"),
     CTL("0D", "add_header", "value"), 4},
    {"add_header_lf_after_variable", LOC("add_header X-A \"$host\\n\";"),
     CTL("0A", "add_header", "value"), 4},
    {"add_header_del", LOC("add_header X-A \"a\x7f\";"), CTL("7F", "add_header", "value"), 4},
    {"return_redirect_crlf", LOC("return 302 \"http://a/\\r\\nInjected: x\";"),
     CTL("0D", "return", "URL"), 4},
    {"return_url_lf", LOC("return \"http://a/\\nInjected: x\";"), CTL("0A", "return", "URL"), 4},
    {"return_308_raw_cr", LOC("return 308 \"/a\rb\";"), CTL("0D", "return", "URL"), 4},
    {"proxy_redirect_replacement", LOC("proxy_redirect http://a/ \"/\\r\\nInjected: x\";"),
     CTL("0D", "proxy_redirect", "replacement"), 4},
    {"proxy_pass_url", LOC("proxy_pass \"http://127.0.0.1/a\\r\\nInjected: x\";"),
     CTL("0D", "proxy_pass", "URL"), 4},
    {"server_name", SRV("  server_name a \"b\\r\\nInjected: x\";"),
     CTL("0D", "server_name", "name"), 3},
    {"geo_value", "http {\n geo $g {\n  default \"a\\r\\nInjected: x\";\n }\n}\n",
     CTL("0D", "geo", "value"), 3},
};
#undef CTL

INSTANTIATE_TEST_SUITE_P(HeaderText, ConfigErrorTest, testing::ValuesIn(kHeaderTextErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(ConfigErrorTest, HeaderTextAllowsTabAndBodiesAnyByte) {
  EXPECT_EQ(Load(LOC("add_header X-A \"a\\tb\"; proxy_set_header X-B \"\\ta\";")), "OK");
  // A body, not a header: `return 200` text may hold line ends.
  EXPECT_EQ(Load(LOC("return 200 \"a\\r\\nb\\n\";")), "OK");
  EXPECT_EQ(Load(LOC("return 404 \"a\nb\";")), "OK");
  // A NUL byte written raw in the file.
  EXPECT_EQ(Load(std::string("http {\n server {\n  location / {\n   add_header X-A \"a") +
                 std::string(1, '\0') + "b\";\n  }\n }\n}\n"),
            std::string("control byte 0x00 in \"add_header\" value: a header line cannot carry "
                        "CR, LF, NUL or other control bytes but tab in ") +
                kPath + ":4");
}

TEST(ConfigErrorTest, ErrorLineIsTheDirectivesTerminator) {
  // nginx reports the line where the directive's ";" was read.
  EXPECT_EQ(Load("daemon\n\n  maybe\n;\n"),
            std::string("invalid value \"maybe\" in \"daemon\" directive, it must be \"on\" or "
                        "\"off\" in ") +
                kPath + ":4");
}

TEST(ConfigErrorTest, MissingFileIsReportedByLoadConfig) {
  absl::StatusOr<std::shared_ptr<const Config>> c = LoadConfig("/nonexistent/realip.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(base::AsStd(c.status().message()),
            "open() \"/nonexistent/realip.conf\" failed (2: No such file or directory)");
}

}  // namespace
}  // namespace realip::config
