"""proxy_redirect: the Location and Refresh headers of upstream responses through realip-proxy
and through nginx 1.22 with the same server block and the same backend, compared header by
header; the proxy's own redirects untouched; `-t` errors as nginx prints them."""
import shutil
import socket
import unittest
import urllib.parse

import harness
from test_engine_backends import ScriptedBackend


def redirect_handler(sock, backend):
    """Keep-alive backend: answers 302 with the Location and Refresh given in the query
    (`loc=`, `ref=`), and records each request-target."""
    data = b""
    while True:
        got = harness.recv_head(sock, data)
        if got is None:
            return
        head, data = got
        target = head.split(b" ")[1].decode("latin-1")
        backend.record(target)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
        lines = [b"HTTP/1.1 302 Found", b"Content-Length: 0"]
        for key, name in (("loc", b"Location"), ("ref", b"Refresh")):
            for value in query.get(key, []):
                lines.append(name + b": " + value.encode("latin-1"))
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")


def server_block(port, backend_port):
    return f"""
  upstream backend {{ server 127.0.0.1:{backend_port}; keepalive 4; }}
  server {{
    listen 127.0.0.1:{port};
    server_name named.test site.test;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location / {{ proxy_pass http://backend; }}
    location /app/ {{
      proxy_pass http://backend/x/;
      location /app/inner/ {{ proxy_pass http://127.0.0.1:{backend_port}/in/; }}
    }}
    location = /exact {{ proxy_pass http://backend/y; }}
    location /rules/ {{
      proxy_pass http://backend;
      proxy_redirect http://backend/old/ /new/;
      proxy_redirect http://backend/ http://moved.test/;
      proxy_redirect /rel/ /relative/;
      proxy_redirect http://$host/ https://$host:8443/;
    }}
    location /off/ {{ proxy_pass http://backend; proxy_redirect off; }}
    location = /own {{ return 302 http://backend/own; }}
    location = /own-relative {{ return 301 /elsewhere?a=1; }}
    location /noabs/ {{ proxy_pass http://backend; absolute_redirect off; }}
    location /noport/ {{ proxy_pass http://backend; port_in_redirect off; }}
    location /sname/ {{ proxy_pass http://backend; server_name_in_redirect on; }}
    location = /own-noabs {{ absolute_redirect off; return 302 /x; }}
    location = /own-noport {{ port_in_redirect off; return 302 /x; }}
    location = /own-sname {{ server_name_in_redirect on; return 302 /x; }}
  }}
"""


# (path, extra request header lines); the query says what the backend answers.
CASES = [
    ("/?loc=http://backend/login", ""),
    ("/?loc=http://backend/", ""),
    ("/?loc=http://Backend/login", ""),
    ("/?loc=http://backend", ""),
    ("/?loc=/login", ""),
    ("/?loc=http://elsewhere.test/a", ""),
    ("/?loc=http://backend/a", "Host: WWW.Site.Test:9999\r\n"),
    ("/?loc=http://backend/a", "HTTP/1.0"),  # no Host: the local address
    ("/?ref=5;+URL=http://backend/a", ""),
    ("/?ref=0;url=http://backend/a&loc=http://backend/b", ""),
    ("/?ref=5", ""),
    ("/app/?loc=http://backend/x/login", ""),
    ("/app/?loc=http://backend/login", ""),
    ("/app/inner/?loc=http://backend/x/deep", ""),
    ("/app/inner/?loc=http://127.0.0.1:{backend_port}/in/deep", ""),
    ("/exact?loc=http://backend/y/z", ""),
    ("/rules/?loc=http://backend/old/page", ""),
    ("/rules/?loc=http://backend/page", ""),
    ("/rules/?loc=/rel/x", ""),
    ("/rules/?loc=http://site.test/x", ""),
    ("/rules/?ref=1;url=http://backend/old/r", ""),
    ("/off/?loc=http://backend/login", ""),
    ("/own", ""),
    ("/own-relative", ""),
    ("/own-relative", "Host: WWW.Site.Test:9999\r\n"),
    ("/own-relative", "HTTP/1.0"),
    ("/noabs/?loc=http://backend/login", ""),
    ("/noport/?loc=http://backend/login", ""),
    ("/sname/?loc=http://backend/login", ""),
    ("/own-noabs", ""),
    ("/own-noport", ""),
    ("/own-sname", ""),
    ("/own-noport", "HTTP/1.0"),
]


def redirect_headers(port, path, extra):
    """One GET on a connection of its own (`extra`: header lines, or "HTTP/1.0" for a request
    without Host); returns the Location and Refresh lines the client received."""
    if extra == "HTTP/1.0":
        raw = f"GET {path} HTTP/1.0\r\n\r\n".encode()
    else:
        host = "" if extra.startswith("Host:") else "Host: site.test\r\n"
        raw = f"GET {path} HTTP/1.1\r\n{host}{extra}Connection: close\r\n\r\n".encode()
    # One response read, no half-close first: nginx takes that for a client gone away.
    _, headers, _, _ = harness.http_request(port, raw, read_all=False)
    return [f"{k}: {v}" for k, v in headers if k.lower() in ("location", "refresh")]


