"""The engine end to end: what the backend receives, header by header, from real clients on
different loopback addresses; keep-alive, pipelining, HTTP/1.0, HEAD, chunked, 100-continue,
routing and URI rewriting."""
import resource
import socket
import subprocess
import time
import unittest

import harness
from test_engine_backends import (ScriptedBackend, read_all, read_head, read_request,
                                  serve_fixed, serve_requests)

TRUSTED = "127.0.0.2"
UNTRUSTED = "127.0.0.3"


class EngineTestCase(harness.TestCase):
    """Starts realip-echo and realip-proxy with a config built from a server block body."""

    def start(self, server_body, upstream="", http_extra="", listen_host="127.0.0.1",
              listen_flags="", workers=2, events="worker_connections 256;"):
        self.port = harness.free_port(listen_host)
        bracketed = f"[{listen_host}]" if ":" in listen_host else listen_host
        listen = f"{bracketed}:{self.port} {listen_flags}"
        text = f"""
worker_processes {workers};
error_log stderr info;
events {{ {events} }}
http {{
  {upstream}
  {http_extra}
  server {{
    listen {listen};
    {server_body}
  }}
}}
"""
        host = listen_host
        self.proxy = self.start_proxy(text, wait=((host, self.port),))
        self.host = host
        return self.proxy

    def start_with_metrics(self, server_body, http_extra="", **kwargs):
        """start(), plus a server on a port of its own (self.metrics_port) serving /metrics."""
        self.metrics_port = harness.free_port()
        self.start(server_body, http_extra=f"""
            {http_extra}
            server {{
              listen 127.0.0.1:{self.metrics_port};
              access_log off;
              location = /metrics {{ metrics; }}
            }}""", **kwargs)
        harness.wait_for_port("127.0.0.1", self.metrics_port, self.proxy.proc)
        return self.proxy

    def raise_nofile(self, wanted):
        """Raises this process's descriptor limit to `wanted` until the test ends; skips the
        test when the hard limit is lower."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < wanted:
            self.skipTest(f"needs {wanted} descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))

    def scripted(self, handler):
        """A scripted backend stopped at teardown."""
        backend = ScriptedBackend(handler)
        self.addCleanup(backend.stop)
        return backend

    def start_to(self, handler, **kwargs):
        """Starts the proxy with `location /` proxied to a new scripted backend."""
        backend = self.scripted(handler)
        self.start(f"location / {{ proxy_pass http://127.0.0.1:{backend.port}; }}", **kwargs)
        return backend

    def request(self, raw, source=None):
        return harness.http_request(self.port, raw, host=self.host, source=source)

    def backend_doc(self, raw, source=None):
        reply = self.request(raw, source=source)
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), reply[:300])
        return harness.echo_json(body)


def connect(port, source=None, host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(10)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    return s


class HeadersTest(EngineTestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.start_echo()

    def test_untrusted_client_gets_default_headers_and_no_forged_values(self):
        self.start(f"""
            set_real_ip_from {TRUSTED};
            real_ip_header X-Forwarded-For;
            location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}""")
        doc = self.backend_doc(
            b"GET /p?q=1 HTTP/1.1\r\nHost: example.test\r\nX-Real-IP: 6.6.6.6\r\n"
            b"X-Forwarded-For: 1.1.1.1\r\nForwarded: for=1.1.1.1\r\n"
            b"Connection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\nX-Secret: s\r\n"
            b"TE: trailers\r\nProxy-Connection: keep-alive\r\nTrailer: X-T\r\n"
            b"Upgrade: h2c\r\nUser-Agent: t\r\n\r\n", source=UNTRUSTED)
        self.assertEqual(doc["uri"], "/p?q=1")
        self.assertEqual(doc["header_list"], [
            ["Host", "example.test"],
            ["X-Real-IP", UNTRUSTED],
            ["X-Forwarded-For", UNTRUSTED],
            ["X-Forwarded-Proto", "http"],
            ["User-Agent", "t"],
            ["Connection", "close"],
        ])

    def test_trusted_peer_forwarded_for_is_resolved(self):
        self.start(f"""
            set_real_ip_from {TRUSTED};
            real_ip_header X-Forwarded-For;
            location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}""")
        doc = self.backend_doc(
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.7\r\n"
            b"X-Real-IP: 6.6.6.6\r\n\r\n", source=TRUSTED)
        h = dict((k.lower(), v) for k, v in doc["header_list"])
        self.assertEqual(h["x-real-ip"], "203.0.113.7")
        self.assertEqual(h["x-forwarded-for"], f"203.0.113.7, {TRUSTED}")
        self.assertEqual([v for k, v in doc["header_list"] if k.lower() == "x-real-ip"],
                         ["203.0.113.7"])

    def test_forged_forwarded_for_from_untrusted_never_becomes_the_client(self):
        self.start(f"""
            set_real_ip_from {TRUSTED};
            real_ip_header X-Forwarded-For;
            real_ip_recursive on;
            location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}""")
        doc = self.backend_doc(
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 9.9.9.9, 127.0.0.2\r\n\r\n",
            source=UNTRUSTED)
        h = dict((k.lower(), v) for k, v in doc["header_list"])
        self.assertEqual(h["x-real-ip"], UNTRUSTED)
        self.assertEqual(h["x-forwarded-for"], UNTRUSTED)

    def test_return_echoes_the_resolved_address(self):
        self.start(f"""
            set_real_ip_from {TRUSTED};
            real_ip_header X-Forwarded-For;
            location / {{ return 200 "$remote_addr\\n"; }}""")
        for source, xff, want in ((UNTRUSTED, "1.2.3.4", UNTRUSTED),
                                  (TRUSTED, "1.2.3.4", "1.2.3.4")):
            reply = self.request(
                f"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: {xff}\r\n"
                f"Connection: close\r\n\r\n".encode(), source=source)
            self.assertTrue(reply.startswith(b"HTTP/1.1 200 OK\r\n"), reply)
            self.assertEqual(reply.partition(b"\r\n\r\n")[2], f"{want}\n".encode())

    def test_return_without_text_as_nginx(self):
        # Below 400 nginx sends an empty text/plain body, not a page; 444, 499 and 408 close
        # the connection without a response (nginx's server { return 444; } for unknown hosts,
        # limit_req_status 444), and the code is logged. With text, 444 is an ordinary status.
        log_path = f"{self.workdir}/access.log"
        self.start(f"""
            access_log {log_path} codes buffer=0;
            location /200 {{ return 200; }}
            location /201 {{ return 201; }}
            location /444 {{ return 444; }}
            location /499 {{ return 499; }}
            location /408 {{ return 408; }}
            location /text {{ return 444 "t"; }}
            location /limited {{
              limit_req zone=one;
              limit_req_status 444;
              proxy_pass http://127.0.0.1:{self.echo.port};
            }}""",
                   http_extra="log_format codes '$request_uri $status';\n"
                              "limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;",
                   workers=1)
        for path, status in (("/200", b"200 OK"), ("/201", b"201 Created")):
            reply = self.request(f"GET {path} HTTP/1.1\r\nHost: a\r\n"
                                 f"Connection: close\r\n\r\n".encode())
            head, _, body = reply.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 " + status + b"\r\n"), reply)
            self.assertIn(b"\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n", head)
            self.assertEqual(body, b"")
        head = self.request(b"HEAD /200 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        self.assertIn(b"\r\nContent-Length: 0\r\n", head)
        for path in ("/444", "/499", "/408"):
            # Keep-alive: the close is the proxy's doing, not the end of a request.
            s = connect(self.port)
            s.settimeout(10)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
            self.assertEqual(read_all(s), b"", path)
            s.close()
        reply = self.request(b"GET /text HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 444 "), reply)
        self.assertTrue(reply.endswith(b"\r\n\r\nt"), reply)
        # limit_req_status 444 closes as well: one request a minute passes, the next does not.
        limited = b"GET /limited HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        self.assertTrue(self.request(limited).startswith(b"HTTP/1.1 200 "))
        self.assertEqual(self.request(limited), b"")
        deadline = time.monotonic() + harness.READY_TIMEOUT
        lines = []
        while len(lines) < 9 and time.monotonic() < deadline:
            time.sleep(0.05)
            with open(log_path) as f:
                lines = f.read().splitlines()
        self.assertEqual(lines, ["/200 200", "/201 201", "/200 200", "/444 444", "/499 499",
                                 "/408 408", "/text 444", "/limited 200", "/limited 444"])

    def pipelined(self, first):
        """Sends GET `first` and then GET /ok (Connection: close) on one connection, and
        returns the bytes read until the proxy closes it."""
        s = connect(self.port)
        s.sendall(f"GET {first} HTTP/1.1\r\nHost: a\r\n\r\n"
                  f"GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
        data = read_all(s)
        s.close()
        return data

    def test_return_redirect_without_url_sends_an_empty_location(self):
        # nginx 1.22 sends `Location: ` (empty) after Connection, with the status's page, and
        # keeps the connection.
        self.start("location = /ok { return 200 ok; }\n" + "\n".join(
            f"location = /r{code} {{ return {code}; }}" for code in (301, 302, 303, 307, 308)))
        for code in (301, 302, 303, 307, 308):
            data = self.pipelined(f"/r{code}")
            head, _, rest = data.partition(b"\r\n\r\n")
            self.assertRegex(head, rb"^HTTP/1.1 %d [A-Za-z ]+\r\nServer: [^\r]+\r\nDate: [^\r]+\r\n"
                             rb"Content-Type: text/html\r\nContent-Length: \d+\r\n"
                             rb"Connection: keep-alive\r\nLocation: $" % code)
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            self.assertIn(b"<title>%d " % code, rest[:length])
            # The connection stays usable: the next response follows the page.
            self.assertTrue(rest[length:].startswith(b"HTTP/1.1 200 OK\r\n"), data)
            self.assertTrue(rest.endswith(b"\r\n\r\nok"), data)

    def test_return_bodiless_and_interim_codes(self):
        # 204 and 304 carry no body, Content-Type or Content-Length, text or not, and keep the
        # connection (nginx 1.22 adds Content-Type and Content-Length to a 304). A 1xx code
        # cannot be a final response: its head goes alone and the connection closes, so that
        # the next request's response is never taken for this one's (nginx sends a
        # Content-Length, the text and keeps the connection).
        codes = (100, 101, 103, 199, 204, 304)
        self.start("location = /ok { return 200 ok; }\n" + "\n".join(
            f"location = /c{code} {{ return {code}; }}\n"
            f"location = /t{code} {{ return {code} \"text\"; }}" for code in codes))
        for code in codes:
            for path in (f"/c{code}", f"/t{code}"):
                data = self.pipelined(path)
                head, _, rest = data.partition(b"\r\n\r\n")
                connection = b"close" if code < 200 else b"keep-alive"
                self.assertRegex(head, rb"^HTTP/1.1 %d [A-Za-z ]+\r\nServer: [^\r]+\r\n"
                                 rb"Date: [^\r]+\r\nConnection: %s$" % (code, connection))
                if code < 200:
                    self.assertEqual(rest, b"", path)
                else:
                    self.assertTrue(rest.startswith(b"HTTP/1.1 200 OK\r\n"), data)
                    self.assertTrue(rest.endswith(b"\r\n\r\nok"), data)

    def test_configuration_strings_cannot_end_a_header_line(self):
        # nginx 1.22 loads these and sends the CR LF as written: a header injected by the
        # configuration. We refuse them at load (-t fails) with the file, line and directive.
        for directive, message in (
                ('proxy_set_header X-A "a\\r\\nInjected: x";',
                 r'control byte 0x0D in "proxy_set_header" value'),
                ('add_header X-A "a\\nInjected: x";', r'control byte 0x0A in "add_header" value'),
                ('return 302 "/a\\r\\nInjected: x";', r'control byte 0x0D in "return" URL'),
                ('proxy_redirect / "/\\r\\nInjected: x";',
                 r'control byte 0x0D in "proxy_redirect" replacement'),
                ('add_header X-A "a\0b";', r'control byte 0x00 in "add_header" value')):
            with self.subTest(directive=directive):
                path = self.write_config(
                    "events {}\nhttp {\n  server {\n    listen 127.0.0.1:1;\n"
                    f"    location / {{\n      {directive}\n    }}\n  }}\n}}\n", "bad.conf")
                r = self.run_proxy("-t", "-c", path)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertRegex(r.stderr, r"\[emerg\] " + message + r": a header line cannot "
                                 r"carry CR, LF, NUL or other control bytes but tab in " +
                                 path + r":6\n")
                self.assertIn("test failed", r.stderr)

    def test_variables_cannot_carry_a_line_end_into_a_header(self):
        # $http_NAME, $uri, $args and $arg_NAME come from a head the parser accepted: a CR or
        # LF in a header value, or an escaped one in the path, is refused (400); one escaped
        # in the query stays escaped. Neither the backend nor the client gets a line of its own.
        record, heads = harness.head_recorder(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

        b = self.scripted(record)
        values = "[$http_x][$uri][$args][$arg_a]"
        self.start(f"""location / {{
              proxy_pass http://127.0.0.1:{b.port};
              proxy_set_header X-V "{values}";
              add_header X-V "{values}";
            }}""")
        for raw, status in (
                (b"GET /p HTTP/1.1\r\nHost: a\r\nX: a\rInjected: 1\r\n\r\n", 400),
                (b"GET /p HTTP/1.1\r\nHost: a\r\nX: a\nInjected: 1\r\n\r\n", 400),
                (b"GET /p HTTP/1.1\r\nHost: a\r\nX: a\x00Injected: 1\r\n\r\n", 400),
                (b"GET /p%0d%0aInjected:%201 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
                (b"GET /p%0aInjected:%201 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
                (b"GET /p?a=%0d%0aInjected:%201 HTTP/1.1\r\nHost: a\r\nX: x\r\n\r\n", 200)):
            with self.subTest(raw=raw):
                before = len(heads)
                reply = self.request(raw[:-2] + b"Connection: close\r\n\r\n")
                self.assertTrue(reply.startswith(b"HTTP/1.1 %d " % status), reply)
                head = reply.partition(b"\r\n\r\n")[0]
                self.assertNotIn(b"\nInjected", head)
                if status == 200:
                    self.assertEqual(len(heads), before + 1)
                    self.assertNotIn(b"\nInjected", heads[-1])
                    want = b"X-V: [x][/p][a=%0d%0aInjected:%201][%0d%0aInjected:%201]\r\n"
                    self.assertIn(b"\r\n" + want, heads[-1] + b"\r\n")
                    self.assertIn(b"\r\n" + want, head + b"\r\n")
                else:
                    self.assertEqual(len(heads), before)

    def test_spaces_and_tabs_around_values_are_dropped_both_ways(self):
        # RFC 9110 section 5.5: OWS around a field value is not part of it, spaces and tabs
        # alike. nginx 1.22 strips spaces only: a tab at either end reaches the backend, the
        # client and $http_NAME.
        record, heads = harness.head_recorder(
            b"HTTP/1.1 200 OK\r\nX-R1: r\t\r\nX-R2:\t \tr\r\nX-R3: r \t r \r\n"
            b"Content-Length: 2\r\nConnection: close\r\n\r\nok")

        b = self.scripted(record)
        self.start(f"""location / {{
              proxy_pass http://127.0.0.1:{b.port};
              proxy_set_header X-V "[$http_x_t1][$http_x_t2]";
              add_header X-U "[$upstream_http_x_r1][$upstream_http_x_r2]";
            }}""")
        reply = self.request(b"GET / HTTP/1.1\r\nHost: a\r\nX-T1: a\t\r\nX-T2:\t a \t\r\n"
                             b"X-T3: a\t b \r\nConnection: close\r\n\r\n")
        head = reply.partition(b"\r\n\r\n")[0] + b"\r\n"
        self.assertEqual(len(heads), 1)
        sent = heads[0] + b"\r\n"
        for line in (b"X-V: [a][a]", b"X-T1: a", b"X-T2: a", b"X-T3: a\t b"):
            self.assertIn(b"\r\n" + line + b"\r\n", sent)
        for line in (b"X-R1: r", b"X-R2: r", b"X-R3: r \t r", b"X-U: [r][r]"):
            self.assertIn(b"\r\n" + line + b"\r\n", head)

    def test_proxy_set_header_overrides_removes_and_evaluates(self):
        self.start(f"""
            location / {{
              proxy_set_header X-Forwarded-Proto "";
              proxy_set_header X-Custom "$remote_addr|$http_x_in|$request_method";
              proxy_set_header User-Agent fixed;
              proxy_pass http://127.0.0.1:{self.echo.port};
            }}""")
        doc = self.backend_doc(b"GET / HTTP/1.1\r\nHost: a\r\nX-In: v\r\nUser-Agent: mine\r\n\r\n",
                               source=UNTRUSTED)
        names = [k for k, _ in doc["header_list"]]
        self.assertNotIn("X-Forwarded-Proto", names)
        h = dict((k.lower(), v) for k, v in doc["header_list"])
        self.assertEqual(h["x-custom"], f"{UNTRUSTED}|v|GET")
        self.assertEqual(h["user-agent"], "fixed")
        self.assertEqual(names.count("User-Agent"), 1)

    def test_proxy_set_header_with_an_empty_value_strips_the_clients_line(self):
        # nginx: a name set to "" is not passed, whatever the client sent under it (the idiom
        # `proxy_set_header Accept-Encoding "";`). From a trusted sender too, for X-Real-IP.
        self.start(f"""
            set_real_ip_from {TRUSTED};
            location / {{
              proxy_set_header X-Forwarded-Proto "";
              proxy_set_header Accept-Encoding "";
              proxy_set_header X-Real-IP "";
              proxy_set_header x-other "$http_x_unset";
              proxy_pass http://127.0.0.1:{self.echo.port};
            }}""")
        for source in (UNTRUSTED, TRUSTED):
            doc = self.backend_doc(
                b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: evil\r\n"
                b"accept-encoding: gzip\r\nX-Real-IP: 6.6.6.6\r\nX-Other: o\r\n"
                b"X-Kept: k\r\n\r\n", source=source)
            names = [k.lower() for k, _ in doc["header_list"]]
            for gone in ("x-forwarded-proto", "accept-encoding", "x-real-ip", "x-other"):
                self.assertNotIn(gone, names, source)
            self.assertIn("x-kept", names)

    def test_proxy_add_x_forwarded_for_passes_the_chain_without_duplication(self):
        self.start(f"""
            set_real_ip_from {TRUSTED};
            real_ip_header X-Forwarded-For;
            location / {{
              proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
              proxy_pass http://127.0.0.1:{self.echo.port};
            }}""")
        doc = self.backend_doc(
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.168.1.1\r\n\r\n", source=TRUSTED)
        h = dict((k.lower(), v) for k, v in doc["header_list"])
        self.assertEqual(h["x-forwarded-for"], f"192.168.1.1, {TRUSTED}")
        self.assertEqual(h["x-real-ip"], "192.168.1.1")

    def test_uri_replacement_when_proxy_pass_has_a_path(self):
        self.start(f"""
            location /api/ {{ proxy_pass http://127.0.0.1:{self.echo.port}/v1/; }}
            location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}""")
        doc = self.backend_doc(b"GET /api/users/7?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(doc["uri"], "/v1/users/7?x=1")
        doc = self.backend_doc(b"GET /other/%41?y HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(doc["uri"], "/other/%41?y")

    def test_locations_match_the_normalized_path(self):
        # As nginx: the path is percent-decoded and its "//", "." and ".." resolved before the
        # location is chosen, so none of these reaches the backend past `location /admin`.
        # The target goes upstream as received (proxy_pass without a path) or, with a path,
        # made from the normalized one; $uri is the normalized path.
        up = f"http://127.0.0.1:{self.echo.port}"
        self.start(f"""
            location /admin {{ return 403; }}
            location /api/ {{ proxy_pass {up}/v1/; }}
            location / {{ proxy_pass {up}; proxy_set_header X-Uri $uri; }}""")
        for path in ("/x/../admin", "/%61dmin", "//admin", "/admin/./x", "/x/%2e%2e/admin",
                     "/x%2f..%2fadmin", "/api/../admin"):
            reply = self.request(f"GET {path} HTTP/1.1\r\nHost: a\r\n"
                                 f"Connection: close\r\n\r\n".encode())
            self.assertTrue(reply.startswith(b"HTTP/1.1 403 "), (path, reply[:100]))
        doc = self.backend_doc(b"GET /a%20b/./../c%41?q=%20 HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(doc["uri"], "/a%20b/./../c%41?q=%20")
        self.assertEqual(doc["headers"]["x-uri"], "/cA")
        doc = self.backend_doc(b"GET /api/x%20y/../u%3fv%41?q HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(doc["uri"], "/v1/u%3FvA?q")
        # nginx's 400s, and an escaped CR LF, which nginx would put into $uri.
        for path in ("/..", "/a/../..", "/a%zz", "/a%00", "/a%0d%0aX-Injected:%201"):
            reply = self.request(f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
            self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), (path, reply[:100]))

    def test_missing_host_in_http10_gets_the_proxy_host(self):
        self.start(f"location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}")
        reply = self.request(b"GET / HTTP/1.0\r\n\r\n")
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertIn(b"Connection: close", head)
        doc = harness.echo_json(body)
        h = dict((k.lower(), v) for k, v in doc["header_list"])
        self.assertEqual(h["host"], f"127.0.0.1:{self.echo.port}")

    def test_ipv6_loopback_client(self):
        self.start(f"""
            location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}""",
                   listen_host="::1")
        doc = self.backend_doc(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        h = dict((k.lower(), v) for k, v in doc["header_list"])
        self.assertEqual(h["x-real-ip"], "::1")
        self.assertEqual(h["x-forwarded-for"], "::1")


class RoutingAndConnectionsTest(EngineTestCase):
    def test_round_robin_over_an_upstream_block(self):
        a = self.start_echo(name="a")
        b = self.start_echo(name="b")
        self.start("location / { proxy_pass http://pool; }",
                   upstream=f"upstream pool {{ server 127.0.0.1:{a.port}; "
                            f"server 127.0.0.1:{b.port}; }}", workers=1)
        names = [self.backend_doc(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                 ["server"] for _ in range(4)]
        self.assertEqual(sorted(names), ["a", "a", "b", "b"])
        self.assertNotEqual(names[0], names[1])

    def test_keep_alive_both_sides_and_upstream_connection_reuse(self):
        echo = self.start_echo()
        self.start("location / { proxy_pass http://pool; }",
                   upstream=f"upstream pool {{ server 127.0.0.1:{echo.port}; keepalive 4; }}",
                   workers=1)
        s = connect(self.port)
        ports = []
        for i in range(3):
            s.sendall(f"GET /{i} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
            status, headers, body, rest = harness.read_response(s)
            self.assertEqual(status, 200)
            self.assertIn(("Connection", "keep-alive"), headers)
            doc = harness.echo_json(body)
            self.assertEqual(doc["uri"], f"/{i}")
            self.assertNotIn("connection", doc["headers"])
            ports.append(doc["peer_port"])
        s.close()
        self.assertEqual(len(set(ports)), 1, ports)

    def test_pipelined_requests_are_answered_in_order(self):
        echo = self.start_echo()
        self.start(f"location / {{ proxy_pass http://127.0.0.1:{echo.port}; }}"
                   "\n location /r { return 200 \"local\"; }")
        s = connect(self.port)
        s.sendall(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                  b"GET /r HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        rest = b""
        seen = []
        for _ in range(4):
            status, headers, body, rest = harness.read_response(s, rest)
            self.assertEqual(status, 200)
            seen.append(body if body == b"local" else harness.echo_json(body)["uri"])
        self.assertEqual(seen, ["/1", "/2", b"local", "/4"])
        self.assertEqual(rest + s.recv(100), b"")
        s.close()

    def test_http10_keep_alive(self):
        echo = self.start_echo()
        self.start(f"location / {{ proxy_pass http://127.0.0.1:{echo.port}; }}")
        s = connect(self.port)
        rest = b""
        for i in range(2):
            s.sendall(f"GET /{i} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".encode())
            status, headers, body, rest = harness.read_response(s, rest)
            self.assertEqual(status, 200)
            self.assertIn(("Connection", "keep-alive"), headers)
            self.assertEqual(harness.echo_json(body)["uri"], f"/{i}")
        s.sendall(b"GET /last HTTP/1.0\r\n\r\n")
        status, headers, body, rest = harness.read_response(s, rest)
        self.assertIn(("Connection", "close"), headers)
        self.assertEqual(read_all(s), b"")
        s.close()

    def test_head_and_bodiless_responses(self):
        def respond(method, target, headers, body):
            if target == "/204":
                return b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
            if target == "/304":
                return b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"
            # A HEAD response announces the GET body's length and sends no body.
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
            return head if method == "HEAD" else head + b"x" * 100

        handler = serve_requests(respond)
        backend = self.start_to(handler)
        s = connect(self.port)
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /204 HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /304 HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /full HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = read_all(s)
        s.close()
        parts = data.split(b"\r\n\r\n")
        self.assertTrue(parts[0].startswith(b"HTTP/1.1 200 OK\r\n"), data)
        self.assertIn(b"Content-Length: 100", parts[0])
        self.assertTrue(parts[1].startswith(b"HTTP/1.1 204 No Content\r\n"), data)
        self.assertNotIn(b"Content-Length", parts[1])
        self.assertTrue(parts[2].startswith(b"HTTP/1.1 304 Not Modified\r\n"), data)
        self.assertTrue(parts[3].startswith(b"HTTP/1.1 200 OK\r\n"), data)
        self.assertEqual(parts[4], b"x" * 100)

    def test_chunked_request_body_is_streamed(self):
        echo = self.start_echo()
        self.start(f"location / {{ proxy_pass http://127.0.0.1:{echo.port}; }}")
        doc = self.backend_doc(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                               b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        self.assertEqual(doc["body_bytes"], 11)
        self.assertEqual(doc["headers"]["transfer-encoding"], "chunked")
        self.assertNotIn("content-length", doc["headers"])

    def test_chunked_and_close_delimited_responses_are_rechunked_for_http11(self):
        chunked = self.scripted(serve_fixed(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"))

        def close_delimited(sock, backend):
            read_request(sock)
            sock.sendall(b"HTTP/1.1 200 OK\r\n\r\nuntil-")
            sock.sendall(b"close")

        eof = self.scripted(close_delimited)
        self.start(f"location /c {{ proxy_pass http://127.0.0.1:{chunked.port}; }}\n"
                   f"location /e {{ proxy_pass http://127.0.0.1:{eof.port}; }}")
        s = connect(self.port)
        s.sendall(b"GET /c HTTP/1.1\r\nHost: a\r\n\r\n")
        status, headers, body, rest = harness.read_response(s)
        self.assertIn(("Transfer-Encoding", "chunked"), headers)
        self.assertEqual(body, b"abcdefg")
        s.sendall(b"GET /e HTTP/1.1\r\nHost: a\r\n\r\n")
        status, headers, body, rest = harness.read_response(s, rest)
        self.assertIn(("Transfer-Encoding", "chunked"), headers)
        self.assertEqual(body, b"until-close")
        s.close()
        reply = self.request(b"GET /e HTTP/1.0\r\n\r\n")
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertNotIn(b"chunked", head)
        self.assertEqual(body, b"until-close")

    def test_proxy_hide_header_content_length_keeps_the_framing(self):
        # nginx sends the length it parsed even when the line is hidden; without it a
        # keep-alive client cannot tell where the body ends.
        backend = self.scripted(serve_fixed(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"))
        self.start(f"location / {{ proxy_pass http://127.0.0.1:{backend.port}; "
                   f"proxy_hide_header Content-Length; proxy_hide_header Content-Type; }}")
        s = connect(self.port)
        s.settimeout(10)
        s.sendall(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = read_all(s)
        s.close()
        parts = data.split(b"\r\n\r\n")
        self.assertEqual(len(parts), 4, data)
        for head in parts[:3]:
            self.assertIn(b"\r\nContent-Length: 5\r\n", head)
            self.assertNotIn(b"Content-Type", head)
        self.assertTrue(parts[1].startswith(b"hello" + b"HTTP/1.1 200 OK\r\n"), data)
        self.assertTrue(parts[2].startswith(b"HTTP/1.1 200 OK\r\n"), data)
        self.assertEqual(parts[3], b"hello")

    def test_expect_100_continue(self):
        echo = self.start_echo()
        self.start(f"location / {{ proxy_pass http://127.0.0.1:{echo.port}; }}")
        s = connect(self.port)
        s.sendall(b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n"
                  b"Connection: close\r\n\r\n")
        head, rest = read_head(s)
        self.assertEqual((head, rest), (b"HTTP/1.1 100 Continue", b""))
        s.sendall(b"data")
        status, headers, body, _ = harness.read_response(s)
        self.assertEqual(status, 200)
        doc = harness.echo_json(body)
        self.assertEqual(doc["body_bytes"], 4)
        self.assertNotIn("expect", doc["headers"])
        s.close()

    def test_access_log_lines(self):
        echo = self.start_echo()
        log_path = f"{self.workdir}/access.log"
        self.start(f"""
            set_real_ip_from {TRUSTED};
            real_ip_header X-Forwarded-For;
            access_log {log_path} main;
            location / {{ proxy_pass http://127.0.0.1:{echo.port}; }}
            location /r {{ return 204; }}""",
                   http_extra='log_format main \'$remote_addr $realip_remote_addr "$request" '
                              '$status "$http_user_agent"\';',
                   workers=1)  # one access-log buffer: lines in request order
        self.request(b"GET /x HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.7\r\n"
                     b"User-Agent: a\"b\r\nConnection: close\r\n\r\n", source=TRUSTED)
        self.request(b"GET /r HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                     source=UNTRUSTED)
        self.request(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", source=UNTRUSTED)
        # Lines are buffered per worker for up to a second (access_log flush=).
        deadline = time.monotonic() + harness.READY_TIMEOUT
        lines = []
        while len(lines) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
            with open(log_path) as f:
                lines = f.read().splitlines()
        self.assertEqual(lines, [
            f'203.0.113.7 {TRUSTED} "GET /x HTTP/1.1" 200 "a\\x22b"',
            f'{UNTRUSTED} {UNTRUSTED} "GET /r HTTP/1.1" 204 "-"',
            # Rejected after its request line: logged with it, as nginx.
            f'{UNTRUSTED} {UNTRUSTED} "GET / HTTP/1.1" 400 "-"',
        ])

    def test_curl_get_and_post(self):
        echo = self.start_echo()
        self.start(f"location / {{ proxy_pass http://127.0.0.1:{echo.port}; }}")
        out = subprocess.run(["curl", "-sS", "--interface", TRUSTED, "-d", "x=1",
                              f"http://127.0.0.1:{self.port}/form"],
                             capture_output=True, timeout=30, check=True)
        doc = harness.echo_json(out.stdout)
        self.assertEqual(doc["method"], "POST")
        self.assertEqual(doc["body_bytes"], 3)
        self.assertEqual(doc["headers"]["x-real-ip"], TRUSTED)


if __name__ == "__main__":
    unittest.main()
