"""add_header end to end: which responses carry the added fields (upstream responses through
realip-echo and a scripted backend, `return`, the proxy's own error pages, metrics), with
variables and http/server/location inheritance, and the same configuration side by side with
Debian's nginx 1.22, field by field and in order."""
import re
import shutil
import socket
import unittest

import harness
from test_engine_backends import ScriptedBackend, read_request, serve_requests

# The added fields and the upstream fields nginx also passes on; the ones each server writes
# its own way (Server, Date, framing, Location's form, Content-Type) are left out.
COMPARED = {"x-http", "x-srv", "x-srv2", "x-a", "x-al", "x-e", "x-ea", "x-r", "x-m", "x-b",
            "x-d", "x-da", "x-up", "x-up-copy", "cache-control", "etag", "last-modified",
            "x-status"}


def backend_response(method, target, headers, body):
    """Answers /.../CODE with status CODE and upstream fields that add_header meets."""
    m = re.search(r"/(\d{3})$", target.split("?")[0])
    status = int(m.group(1)) if m else 200
    payload = b"" if status in (204, 304) else b"hi\n"
    length = b"" if status in (204, 304) else b"Content-Length: 3\r\n"
    return (f"HTTP/1.1 {status} X\r\n".encode() +
            b"ETag: \"up\"\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
            b"Cache-Control: no-store\r\nX-Up: 1\r\n" + length + b"\r\n" + payload)


def get(port, path, extra=b"", method=b"GET"):
    """One request on a new connection: (status, [(name, value)] in order)."""
    raw = method + b" " + path.encode() + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
    # Read to the close without half-closing first: nginx takes a half-close while it waits
    # for the upstream for a client that went away.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw + extra + b"\r\n")
        reply = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            reply += data
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    fields = [tuple(x.strip() for x in line.split(":", 1)) for line in head[1:]]
    return int(head[0].split(" ")[1]), fields


def values(fields, name):
    return [v for n, v in fields if n.lower() == name.lower()]


def compared(fields):
    return [(n.lower(), v) for n, v in fields if n.lower() in COMPARED]


