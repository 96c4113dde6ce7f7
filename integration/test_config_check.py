"""realip-proxy -t / -T: every shipped configuration, a realistic nginx reverse-proxy
configuration (also checked with nginx itself), and the exact error output of broken ones."""
import glob
import os
import re
import shutil
import subprocess
import unittest

import harness

# A reverse-proxy configuration as people write it for nginx, using only the supported subset.
# Paths are filled in per test ({dir}).
REALISTIC_MAIN = """\
worker_processes auto;
error_log stderr warn;
pid {dir}/nginx.pid;
worker_rlimit_nofile 8192;
worker_shutdown_timeout 30s;

events {{
    worker_connections 2048;
    multi_accept on;
    use epoll;
}}

http {{
    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for" rt=$request_time '
                    'ua="$upstream_addr" us="$upstream_status" '
                    'urt="$upstream_response_time" uct="$upstream_connect_time"';
    log_format json escape=json '{{"time":"$time_iso8601","client":"$remote_addr",'
                                '"peer":"$realip_remote_addr","request":"$request",'
                                '"status":$status,"id":"$request_id"}}';
    access_log {dir}/access.log main buffer=32k flush=5s;

    server_tokens off;
    keepalive_timeout 65s;
    keepalive_requests 1000;
    client_header_timeout 10s;
    client_body_timeout 10s;
    send_timeout 30s;
    client_max_body_size 16m;
    client_header_buffer_size 1k;
    large_client_header_buffers 4 16k;

    # Behind load balancers on private networks.
    set_real_ip_from 10.0.0.0/8;
    set_real_ip_from 192.168.0.0/16;
    set_real_ip_from 2001:db8::/32;
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;

    proxy_http_version 1.1;
    proxy_connect_timeout 5s;
    proxy_send_timeout 60s;
    proxy_read_timeout 60s;
    proxy_buffering off;
    proxy_next_upstream error timeout http_502 http_503;
    proxy_next_upstream_tries 2;
    proxy_set_header Host $host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Request-ID $request_id;
    proxy_set_header Connection "";
    proxy_hide_header X-Powered-By;

    upstream app {{
        least_conn;
        server 127.0.0.1:9001 weight=5 max_fails=3 fail_timeout=30s;
        server 127.0.0.1:9002 weight=5 max_fails=3 fail_timeout=30s;
        server 127.0.0.1:9003 backup;
        keepalive 64;
        keepalive_requests 1000;
        keepalive_timeout 60s;
    }}

    upstream sticky {{
        hash $remote_addr consistent;
        server 127.0.0.1:9101;
        server 127.0.0.1:9102;
    }}

    upstream legacy {{
        ip_hash;
        server localhost:9201;
        server 127.0.0.1:9202 down;
    }}

    include conf.d/*.conf;
}}
"""

REALISTIC_SITE = """\
server {{
    listen 127.0.0.1:{port} default_server backlog=1024 deferred rcvbuf=64k sndbuf=128k;
    listen 127.0.0.1:{pp_port} proxy_protocol so_keepalive=30m::10;
    server_name example.com www.example.com;

    access_log {dir}/example.access.log json;

    location = /healthz {{
        access_log off;
        return 200 "ok\\n";
    }}

    location / {{
        proxy_pass http://app;
    }}

    location /api/ {{
        proxy_read_timeout 120s;
        proxy_pass http://app/v1/;
        proxy_redirect default;
        proxy_redirect http://$host/v1/ /api/;
    }}

    location ^~ /static/ {{
        proxy_pass http://127.0.0.1:9300;
        proxy_redirect off;
    }}

    location /sticky/ {{
        proxy_pass http://sticky;
        location /sticky/admin/ {{
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Real-IP;
            real_ip_recursive off;
            proxy_pass http://legacy;
        }}
    }}
}}

server {{
    listen 127.0.0.1:{port};
    server_name *.example.org .example.net;
    return 301 https://$host$request_uri;
}}
"""


def ok_lines(path):
    return (f"realip-proxy: the configuration file {path} syntax is ok\n"
            f"realip-proxy: configuration file {path} test is successful\n")


def failed_lines(path, message):
    return (f"realip-proxy: [emerg] {message}\n"
            f"realip-proxy: configuration file {path} test failed\n")


