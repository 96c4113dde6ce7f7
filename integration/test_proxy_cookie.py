"""proxy_cookie_domain and proxy_cookie_path: the Set-Cookie lines of a backend's response
through realip-proxy and through nginx 1.22 with the same configuration and the same backend,
compared line by line as received (spaces included); `-t` errors as nginx prints them."""
import shutil
import socket
import unittest

import harness
from test_engine_backends import ScriptedBackend, serve_fixed

# What the backend sends, in this order, on every response.
SET_COOKIE_LINES = [
    b"Set-Cookie: a=1; Domain=.Example.COM; Path=/app/x",
    b"Set-Cookie: b=2;domain=example.com;path=/app",
    b"Set-Cookie: c = 3 ;  PATH = /application ; HttpOnly",
    b"Set-Cookie: d=4; Path=/other; domain=sub.example.com",
    b"Set-Cookie: e=5; domain; path",
    b"Set-Cookie: nodelim; path=/app",
    b"Set-Cookie: f=6; path=/app; ",
    b"Set-Cookie: g=7; Secure",
    b"Set-Cookie: h=8; domain=.other.org; path=/app/",
    b"Set-Cookie: i=9;path=/app;path=/app/z;Domain=EXAMPLE.COM",
    b"Set-Cookie: j=\tx; path=\t/app",
    b"set-cookie: k=1; path=/app; SameSite=Lax; Max-Age=60",
    b"SET-COOKIE: path=/app; domain=example.com",
    b"Set-Cookie: l=1; domain=site.test; path=/from/deep",
    b"X-Set-Cookie: m=1; path=/app",
    b"Set-Cookie2: n=1; path=/app",
]

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + b"\r\n".join(SET_COOKIE_LINES)
            + b"\r\n\r\nok")

CONFIG = """
  proxy_cookie_domain .example.com new.example.net;
  proxy_cookie_domain other.org $host;
  upstream backend {{ server 127.0.0.1:{backend_port}; keepalive 4; }}
  server {{
    listen 127.0.0.1:{port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_cookie_path /app /v2/app;
    proxy_cookie_path /application /APP;
    location / {{ proxy_pass http://backend; }}
    location /own/ {{ proxy_pass http://backend; proxy_cookie_path / /own/; }}
    location /off/ {{
      proxy_pass http://backend;
      proxy_cookie_domain off;
      proxy_cookie_path off;
    }}
    location /pathoff/ {{
      proxy_pass http://backend;
      proxy_cookie_path off;
      location /pathoff/nested/ {{ proxy_pass http://backend; }}
    }}
    location /vars/ {{
      proxy_pass http://backend;
      proxy_cookie_domain $host $http_x_to;
      proxy_cookie_path /$http_x_from/ /to/;
    }}
  }}
"""

# (path, extra request header lines)
CASES = [
    ("/", ""),
    ("/own/", ""),
    ("/off/", ""),
    ("/pathoff/", ""),
    ("/pathoff/nested/", ""),
    ("/vars/", "X-To: moved.test\r\nX-From: from\r\n"),
    ("/vars/", "X-From: app/\r\n"),
    ("/vars/", ""),
]


def set_cookie_lines(port, path, extra):
    """One GET on a connection of its own; the raw header lines the client received whose
    name is Set-Cookie in any case, in order, as sent."""
    raw = f"GET {path} HTTP/1.1\r\nHost: site.test\r\n{extra}Connection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return [line for line in head.split("\r\n")[1:]
            if line.split(":", 1)[0].lower() == "set-cookie"]


class ProxyCookieTest(harness.TestCase):
    def start_pair(self):
        backend = ScriptedBackend(serve_fixed(RESPONSE))
        self.addCleanup(backend.stop)
        return self.start_proxy_and_nginx(
            lambda port: CONFIG.format(port=port, backend_port=backend.port))

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_set_cookie_lines_match_nginx(self):
        ports = self.start_pair()
        for path, extra in CASES:
            with self.subTest(path=path, extra=extra):
                ours = set_cookie_lines(ports["proxy"], path, extra)
                theirs = set_cookie_lines(ports["nginx"], path, extra)
                self.assertEqual(len(ours), 14)
                self.assertEqual(ours, theirs)

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_expected_values(self):
        # The comparison above could pass with both wrong; the values people rely on.
        port = self.start_pair()["proxy"]
        lines = set_cookie_lines(port, "/", "")
        self.assertEqual(lines[0], "Set-Cookie: a=1; Domain=.new.example.net; Path=/v2/app/x")
        self.assertEqual(lines[1], "Set-Cookie: b=2; domain=new.example.net; path=/v2/app")
        self.assertEqual(lines[2], "Set-Cookie: c=3; PATH=/v2/application; HttpOnly")
        self.assertEqual(lines[3], "Set-Cookie: d=4; Path=/other; domain=sub.example.com")
        self.assertEqual(lines[8], "Set-Cookie: h=8; domain=.site.test; path=/v2/app/")
        off = set_cookie_lines(port, "/off/", "")
        self.assertEqual(off[0], "Set-Cookie: a=1; Domain=.Example.COM; Path=/app/x")
        self.assertEqual(set_cookie_lines(port, "/own/", "")[3],
                         "Set-Cookie: d=4; Path=/own/other; domain=sub.example.com")
        self.assertEqual(
            set_cookie_lines(port, "/vars/", "X-To: moved.test\r\nX-From: from\r\n")[13],
            "Set-Cookie: l=1; domain=moved.test; path=/to/deep")

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_config_errors_are_nginxs(self):
        cases = {
            "off_twice": "proxy_cookie_path off; proxy_cookie_path off;",
            "rule_then_off": "proxy_cookie_domain a b; proxy_cookie_domain off;",
            "off_then_rule": "proxy_cookie_domain off; proxy_cookie_domain a b;",
            "bad_parameter": "proxy_cookie_path on;",
            "three_args": "proxy_cookie_domain a b c;",
            "no_args": "proxy_cookie_path;",
        }
        self.assert_same_location_t_errors(cases)
        # Ours alone: regular expressions are refused, not ignored.
        self.assert_proxy_t_error(
            "events {}\nhttp {\n  server {\n    location / {\n"
            "      proxy_cookie_domain ~^(.+)\\.internal$ $1.example.com;\n    }\n  }\n}\n",
            "regex.conf",
            'regular expressions in "proxy_cookie_domain" are not supported: '
            '"~^(.+)\\.internal$" in {path}:5')


if __name__ == "__main__":
    unittest.main()
