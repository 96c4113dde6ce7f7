"""Server and Date as nginx sends them: the proxy's own on every response (proxied, tunnel,
`return`, error pages), the upstream's Date, Server, X-Pad and X-Accel-* hidden unless
proxy_pass_header names them, and the same field names in the same places as Debian's nginx 1.22
with the same configuration."""
import email.utils
import shutil
import socket
import time
import unittest

import harness
from test_engine_backends import ScriptedBackend, read_request

UPSTREAM_DATE = "Mon, 01 Jan 2001 00:00:00 GMT"


def backend(sock, b):
    """/…/bare answers without Server and Date; /…/ws switches protocols; the rest carries the
    fields nginx hides by default, and /…/all also the X-Accel-* ones nginx would act on
    (an internal redirect, a charset, a rate limit)."""
    buffered = b""
    while True:
        req = read_request(sock, buffered)
        if req is None:
            return
        _, target, _, _, buffered = req
        if target.endswith("/ws"):
            sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nServer: upstream-srv\r\n"
                         b"Date: " + UPSTREAM_DATE.encode() + b"\r\nX-Pad: p\r\n"
                         b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            while sock.recv(65536):
                pass
            return
        if target.endswith("/bare"):
            sock.sendall(b"HTTP/1.1 200 OK\r\nX-First: 1\r\nContent-Length: 3\r\n\r\nhi\n")
            continue
        acted_on = (b"X-Accel-Redirect: /x\r\nx-accel-limit-rate: 1\r\nX-Accel-Charset: utf-8\r\n"
                    if target.endswith("/all") else b"")
        sock.sendall(b"HTTP/1.1 200 OK\r\nX-First: 1\r\nServer: upstream-srv\r\n"
                     b"Content-Type: text/plain\r\n"
                     b"Date: " + UPSTREAM_DATE.encode() + b"\r\nX-Pad: avoid browser bug\r\n"
                     b"X-Accel-Buffering: no\r\nX-Accel-Expires: 5\r\n" + acted_on +
                     b"X-Last: 2\r\nContent-Length: 3\r\n\r\nhi\n")


def config(port, backend_port, closed_port):
    up = f"http://127.0.0.1:{backend_port}"
    return f"""
worker_processes 1;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  server {{
    listen 127.0.0.1:{port};
    location /p/ {{ proxy_pass {up}; }}
    location /ps/ {{ proxy_pass {up}; proxy_pass_header Server; }}
    location /pd/ {{ proxy_pass {up}; proxy_pass_header Date; proxy_pass_header X-Pad; }}
    location /pn/ {{ proxy_pass {up}; proxy_pass_header Server; proxy_pass_header Date; }}
    location /ah/ {{ proxy_pass {up}; add_header Server mine; }}
    location /off/ {{ proxy_pass {up}; server_tokens off; }}
    location /ws/ {{
      proxy_pass {up};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection upgrade;
    }}
    location = /r {{ return 200 "x\\n"; }}
    location = /m {{ return 302 /elsewhere; }}
    location = /ma {{ return 302 http://elsewhere/; }}
    location = /me {{ return 302; }}
    location /none {{ }}
    location /down {{ proxy_pass http://127.0.0.1:{closed_port}; }}
  }}
}}
"""


def get(port, path, extra=b""):
    """One request on its own connection: (status, [(name, value)] in order)."""
    raw = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: test\r\n" + extra
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw + b"\r\n")
        head, _ = harness.recv_head(s)
    lines = head.decode("latin-1").split("\r\n")
    fields = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:] if line]
    return int(lines[0].split(" ")[1]), fields


def values(fields, name):
    return [v for n, v in fields if n.lower() == name.lower()]


def names(fields):
    return [n.lower() for n, _ in fields]


UPGRADE = b"Upgrade: websocket\r\nConnection: Upgrade\r\n"