class ConfigCheckTest(harness.TestCase):
    def write_realistic(self):
        values = dict(dir=self.workdir, port=harness.free_port(), pp_port=harness.free_port())
        main = self.write_config(REALISTIC_MAIN.format(**values), "nginx.conf")
        os.makedirs(os.path.join(self.workdir, "conf.d"))
        site = self.write_config(REALISTIC_SITE.format(**values), "conf.d/example.conf")
        return main, site

    def test_every_file_under_conf_passes(self):
        files = sorted(glob.glob(os.path.join(harness.SOURCE_DIR, "conf", "**", "*.conf"),
                                 recursive=True))
        self.assertTrue(files, "no configuration files under conf/")
        for path in files:
            with self.subTest(path=path):
                r = self.run_proxy("-t", "-c", path)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, ok_lines(path))
                self.assertEqual(r.stdout, "")

    def test_quiet_prints_nothing_on_success(self):
        path = os.path.join(harness.SOURCE_DIR, "conf", "realip-proxy.conf")
        r = self.run_proxy("-t", "-q", "-c", path)
        self.assertEqual((r.returncode, r.stderr, r.stdout), (0, "", ""))

    def test_realistic_nginx_config_passes(self):
        main, _ = self.write_realistic()
        r = self.run_proxy("-t", "-c", main)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, ok_lines(main))

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_realistic_config_is_also_valid_for_nginx(self):
        # The same bytes must satisfy nginx: the subset really is nginx's language.
        main, _ = self.write_realistic()
        r = subprocess.run(["nginx", "-t", "-q", "-c", main, "-p", self.workdir + "/",
                            "-e", "stderr"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_dump_shows_every_file_with_nginx_headers(self):
        main, site = self.write_realistic()
        r = self.run_proxy("-T", "-c", main)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, ok_lines(main))
        with open(main) as f:
            main_text = f.read()
        with open(site) as f:
            site_text = f.read()
        self.assertEqual(r.stdout, f"# configuration file {main}:\n{main_text}\n"
                                   f"# configuration file {site}:\n{site_text}\n")

    def test_broken_configs_report_nginx_errors(self):
        cases = [
            ("unknown_directive", "events {}\n\nfoo bar;\n", 'unknown directive "foo"', 3),
            ("wrong_context", "http {\n  listen 80;\n}\n",
             '"listen" directive is not allowed here', 2),
            ("arguments", "worker_processes 1 2;\n",
             'invalid number of arguments in "worker_processes" directive', 1),
            ("bad_cidr", "http {\n  set_real_ip_from 10.0.0.0/40;\n}\n",
             'invalid CIDR "10.0.0.0/40"', 2),
            ("bad_time", "http {\n  send_timeout 10parsecs;\n}\n",
             'invalid value "10parsecs" in "send_timeout" directive', 2),
            ("duplicate", "daemon off;\ndaemon off;\n", '"daemon" directive is duplicate', 2),
            ("unbalanced", "http {\n  server {\n", 'unexpected end of file, expecting "}"', 3),
            ("extra_brace", "events {\n}\n}\n", 'unexpected "}"', 3),
            ("unterminated_quote", "http {\n  log_format x \"$remote_addr;\n}\n",
             "unexpected end of file, unterminated quoted string", 2),
            ("missing_upstream",
             "http {\n server {\n  listen 127.0.0.1:1;\n  location / {\n"
             "   proxy_pass http://backend.invalid;\n  }\n }\n}\n",
             'host not found in upstream "backend.invalid"', 5),
            ("regex_location", "http {\n server {\n  location ~ \\.php$ { }\n }\n}\n",
             'regex locations ("~" and "~*") are not supported', 3),
            ("unknown_variable",
             "http {\n server {\n  location / {\n   return 200 $nosuch;\n  }\n }\n}\n",
             'unknown "nosuch" variable', 4),
        ]
        for name, text, message, line in cases:
            with self.subTest(name=name):
                path = self.write_config(text, f"{name}.conf")
                r = self.run_proxy("-t", "-c", path)
                self.assertEqual(r.returncode, 1)
                self.assertEqual(r.stderr, failed_lines(path, f"{message} in {path}:{line}"))
                self.assertEqual(r.stdout, "")

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_listen_option_errors_are_nginxs(self):
        # The same broken listen lines, checked by both: the same message and line.
        cases = {
            "so_keepalive": "listen 127.0.0.1:1 so_keepalive=1h:x:;",
            "so_keepalive_empty": "listen 127.0.0.1:1 so_keepalive=::;",
            "so_keepalive_ms": "listen 127.0.0.1:1 so_keepalive=500ms;",
            "rcvbuf": "listen 127.0.0.1:1 rcvbuf=64q;",
            "sndbuf": "listen 127.0.0.1:1 sndbuf=;",
            "duplicate": "listen 127.0.0.1:1 deferred;\n  }\n  server {\n"
                         "    listen 127.0.0.1:1 so_keepalive=on;",
        }
        for name, listen in cases.items():
            with self.subTest(name=name):
                path = self.write_config(
                    f"events {{}}\nhttp {{\n  server {{\n    {listen}\n  }}\n}}\n",
                    f"{name}.conf")
                self.assert_same_t_error(path)

    def test_include_loop_names_the_including_file(self):
        a = self.write_config("include b.conf;\n", "a.conf")
        b = self.write_config("events {}\ninclude a.conf;\n", "b.conf")
        r = self.run_proxy("-t", "-c", a)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, failed_lines(
            a, f'include loop: "{a}" is already being read in {b}:2'))

    def test_missing_file(self):
        path = os.path.join(self.workdir, "absent.conf")
        r = self.run_proxy("-t", "-c", path)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, failed_lines(
            path, f'open() "{path}" failed (2: No such file or directory)'))

    def test_error_log_that_cannot_be_opened_fails_the_test_and_the_start(self):
        # As nginx -t, which opens its error log: a folder that does not exist (tests may run
        # as root, which a mode would not stop).
        bad = os.path.join(self.workdir, "missing", "error.log")
        path = self.write_config(f"error_log {bad};\nevents {{}}\n")
        want = f'open() "{bad}" failed (2: No such file or directory)'
        r = self.run_proxy("-t", "-c", path)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, failed_lines(path, want))
        started = self.run_proxy("-c", path)
        self.assertEqual(started.returncode, 1)
        self.assertRegex(started.stderr, r"\[emerg\] \d+#\d+: " + re.escape(want))

    def test_t_creates_a_missing_error_log_as_nginx_does(self):
        log = os.path.join(self.workdir, "error.log")
        path = self.write_config(f"error_log {log} info;\nevents {{}}\n")
        r = self.run_proxy("-t", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(log))

    def test_warnings_are_printed_and_the_test_still_succeeds(self):
        path = self.write_config(
            "http {\n server { listen 127.0.0.1:1; server_name a.test; }\n"
            " server { listen 127.0.0.1:1; server_name a.test; }\n}\n")
        r = self.run_proxy("-t", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr,
                         f'realip-proxy: [warn] conflicting server name "a.test" on '
                         f'127.0.0.1:1, ignored in {path}:3\n' + ok_lines(path))


if __name__ == "__main__":
    unittest.main()