class AddHeaderTest(harness.TestCase):
    def start(self, body, http_extra=""):
        self.port = harness.free_port()
        text = f"""
worker_processes 1;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  {http_extra}
  server {{
    listen 127.0.0.1:{self.port};
    {body}
  }}
}}
"""
        self.proxy = self.start_proxy(text, wait=(("127.0.0.1", self.port),))

    def backend(self):
        b = ScriptedBackend(serve_requests(backend_response))
        self.addCleanup(b.stop)
        return b

    def test_upstream_statuses_and_always(self):
        b = self.backend()
        self.start(f"""
    location / {{
      proxy_pass http://127.0.0.1:{b.port};
      add_header X-A a;
      add_header X-Al al always;
    }}""")
        for status in (200, 201, 204, 206, 301, 302, 303, 304, 307, 308):
            got, fields = get(self.port, f"/{status}")
            self.assertEqual(got, status)
            self.assertEqual(values(fields, "X-A"), ["a"], status)
            self.assertEqual(values(fields, "X-Al"), ["al"], status)
        for status in (202, 400, 403, 404, 500, 502, 503):
            got, fields = get(self.port, f"/{status}")
            self.assertEqual(got, status)
            self.assertEqual(values(fields, "X-A"), [], status)
            self.assertEqual(values(fields, "X-Al"), ["al"], status)

    def test_tunnel_101_only_always(self):
        def upgrade(sock, backend):
            read_request(sock)
            sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\n\r\n")
            while sock.recv(65536):
                pass

        b = ScriptedBackend(upgrade)
        self.addCleanup(b.stop)
        self.start(f"""
    location / {{
      proxy_pass http://127.0.0.1:{b.port};
      add_header X-A a;
      add_header X-Al al always;
    }}""")
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                data = s.recv(65536)
                self.assertTrue(data, head)
                head += data
        self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
        self.assertIn(b"\r\nConnection: upgrade\r\nUpgrade: websocket\r\nX-Al: al\r\n\r\n", head)
        self.assertNotIn(b"X-A:", head)

    def test_echo_backend_and_upstream_failure(self):
        echo = self.start_echo()
        closed = harness.free_port()
        self.start(f"""
    location / {{
      proxy_pass http://127.0.0.1:{echo.port};
      add_header X-A a;
      add_header X-Al al always;
    }}
    location /down {{
      proxy_pass http://127.0.0.1:{closed};
      add_header X-A a;
      add_header X-Al "$status $upstream_addr" always;
    }}""")
        status, fields = get(self.port, "/x")
        self.assertEqual(status, 200)
        # Added after everything the upstream sent and the proxy's Connection.
        self.assertEqual(fields[-2:], [("X-A", "a"), ("X-Al", "al")])
        status, fields = get(self.port, "/down")
        self.assertEqual(status, 502)
        self.assertEqual(values(fields, "X-A"), [])
        self.assertEqual(values(fields, "X-Al"), [f"502 127.0.0.1:{closed}"])

    def test_own_responses(self):
        b = self.backend()
        self.start(f"""
    add_header X-Srv srv always;
    location /ok {{ return 200 "ok\\n"; add_header X-R r; add_header X-R r2; }}
    location /moved {{ return 301 /elsewhere; add_header X-R r; }}
    location /missing {{ return 404; add_header X-R r; add_header X-Ra ra always; }}
    location /big {{
      client_max_body_size 1;
      proxy_pass http://127.0.0.1:{b.port};
      add_header X-R r;
      add_header X-Ra ra always;
    }}
    location /limited {{
      limit_req zone=one;
      limit_req_status 429;
      proxy_pass http://127.0.0.1:{b.port};
      add_header X-R r;
      add_header X-Ra ra always;
    }}
    location = /metrics {{ metrics; add_header X-R r; }}
    location = /ready {{ readiness; add_header X-R r; }}
    location = /echo {{ realip_echo; add_header X-R r; }}
    location /inherits {{ return 204; }}""",
                   http_extra="limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;")
        status, fields = get(self.port, "/ok")
        self.assertEqual(status, 200)
        self.assertEqual(values(fields, "X-R"), ["r", "r2"])
        self.assertEqual(values(fields, "X-Srv"), [])  # the location's own list replaces it
        status, fields = get(self.port, "/moved")
        self.assertEqual((status, values(fields, "X-R")), (301, ["r"]))
        status, fields = get(self.port, "/missing")
        self.assertEqual((status, values(fields, "X-R"), values(fields, "X-Ra")),
                         (404, [], ["ra"]))
        status, fields = get(self.port, "/big", b"Content-Length: 5\r\n")
        self.assertEqual((status, values(fields, "X-R"), values(fields, "X-Ra")),
                         (413, [], ["ra"]))
        status, fields = get(self.port, "/limited")
        self.assertEqual((status, values(fields, "X-R")), (200, ["r"]))
        status, fields = get(self.port, "/limited")
        self.assertEqual((status, values(fields, "X-R"), values(fields, "X-Ra")),
                         (429, [], ["ra"]))
        for path in ("/metrics", "/ready", "/echo"):
            status, fields = get(self.port, path)
            self.assertEqual((status, values(fields, "X-R")), (200, ["r"]), path)
        status, fields = get(self.port, "/inherits")
        self.assertEqual((status, values(fields, "X-Srv")), (204, ["srv"]))
        # HEAD: the same head, no body.
        status, fields = get(self.port, "/ok", method=b"HEAD")
        self.assertEqual((status, values(fields, "X-R")), (200, ["r", "r2"]))
        # A request that never reaches a location gets the default server's fields.
        reply = harness.http_request(self.port, b"GARBAGE\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), reply)
        self.assertIn(b"\r\nX-Srv: srv\r\n", reply)

    def test_variables(self):
        b = self.backend()
        self.start(f"""
    location / {{
      proxy_pass http://127.0.0.1:{b.port};
      add_header X-Request-ID $request_id always;
      add_header X-Who "$remote_addr $status $upstream_addr $upstream_status";
      add_header X-Copy "$upstream_http_x_up/$sent_http_x_up/$http_x_in";
      add_header X-None $http_x_absent;
    }}
    location /ret {{
      return 200;
      add_header X-Request-ID $request_id;
      add_header X-Request-ID2 $request_id;
    }}""")
        status, fields = get(self.port, "/200", b"X-In: in\r\n")
        self.assertEqual(status, 200)
        self.assertRegex(values(fields, "X-Request-ID")[0], r"^[0-9a-f]{32}$")
        self.assertEqual(values(fields, "X-Who"), [f"127.0.0.1 200 127.0.0.1:{b.port} 200"])
        self.assertEqual(values(fields, "X-Copy"), ["1/1/in"])
        self.assertEqual(values(fields, "X-None"), [])  # an empty value adds nothing
        _, again = get(self.port, "/200")
        self.assertNotEqual(values(again, "X-Request-ID"), values(fields, "X-Request-ID"))
        _, fields = get(self.port, "/ret")
        self.assertEqual(values(fields, "X-Request-ID"), values(fields, "X-Request-ID2"))

    def test_inheritance(self):
        self.start("""
    add_header X-Srv s;
    location /srv { return 200; }
    location /own { return 200; add_header X-Loc l; }
    location /outer {
      return 200;
      location /outer/inner { return 200; }
    }""", http_extra="add_header X-Http h;")
        # No location matches /other: the server's 404, which X-Srv (not always) skips.
        expect = {"/srv": (200, ["X-Srv"]), "/own": (200, ["X-Loc"]),
                  "/outer/inner": (200, ["X-Srv"]), "/other": (404, [])}
        for path, (code, names) in expect.items():
            status, fields = get(self.port, path)
            self.assertEqual((status, [n for n, _ in fields if n.startswith("X-")]),
                             (code, names), path)

    def test_inherited_from_http(self):
        self.start("location / { return 200; }",
                   http_extra="add_header X-Http h; add_header X-Http2 h2 always;")
        _, fields = get(self.port, "/")
        self.assertEqual(fields[-2:], [("X-Http", "h"), ("X-Http2", "h2")])

    def test_check_reports_errors(self):
        for line, message in [
                ("add_header X-A;", 'invalid number of arguments in "add_header" directive'),
                ("add_header X-A a b c;", 'invalid number of arguments in "add_header" directive'),
                ("add_header X-A a x;", 'invalid parameter "x"')]:
            path = self.write_config(
                f"events {{}}\nhttp {{\n  server {{\n    {line}\n  }}\n}}\n", "bad.conf")
            r = self.run_proxy("-t", "-c", path)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(f"{message} in {path}:4", r.stderr)
        path = self.write_config(
            "events {}\nhttp {\n  add_header X-A $remote_addr always;\n  server { }\n}\n",
            "good.conf")
        r = self.run_proxy("-t", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_same_fields_as_nginx(self):
        b = self.backend()
        closed = harness.free_port()

        def config(port):
            return f"""
worker_processes 1;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  add_header X-Http h;
  server {{
    listen 127.0.0.1:{port};
    add_header X-Srv srv always;
    add_header X-Srv2 $status;
    location /p/ {{
      proxy_pass http://127.0.0.1:{b.port}/;
      add_header ETag mine;
      add_header Last-Modified "";
      add_header Cache-Control c;
      add_header X-A a;
      add_header X-Al al always;
      add_header X-E "";
      add_header X-Up-Copy $upstream_http_x_up;
      add_header X-Status $status always;
    }}
    location /r {{ return 200 "text\\n"; add_header X-R r; add_header X-R r2; }}
    location /m {{ return 302 /x; add_header X-M m; }}
    location /e {{ return 404; add_header X-E e; add_header X-Ea ea always; }}
    location /i {{ return 200 ok; }}
    location /big {{
      client_max_body_size 1;
      proxy_pass http://127.0.0.1:{b.port};
      add_header X-B b always;
    }}
    location /down {{
      proxy_pass http://127.0.0.1:{closed};
      add_header X-D d;
      add_header X-Da da always;
    }}
  }}
}}
"""
        ours_port, nginx_port = harness.free_port(), harness.free_port()
        self.start_proxy(config(ours_port), wait=(("127.0.0.1", ours_port),))
        n = self.run_nginx(config(nginx_port))
        harness.wait_for_port("127.0.0.1", nginx_port, n.proc)
        requests = [("/p/200", b""), ("/p/201", b""), ("/p/304", b""), ("/p/404", b""),
                    ("/p/500", b""), ("/r", b""), ("/m", b""), ("/e", b""), ("/i", b""),
                    ("/big", b"Content-Length: 5\r\n"), ("/down", b"")]
        for path, extra in requests:
            ours = get(ours_port, path, extra)
            theirs = get(nginx_port, path, extra)
            self.assertEqual(ours[0], theirs[0], path)
            self.assertEqual(compared(ours[1]), compared(theirs[1]), (path, ours, theirs))
        for port in (ours_port, nginx_port):
            reply = harness.http_request(port, b"GARBAGE\r\n\r\n")
            self.assertIn(b"\r\nX-Srv: srv\r\n", reply)
            self.assertNotIn(b"X-Srv2", reply)


if __name__ == "__main__":
    unittest.main()