class ServerDateTest(harness.TestCase):
    def start(self):
        self.backend = ScriptedBackend(backend)
        self.addCleanup(self.backend.stop)
        self.port = harness.free_port()
        self.start_proxy(config(self.port, self.backend.port, self.refused_port()),
                         wait=(("127.0.0.1", self.port),))
        self.version = self.run_proxy("-v").stderr.strip().rsplit("/", 1)[1]

    def assert_our_date(self, fields, what):
        dates = values(fields, "Date")
        self.assertEqual(len(dates), 1, (what, fields))
        self.assertRegex(dates[0], r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                         r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                         r"\d\d:\d\d:\d\d GMT$", what)
        sent = email.utils.parsedate_to_datetime(dates[0]).timestamp()
        # Not a timing assertion: only that it is this clock's date, not the upstream's.
        self.assertLess(abs(sent - time.time()), 3600, (what, dates[0]))

    def test_proxied_response_gets_ours_and_loses_the_hidden_fields(self):
        self.start()
        status, fields = get(self.port, "/p/all")
        self.assertEqual(status, 200)
        self.assertEqual(names(fields)[:2], ["server", "date"], fields)
        self.assertEqual(values(fields, "Server"), [f"realip-proxy/{self.version}"])
        self.assert_our_date(fields, "/p/all")
        for hidden in ("X-Pad", "X-Accel-Buffering", "X-Accel-Expires", "X-Accel-Redirect",
                       "X-Accel-Limit-Rate", "X-Accel-Charset"):
            self.assertEqual(values(fields, hidden), [], (hidden, fields))
        self.assertEqual(values(fields, "X-First"), ["1"])
        self.assertEqual(values(fields, "X-Last"), ["2"])
        _, fields = get(self.port, "/off/x")
        self.assertEqual(values(fields, "Server"), ["realip-proxy"])

    def test_proxy_pass_header_sends_the_upstreams_instead(self):
        self.start()
        _, fields = get(self.port, "/ps/x")
        self.assertEqual(values(fields, "Server"), ["upstream-srv"])
        self.assert_our_date(fields, "/ps/x")
        self.assertEqual(names(fields)[0], "date", fields)
        _, fields = get(self.port, "/pd/x")
        self.assertEqual(values(fields, "Server"), [f"realip-proxy/{self.version}"])
        self.assertEqual(values(fields, "Date"), [UPSTREAM_DATE])
        self.assertEqual(values(fields, "X-Pad"), ["avoid browser bug"])
        self.assertEqual(values(fields, "X-Accel-Buffering"), [], fields)
        # Passed but not sent by the upstream: none at all, as nginx 1.22.
        _, fields = get(self.port, "/pn/bare")
        self.assertEqual(values(fields, "Server"), [], fields)
        self.assertEqual(values(fields, "Date"), [], fields)
        # add_header Server comes on top of ours, as in nginx.
        _, fields = get(self.port, "/ah/x")
        self.assertEqual(values(fields, "Server"), [f"realip-proxy/{self.version}", "mine"])

    def test_tunnel_and_local_responses_carry_both(self):
        self.start()
        status, fields = get(self.port, "/ws/ws", UPGRADE)
        self.assertEqual(status, 101)
        self.assertEqual(names(fields)[:2], ["server", "date"], fields)
        self.assertEqual(values(fields, "Server"), [f"realip-proxy/{self.version}"])
        self.assert_our_date(fields, "101")
        self.assertEqual(values(fields, "X-Pad"), [])
        for path, want in (("/r", 200), ("/m", 302), ("/none", 404), ("/down", 502)):
            status, fields = get(self.port, path)
            self.assertEqual(status, want, path)
            self.assertEqual(names(fields)[:2], ["server", "date"], (path, fields))
            self.assert_our_date(fields, path)
        # An error before any request was routed: the 400 for a bad request line.
        reply = harness.http_request(self.port, b"GARBAGE\r\n\r\n")
        self.assertRegex(reply, rb"^HTTP/1.1 400 Bad Request\r\nServer: [^\r]+\r\n"
                         rb"Date: [^\r]+ GMT\r\n")

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_proxy_pass_header_errors_as_nginx(self):
        cases = {
            "no_name": "    location / {\n      proxy_pass_header;\n    }",
            "two_names": "    proxy_pass_header Server Date;",
        }
        for name, body in cases.items():
            with self.subTest(name=name):
                path = self.write_config(
                    "events {}\nhttp {\n  server {\n    listen 127.0.0.1:1;\n" + body +
                    "\n  }\n}\n", f"{name}.conf")
                self.assert_same_t_error(path)
        path = self.write_config("proxy_pass_header Server;\nevents {}\n", "main.conf")
        self.assert_same_t_error(path)
        path = self.write_config(
            "events {}\nhttp {\n  proxy_pass_header Server;\n  server {\n"
            "    proxy_pass_header X-Pad;\n    location / { proxy_pass_header Date; }\n  }\n}\n",
            "good.conf")
        r = self.run_proxy("-t", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_same_fields_as_nginx(self):
        """Same configuration text: the same field names in the same order: Server and Date
        first (when they are the proxy's own), then Content-Type, the framing and Connection,
        then the upstream's other fields in their order."""
        b = ScriptedBackend(backend)
        self.addCleanup(b.stop)
        closed = self.refused_port()
        ours_port, nginx_port = harness.free_port(), harness.free_port()
        self.start_proxy(config(ours_port, b.port, closed), wait=(("127.0.0.1", ours_port),))
        n = self.run_nginx(config(nginx_port, b.port, closed))
        harness.wait_for_port("127.0.0.1", nginx_port, n.proc)
        for path, extra in (("/p/x", b""), ("/ps/x", b""), ("/pd/x", b""), ("/pn/bare", b""),
                            ("/ah/x", b""), ("/off/x", b""), ("/ws/ws", UPGRADE), ("/r", b""),
                            ("/m", b""), ("/ma", b""), ("/me", b""), ("/none", b""),
                            ("/down", b"")):
            ours = get(ours_port, path, extra)
            theirs = get(nginx_port, path, extra)
            self.assertEqual(ours[0], theirs[0], path)
            self.assertEqual(names(ours[1]), names(theirs[1]), (path, ours, theirs))


if __name__ == "__main__":
    unittest.main()
