"""error_page end to end, side by side with Debian's nginx on the same server block: pages
reached by an internal redirect to a `return` location, a named location and a proxied one
(the backend sees GET and the page's URI), `=` and `=CODE`, redirects to a URL, upstream 502
and 504, proxy_intercept_errors on and off, recursive_error_pages on and off, the redirection
cycle, HEAD, and what the access log shows."""
import os
import re
import shutil
import socket
import subprocess
import unittest

import harness
from test_engine_backends import held_backend, serve_fixed
from test_engine_headers import EngineTestCase

# The server block both servers run; {echo}, {dead}, {slow} and {teapot} are backend ports.
SERVER = r"""
    large_client_header_buffers 2 1k;
    error_page 404 /404page;
    error_page 400 /badpage;
    error_page 494 =431 /badpage;
    location = /badpage {{ return 200 "bad page uri=$uri req=$request\n"; }}
    location /lim {{
      limit_req zone=once;
      error_page 502 /lim-page;
      proxy_pass http://127.0.0.1:{dead};
    }}
    location /small {{
      client_max_body_size 10;
      error_page 413 /proxied/too-large;
      proxy_pass http://127.0.0.1:{echo};
    }}
    location /lim-page {{ limit_req zone=once; proxy_pass http://127.0.0.1:{echo}; }}
    location = /404page {{
      return 200 "page uri=$uri args=$args is_args=$is_args method=$request_method ru=$request_uri req=$request\n";
    }}
    location = /missing {{ return 404; }}
    location = /text404 {{ return 404 "own text\n"; }}
    location = /redirect301 {{ error_page 301 /moved; return 301 /elsewhere; }}
    location = /moved {{ return 200 "moved uri=$uri\n"; }}
    location = /plain300 {{ error_page 300 /moved; return 300; }}
    location /denied {{ deny all; error_page 403 @forbidden; }}
    location @forbidden {{ return 200 "named uri=$uri method=$request_method\n"; }}
    location /nohandler/ {{ }}
    location /to-proxy {{ error_page 404 /proxied/page?x=1; return 404; }}
    location /to-proxy-eq {{ error_page 404 = /proxied/eq; return 404; }}
    location /to-named-proxy {{ error_page 404 = @backend; return 404; }}
    location @backend {{ proxy_pass http://127.0.0.1:{echo}; }}
    location /proxied/ {{ proxy_pass http://127.0.0.1:{echo}/base/; }}
    location /code {{ error_page 404 =410 /404page; return 404; }}
    location /code-eq {{ error_page 404 = /404page; return 404; }}
    location /url {{ error_page 404 http://example.com/away?from=$uri; return 404; }}
    location /url301 {{ error_page 404 =301 http://example.com/away; return 404; }}
    location /url-other {{ error_page 404 =410 https://example.com/x; return 404; }}
    location /dead {{ error_page 502 /502page; proxy_pass http://127.0.0.1:{dead}; }}
    location /dead-plain {{ proxy_pass http://127.0.0.1:{dead}; }}
    location = /502page {{ return 200 "bad gateway page\n"; }}
    location /slow {{
      proxy_read_timeout 1s;
      error_page 504 =503 /504page;
      proxy_pass http://127.0.0.1:{slow};
    }}
    location = /504page {{ return 200 "timeout page\n"; }}
    location /intercept-on/ {{
      proxy_intercept_errors on;
      error_page 418 /teapotpage;
      proxy_pass http://127.0.0.1:{teapot}/;
    }}
    location /intercept-off/ {{
      error_page 418 /teapotpage;
      proxy_pass http://127.0.0.1:{teapot}/;
    }}
    location /intercept-nopage/ {{
      proxy_intercept_errors on;
      error_page 404 /404page;
      proxy_pass http://127.0.0.1:{teapot}/;
    }}
    location = /teapotpage {{ return 200 "teapot page\n"; }}
    location /rec-off {{ error_page 404 /gone; return 404; }}
    location /gone {{ return 404; }}
    location /rec-on {{
      recursive_error_pages on;
      error_page 404 /gone-on;
      return 404;
    }}
    location /gone-on {{
      recursive_error_pages on;
      error_page 404 =200 /404page;
      return 404;
    }}
    location /cycle {{
      recursive_error_pages on;
      error_page 404 /cycle;
      return 404;
    }}
    location /to-denied {{ error_page 404 /denied-page; return 404; }}
    location /denied-page {{ deny all; proxy_pass http://127.0.0.1:{echo}; }}
"""

HTTP = "limit_req_zone $binary_remote_addr zone=once:1m rate=1r/m;"