class ProxyRedirectTest(harness.TestCase):
    def start_pair(self):
        backend = ScriptedBackend(redirect_handler)
        self.addCleanup(backend.stop)
        return backend, self.start_proxy_and_nginx(lambda port: server_block(port, backend.port))

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_location_and_refresh_match_nginx(self):
        backend, ports = self.start_pair()
        for path, extra in CASES:
            path = path.format(backend_port=backend.port)
            with self.subTest(path=path, extra=extra):
                # Each names its own listening port in an absolute Location.
                ours = [h.replace(f":{ports['proxy']}/", ":PORT/")
                        for h in redirect_headers(ports["proxy"], path, extra)]
                theirs = [h.replace(f":{ports['nginx']}/", ":PORT/")
                          for h in redirect_headers(ports["nginx"], path, extra)]
                self.assertEqual(ours, theirs)

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_expected_values(self):
        # The comparison above could pass with both wrong; the values people rely on.
        backend, ports = self.start_pair()
        port = ports["proxy"]
        self.assertEqual(redirect_headers(port, "/?loc=http://backend/login", ""),
                         [f"Location: http://site.test:{port}/login"])
        self.assertEqual(redirect_headers(port, "/app/?loc=http://backend/x/login", ""),
                         [f"Location: http://site.test:{port}/app/login"])
        self.assertEqual(redirect_headers(port, "/?ref=5;+URL=http://backend/a", ""),
                         ["Refresh: 5; URL=/a"])
        self.assertEqual(redirect_headers(port, "/rules/?loc=http://site.test/x", ""),
                         ["Location: https://site.test:8443/x"])
        self.assertEqual(redirect_headers(port, "/off/?loc=http://backend/login", ""),
                         ["Location: http://backend/login"])
        self.assertEqual(redirect_headers(port, "/own", ""),
                         ["Location: http://backend/own"])
        # The proxy's own relative redirect goes out absolute too, as nginx's header filter
        # makes every Location.
        self.assertEqual(redirect_headers(port, "/own-relative", ""),
                         [f"Location: http://site.test:{port}/elsewhere?a=1"])
        # absolute_redirect, port_in_redirect and server_name_in_redirect.
        self.assertEqual(redirect_headers(port, "/noabs/?loc=http://backend/login", ""),
                         ["Location: /login"])
        self.assertEqual(redirect_headers(port, "/noport/?loc=http://backend/login", ""),
                         ["Location: http://site.test/login"])
        self.assertEqual(redirect_headers(port, "/own-sname", ""),
                         [f"Location: http://named.test:{port}/x"])

    def test_keep_alive_requests_each_get_their_own_value(self):
        # Several rewritten and untouched responses on one client connection (the values share
        # memory the worker reuses).
        backend = ScriptedBackend(redirect_handler)
        self.addCleanup(backend.stop)
        port = harness.free_port()
        self.start_proxy("events { }\nhttp {\n  access_log off;\n"
                         + server_block(port, backend.port) + "}\n",
                         wait=(("127.0.0.1", port),))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            rest = b""
            for i in range(6):
                loc = f"http://backend/p{i}" if i % 2 == 0 else f"http://other/p{i}"
                s.sendall(f"GET /?loc={loc}&loc=http://backend/q{i} HTTP/1.1\r\n"
                          f"Host: site.test\r\n\r\n".encode())
                status, headers, _, rest = harness.read_response(s, rest)
                self.assertEqual(status, 302)
                got = [v for k, v in headers if k.lower() == "location"]
                first = (f"http://site.test:{port}/p{i}" if i % 2 == 0 else loc)
                self.assertEqual(got, [first, f"http://site.test:{port}/q{i}"])
        self.assertEqual(backend.connections, 1)

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_config_errors_are_nginxs(self):
        pass_line = "proxy_pass http://127.0.0.1:1;"
        cases = {
            "default_before_proxy_pass": f"proxy_redirect default; {pass_line}",
            "off_twice": f"{pass_line} proxy_redirect off; proxy_redirect off;",
            "rule_then_off": f"{pass_line} proxy_redirect a b; proxy_redirect off;",
            "bad_parameter": f"{pass_line} proxy_redirect on;",
            "three_args": f"{pass_line} proxy_redirect a b c;",
        }
        self.assert_same_location_t_errors(cases)
        # Ours alone: regular expressions are refused, not ignored.
        self.assert_proxy_t_error(
            "events {}\nhttp {\n  server {\n    location / {\n      " + pass_line +
            "\n      proxy_redirect ~^http://a(/.*)$ $1;\n    }\n  }\n}\n", "regex.conf",
            'regular expressions in "proxy_redirect" are not supported: '
            '"~^http://a(/.*)$" in {path}:6')


if __name__ == "__main__":
    unittest.main()