TEAPOT = b"HTTP/1.1 418 I'm a teapot\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nfrom backend\n"


def normalized(body, port):
    """The standard pages name their server in the footer; Locations carry the port."""
    body = re.sub(rb"<hr><center>[^<]*</center>", b"<hr><center>SERVER</center>", body)
    return body.replace(str(port).encode(), b"PORT")


def exchange(port, method, path, extra=b"", body=b""):
    """One request on a new keep-alive connection: (status, {lower name: value}, body). A body
    gets a Content-Length unless `extra` frames it."""
    length = b"" if not body or b"Transfer-Encoding" in extra else b"Content-Length: %d\r\n" % len(
        body)
    raw = f"{method} {path} HTTP/1.1\r\nHost: errpage.test\r\n".encode() + extra + length + (
        b"\r\n" + body)
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(raw)
        if method == "HEAD":
            head, _ = harness.recv_head(s)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
            return status, {k.lower(): v for k, v in headers}, b""
        status, headers, data, _ = harness.read_response(s)
    return status, {k.lower(): v for k, v in headers}, data


@unittest.skipUnless(shutil.which("nginx"), "nginx not installed")
class ErrorPageTest(EngineTestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.start_echo()
        self.dead = self.refused_port()
        self.slow, _, _ = held_backend(self)
        self.teapot = self.scripted(serve_fixed(TEAPOT))
        body = SERVER.format(echo=self.echo.port, dead=self.dead, slow=self.slow.port,
                             teapot=self.teapot.port)
        self.log_path = os.path.join(self.workdir, "access.log")
        self.start(body, http_extra=f"""
            log_format page '$status $request_method $uri "$args" "$request_uri" "$request"';
            access_log {self.log_path} page buffer=0;
            {HTTP}""")
        self.nginx_port = harness.free_port()
        nginx = self.run_nginx(f"""
error_log stderr info;
events {{ }}
http {{
  access_log off;
  {HTTP}
  server {{
    listen 127.0.0.1:{self.nginx_port};
    {body}
  }}
}}
""")
        harness.wait_for_port("127.0.0.1", self.nginx_port, nginx.proc)

    def both(self, method, path, extra=b"", body=b"", skip=()):
        """The same request to both servers; asserts the same status, body and key headers
        (but those in `skip`), and returns ours."""
        ours = exchange(self.port, method, path, extra, body)
        theirs = exchange(self.nginx_port, method, path, extra, body)
        self.assertEqual(ours[0], theirs[0], (method, path, ours, theirs))
        names = ["content-type", "location", "connection"]
        if method == "HEAD":
            pass
        elif theirs[1].get("content-type") == "application/json":
            # The backend's account of the request: the headers differ (Host, X-Real-IP...).
            fields = ("method", "uri", "body_bytes")
            self.assertEqual([harness.echo_json(ours[2])[f] for f in fields],
                             [harness.echo_json(theirs[2])[f] for f in fields], (method, path))
        else:
            self.assertEqual(normalized(ours[2], self.port),
                             normalized(theirs[2], self.nginx_port), (method, path))
            if b"<hr><center>" not in theirs[2]:
                names.append("content-length")
        for name in [n for n in names if n not in skip]:
            want = theirs[1].get(name)
            got = ours[1].get(name)
            if name == "location" and want is not None:
                want = want.replace(str(self.nginx_port), "PORT")
                got = (got or "").replace(str(self.port), "PORT")
            self.assertEqual(got, want, (method, path, name, ours, theirs))
        return ours

    def test_return_code_goes_to_a_return_location_with_the_error_status(self):
        status, _, body = self.both("GET", "/missing?a=1")
        self.assertEqual(status, 404)
        self.assertEqual(body, b"page uri=/404page args= is_args= method=GET "
                               b"ru=/missing?a=1 req=GET /missing?a=1 HTTP/1.1\n")
        # The method becomes GET; the request line stays.
        status, _, body = self.both("POST", "/missing", body=b"data")
        self.assertEqual(status, 404)
        self.assertIn(b"method=GET ru=/missing req=POST /missing HTTP/1.1", body)
        # A location without handler answers 404 too.
        self.assertEqual(self.both("GET", "/nohandler/x")[2][:17], b"page uri=/404page")

    def test_what_error_page_does_not_take(self):
        self.assertEqual(self.both("GET", "/text404")[2], b"own text\n")
        self.assertEqual(self.both("GET", "/plain300")[0], 300)
        # A redirect's code goes through error_page; the page's answer keeps the Location.
        status, headers, body = self.both("GET", "/redirect301")
        self.assertEqual((status, body), (301, b"moved uri=/moved\n"))
        self.assertEqual(headers["location"], f"http://errpage.test:{self.port}/elsewhere")

    def test_named_location_keeps_method_and_uri(self):
        status, _, body = self.both("POST", "/denied/x", body=b"abc")
        self.assertEqual((status, body), (403, b"named uri=/denied/x method=POST\n"))
        status, _, body = self.both("GET", "/to-named-proxy/n?q=2")
        self.assertEqual(status, 200)
        seen = harness.echo_json(body)
        self.assertEqual((seen["method"], seen["uri"]), ("GET", "/to-named-proxy/n?q=2"))

    def test_proxied_page_gets_get_and_the_new_uri(self):
        status, _, body = self.both("GET", "/to-proxy?orig=1")
        self.assertEqual(status, 404)
        seen = harness.echo_json(body)
        self.assertEqual((seen["method"], seen["uri"]), ("GET", "/base/page?x=1"))
        status, _, body = self.both("DELETE", "/to-proxy-eq")
        self.assertEqual(status, 200)
        seen = harness.echo_json(body)
        self.assertEqual((seen["method"], seen["uri"]), ("GET", "/base/eq"))
        self.assertEqual(seen["body_bytes"], 0)

    def test_equals_and_equals_code(self):
        self.assertEqual(self.both("GET", "/code")[0], 410)
        self.assertEqual(self.both("GET", "/code-eq")[0], 200)

    def test_redirect_to_a_url(self):
        status, headers, _ = self.both("GET", "/url")
        self.assertEqual((status, headers["location"]), (302, "http://example.com/away?from=/url"))
        self.assertEqual(self.both("GET", "/url301")[0], 301)
        self.assertEqual(self.both("GET", "/url-other")[0], 302)

    def test_upstream_502_and_504(self):
        status, _, body = self.both("GET", "/dead")
        self.assertEqual((status, body), (502, b"bad gateway page\n"))
        # Without a page the proxy closes after a 502 (nginx keeps the connection).
        self.assertEqual(self.both("GET", "/dead-plain", skip=("connection",))[0], 502)
        status, _, body = self.both("GET", "/slow")
        self.assertEqual((status, body), (503, b"timeout page\n"))

    def test_proxy_intercept_errors(self):
        status, _, body = self.both("GET", "/intercept-on/x")
        self.assertEqual((status, body), (418, b"teapot page\n"))
        status, _, body = self.both("GET", "/intercept-off/x")
        self.assertEqual((status, body), (418, b"from backend\n"))
        # A status without an error_page passes.
        status, _, body = self.both("GET", "/intercept-nopage/x")
        self.assertEqual((status, body), (418, b"from backend\n"))

    def test_recursive_error_pages(self):
        status, _, body = self.both("GET", "/rec-off")
        self.assertEqual(status, 404)
        self.assertIn(b"<title>404 Not Found</title>", body)
        status, _, body = self.both("GET", "/rec-on")
        self.assertEqual(status, 200)
        self.assertIn(b"page uri=/404page", body)
        status, _, body = self.both("GET", "/cycle")
        self.assertEqual(status, 500)
        self.assertIn(b"<title>500 Internal Server Error</title>", body)
        self.assertIn("rewrite or internal redirection cycle while internally redirecting to "
                      "\"/cycle\"", self.proxy.output())
        # allow/deny are checked in the page's location.
        status, _, body = self.both("GET", "/to-denied")
        self.assertEqual(status, 403)
        self.assertIn(b"<title>403 Forbidden</title>", body)

    def test_head(self):
        status, headers, _ = self.both("HEAD", "/missing")
        self.assertEqual(status, 404)
        status, headers, _ = self.both("HEAD", "/to-proxy-eq")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")

    def test_bad_request_heads_reach_the_servers_pages(self):
        status, headers, body = self.both("GET", "/x", b"Bad Header: x\r\n")
        self.assertEqual((status, headers["connection"]), (400, "close"))
        self.assertEqual(body, b"bad page uri=/badpage req=GET /x HTTP/1.1\n")
        # Over large_client_header_buffers: nginx's 494, with its own page when one is set.
        status, _, body = self.both("GET", "/x", b"X-Big: " + b"a" * 2000 + b"\r\n")
        self.assertEqual((status, body), (431, b"bad page uri=/badpage req=GET /x HTTP/1.1\n"))

    def test_413(self):
        status, headers, body = self.both("POST", "/small", body=b"x" * 100)
        self.assertEqual((status, headers["connection"]), (413, "close"))
        seen = harness.echo_json(body)
        self.assertEqual((seen["method"], seen["uri"]), ("GET", "/base/too-large"))
        # A chunked body found too large while it streams.
        chunked = b"Transfer-Encoding: chunked\r\n"
        body = b"".join(b"%x\r\n%s\r\n" % (20, b"y" * 20) for _ in range(5)) + b"0\r\n\r\n"
        status, _, page = exchange(self.port, "POST", "/small", chunked, body)
        self.assertEqual(status, 413)
        self.assertEqual(harness.echo_json(page)["uri"], "/base/too-large")
        self.assertEqual(exchange(self.nginx_port, "POST", "/small", chunked, body)[0], 413)

    def test_limit_req_counts_a_request_once(self):
        # One request a minute: the page's location, with the same limit, does not count the
        # request again.
        status, _, body = self.both("GET", "/lim")
        self.assertEqual(status, 502)
        self.assertEqual(harness.echo_json(body)["uri"], "/lim-page")

    def test_keep_alive_after_a_page(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=15) as s:
            s.sendall(b"POST /missing HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                      b"GET /to-proxy HTTP/1.1\r\nHost: a\r\n\r\n")
            status, _, body, rest = harness.read_response(s)
            self.assertEqual(status, 404)
            status, _, body, _ = harness.read_response(s, rest)
            self.assertEqual(status, 404)
            self.assertEqual(harness.echo_json(body)["uri"], "/base/page?x=1")

    def test_access_log_shows_the_final_status_and_uri(self):
        exchange(self.port, "POST", "/missing?a=1", body=b"x")
        exchange(self.port, "GET", "/code")
        exchange(self.port, "GET", "/dead")
        def log_lines():
            if not os.path.exists(self.log_path):
                return None
            with open(self.log_path) as f:
                lines = f.read().splitlines()
            return lines if len(lines) >= 3 else None

        lines = harness.wait_until(log_lines, "three log lines")
        self.assertEqual(lines[:3], [
            '404 GET /404page "-" "/missing?a=1" "POST /missing?a=1 HTTP/1.1"',
            '410 GET /404page "-" "/code" "GET /code HTTP/1.1"',
            '502 GET /502page "-" "/dead" "GET /dead HTTP/1.1"',
        ])


@unittest.skipUnless(shutil.which("nginx"), "nginx not installed")
class PlainHttpToHttpsTest(harness.TestCase):
    """nginx's 497 (plain HTTP on a TLS port) reaches the server level's error_page."""

    def test_497_redirect_and_page(self):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "t.key", "-out",
                        "t.crt", "-days", "2", "-subj", "/CN=errpage.test"],
                       cwd=self.workdir, check=True, capture_output=True)
        os.chmod(self.workdir, 0o755)
        for name in ("t.key", "t.crt"):
            os.chmod(os.path.join(self.workdir, name), 0o644)

        def config(port, page_port):
            return f"""
error_log stderr info;
events {{ }}
http {{
  access_log off;
  ssl_certificate {self.workdir}/t.crt;
  ssl_certificate_key {self.workdir}/t.key;
  server {{
    listen 127.0.0.1:{port} ssl;
    error_page 497 =301 https://$host:$server_port$request_uri;
    location / {{ return 200 "ok\n"; }}
  }}
  server {{
    listen 127.0.0.1:{page_port} ssl;
    error_page 497 /plain;
    location = /plain {{ return 200 "plain page uri=$uri\n"; }}
  }}
}}
"""
        ours, ours_page = harness.free_port(), harness.free_port()
        self.start_proxy(config(ours, ours_page),
                         wait=(("127.0.0.1", ours), ("127.0.0.1", ours_page)))
        theirs, theirs_page = harness.free_port(), harness.free_port()
        nginx = self.run_nginx(config(theirs, theirs_page))
        harness.wait_for_port("127.0.0.1", theirs, nginx.proc)
        harness.wait_for_port("127.0.0.1", theirs_page, nginx.proc)
        got = exchange(ours, "GET", "/x?y=1")
        want = exchange(theirs, "GET", "/x?y=1")
        self.assertEqual((got[0], got[1]["location"].replace(str(ours), "PORT")),
                         (want[0], want[1]["location"].replace(str(theirs), "PORT")))
        self.assertEqual(got[1]["location"], f"https://errpage.test:{ours}/x?y=1")
        got = exchange(ours_page, "GET", "/x")
        want = exchange(theirs_page, "GET", "/x")
        self.assertEqual((got[0], got[2]), (want[0], want[2]))
        self.assertEqual((got[0], got[2]), (400, b"plain page uri=/plain\n"))


if __name__ == "__main__":
    unittest.main()
