"""nginx.conf boilerplate: Debian's http-level defaults load as they are; `types` and
`default_type` give a `return` text its Content-Type as nginx does (checked side by side);
`tcp_nodelay` decides TCP_NODELAY on the client and upstream sockets (read back from the
proxy's own sockets); `proxy_buffer_size` bounds an upstream response head; `user` warns and is
ignored unless the proxy runs as root, where it is refused; `gzip on` is refused."""
import ctypes
import os
import shutil
import socket
import subprocess
import unittest

import harness
from test_engine_backends import ScriptedBackend, serve_fixed

MIME_TYPES = "/etc/nginx/mime.types"  # Debian's nginx-common, installed with the test peers

# The http block of Debian's /etc/nginx/nginx.conf (bookworm), without its `gzip on` (refused
# here) and with the logs in the test's folder.
DEBIAN_HTTP = f"""
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include {MIME_TYPES};
    default_type application/octet-stream;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
"""


def get_fd(pid, fd):
    """A duplicate of process `pid`'s descriptor `fd` (pidfd_getfd, Linux 5.6)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        dup = libc.syscall(438, pidfd, fd, 0)  # SYS_pidfd_getfd
        if dup < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        return dup
    finally:
        os.close(pidfd)


def nodelay_of_peers(pid, peer_port):
    """The set of TCP_NODELAY values of process `pid`'s sockets whose peer port is
    `peer_port` (on 127.0.0.1)."""
    values = set()
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                continue
            dup = get_fd(pid, int(name))
        except OSError:
            continue
        with socket.socket(fileno=dup) as s:
            try:
                if s.type != socket.SOCK_STREAM or s.getpeername()[1] != peer_port:
                    continue
            except OSError:
                continue
            values.add(bool(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
    return values


def response_head(reply):
    head = reply.partition(b"\r\n\r\n")[0].decode()
    lines = head.split("\r\n")
    return int(lines[0].split()[1]), {k.lower(): v for k, v in
                                      (line.split(": ", 1) for line in lines[1:])}


@unittest.skipUnless(os.path.exists(MIME_TYPES), f"{MIME_TYPES} (Debian's nginx-common)")
class DebianBoilerplateTest(harness.TestCase):
    def test_debian_http_block_loads_in_both(self):
        path = self.write_config(f"""
events {{ worker_connections 768; }}
http {{
{DEBIAN_HTTP}
    access_log {self.workdir}/access.log;
    gzip off;
    server {{ listen 127.0.0.1:{harness.free_port()}; return 200 "ok"; }}
}}
""")
        self.assert_both_accept(path)

    def test_return_content_type_by_extension_as_nginx(self):
        ours, theirs = harness.free_port(), harness.free_port()
        body = f"""
{DEBIAN_HTTP}
    types {{ text/x-ours ours; }}
    server {{
      listen 127.0.0.1:{{port}};
      location / {{ return 200 "text"; }}
      location /plain/ {{ default_type text/plain; types {{ }} return 200 "text"; }}
      location /status {{ return 404; }}
    }}
"""
        self.start_proxy("events { }\nhttp {" + body.replace("{port}", str(ours)) + "}\n",
                         wait=(("127.0.0.1", ours),))
        self.run_nginx(f"error_log {self.workdir}/nginx/error.log;\nevents {{ }}\nhttp {{" +
                       body.replace("{port}", str(theirs)) + "}\n")
        harness.wait_for_port("127.0.0.1", theirs)
        for path in ("/a.json", "/A.JSON", "/x.html", "/dir.js/x", "/x.ours", "/x.unknown",
                     "/.json", "/x.", "/plain/a.json", "/status.json"):
            with self.subTest(path=path):
                got = []
                for port in (ours, theirs):
                    reply = harness.http_request(
                        port, f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                        .encode())
                    status, headers = response_head(reply)
                    got.append((status, headers.get("content-type")))
                self.assertEqual(got[0], got[1])
        # The values themselves, for the record.
        reply = harness.http_request(ours, b"GET /a.json HTTP/1.1\r\nHost: a\r\n"
                                           b"Connection: close\r\n\r\n")
        self.assertEqual(response_head(reply)[1]["content-type"], "application/json")
        reply = harness.http_request(ours, b"GET /a.nope HTTP/1.1\r\nHost: a\r\n"
                                           b"Connection: close\r\n\r\n")
        self.assertEqual(response_head(reply)[1]["content-type"], "application/octet-stream")


class TcpNodelayTest(harness.TestCase):
    def test_nodelay_follows_the_location_on_both_sides(self):
        backends = {}
        for path in ("/on", "/off"):
            backends[path] = ScriptedBackend(serve_fixed(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
            self.addCleanup(backends[path].stop)
        port = harness.free_port()
        proxy = self.start_proxy(f"""
worker_processes 1;
events {{ }}
http {{
  upstream on {{ server 127.0.0.1:{backends["/on"].port}; keepalive 4; }}
  upstream off {{ server 127.0.0.1:{backends["/off"].port}; keepalive 4; }}
  server {{
    listen 127.0.0.1:{port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /on {{ proxy_pass http://on; }}
    location /off {{ tcp_nodelay off; proxy_pass http://off; }}
  }}
}}
""", wait=(("127.0.0.1", port),))
        pid = proxy.proc.pid
        for path, want in (("/off", False), ("/on", True)):
            with self.subTest(path=path):
                with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                    client.sendall(f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
                    status, _, body, _ = harness.read_response(client)
                    self.assertEqual((status, body), (200, b"ok"))
                    # A keep-alive connection gets TCP_NODELAY once its response is out, as in
                    # nginx, unless the location turned tcp_nodelay off.
                    client_port = client.getsockname()[1]
                    harness.wait_until(lambda: nodelay_of_peers(pid, client_port) == {want},
                                       f"client socket with TCP_NODELAY {want}")
                    # The upstream connection, idle in its pool now, was opened by this
                    # location.
                    harness.wait_until(
                        lambda: nodelay_of_peers(pid, backends[path].port) == {want},
                        f"upstream socket with TCP_NODELAY {want}")


class ResetTimedoutConnectionTest(harness.TestCase):
    """reset_timedout_connection: a header timeout or a 444 ends with a RST when on, a FIN when
    off; the same from Debian's nginx on the same configuration."""

    def ending(self, port, raw):
        """How the server ends the connection after `raw`: "reset" or "close"."""
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(raw)
            try:
                while s.recv(4096):
                    pass
            except ConnectionResetError:
                return "reset"
            return "close"

    def test_reset_after_a_timeout_and_a_444(self):
        on, off = harness.free_port(), harness.free_port()
        text = f"""
events {{ }}
http {{
  client_header_timeout 1s;
  server {{
    listen 127.0.0.1:{on};
    reset_timedout_connection on;
    location = /drop {{ return 444; }}
  }}
  server {{
    listen 127.0.0.1:{off};
    location = /drop {{ return 444; }}
  }}
}}
"""
        cut = b"GET / HTTP/1.1\r\nHost: a\r\n"  # the head never ends: client_header_timeout
        drop = b"GET /drop HTTP/1.1\r\nHost: a\r\n\r\n"
        for start in (self.start_proxy, self.run_nginx):
            with self.subTest(server=start.__name__):
                p = start(text)
                try:
                    harness.wait_for_port("127.0.0.1", on, p.proc)
                    harness.wait_for_port("127.0.0.1", off, p.proc)
                    self.assertEqual(self.ending(on, cut), "reset")
                    self.assertEqual(self.ending(off, cut), "close")
                    self.assertEqual(self.ending(on, drop), "reset")
                    self.assertEqual(self.ending(off, drop), "close")
                finally:
                    p.stop()


class AccessLogIfTest(harness.TestCase):
    def test_condition_skips_requests_as_nginx(self):
        """access_log if=: a request is logged unless the condition is empty or "0"; the same
        requests are logged by Debian's nginx on the same file."""
        logged = []
        for start in (self.start_proxy, self.run_nginx):
            port = harness.free_port()
            log = os.path.join(self.workdir, f"{start.__name__}.log")
            p = start(f"""
events {{ }}
http {{
  map $request_uri $loggable {{ /healthz 0; /quiet ""; default 1; }}
  log_format uri "$request_uri $status";
  server {{
    listen 127.0.0.1:{port};
    access_log {log} uri if=$loggable;
    access_log {log}.never uri if=;
    location / {{ return 200 "ok"; }}
  }}
}}
""")
            try:
                harness.wait_for_port("127.0.0.1", port, p.proc)
                for path in ("/a", "/healthz", "/quiet", "/b?x=1"):
                    harness.http_request(port, f"GET {path} HTTP/1.1\r\nHost: a\r\n"
                                               "Connection: close\r\n\r\n".encode())
            finally:
                p.stop()  # writes what the buffers hold
            with open(log) as f:
                logged.append(sorted(f.read().splitlines()))
            self.assertEqual(os.path.getsize(log + ".never"), 0)
        self.assertEqual(logged[0], ["/a 200", "/b?x=1 200"])
        self.assertEqual(logged[0], logged[1])


class MergeSlashesTest(harness.TestCase):
    def test_uri_and_location_as_nginx(self):
        """merge_slashes off keeps empty segments in $uri and for location matching; the same
        answers as Debian's nginx on the same file, and "//" merged again with it on."""
        paths = ["//a/b", "/a//b", "/a//../b", "/a/.//b", "/a/%2F/b", "/x//../../b", "///../b",
                 "/a/b/..//c", "//a//"]
        got = {}
        for merge in ("on", "off"):
            for start in (self.start_proxy, self.run_nginx):
                port = harness.free_port()
                p = start(f"""
events {{ }}
http {{
  merge_slashes {merge};
  server {{
    listen 127.0.0.1:{port};
    location / {{ return 200 "root $uri"; }}
    location /a/ {{ return 200 "a $uri"; }}
  }}
}}
""")
                try:
                    harness.wait_for_port("127.0.0.1", port, p.proc)
                    bodies = []
                    for path in paths:
                        reply = harness.http_request(
                            port, f"GET {path} HTTP/1.1\r\nHost: a\r\n"
                                  "Connection: close\r\n\r\n".encode())
                        head, _, body = reply.partition(b"\r\n\r\n")
                        status = head.split(b" ")[1].decode()
                        # Error pages name their server: only the status is compared.
                        bodies.append(body.decode() if status == "200" else status)
                finally:
                    p.stop()
                got[(merge, start.__name__)] = bodies
            self.assertEqual(got[(merge, "start_proxy")], got[(merge, "run_nginx")], merge)
        self.assertEqual(got[("off", "start_proxy")][:2], ["root //a/b", "a /a//b"])
        self.assertEqual(got[("on", "start_proxy")][:2], ["a /a/b", "a /a/b"])


class ProxyBufferSizeTest(harness.TestCase):
    def test_a_head_larger_than_the_buffer_is_a_502(self):
        cookie = b"Set-Cookie: " + b"c" * 6000 + b"\r\n"
        backend = ScriptedBackend(serve_fixed(
            b"HTTP/1.1 200 OK\r\n" + cookie + b"Content-Length: 2\r\n\r\nok"))
        self.addCleanup(backend.stop)
        port = harness.free_port()
        proxy = self.start_proxy(f"""
events {{ }}
http {{
  server {{
    listen 127.0.0.1:{port};
    location /small {{ proxy_buffer_size 4k; proxy_pass http://127.0.0.1:{backend.port}; }}
    location /large {{ proxy_buffer_size 16k; proxy_pass http://127.0.0.1:{backend.port}; }}
    location /default {{ proxy_pass http://127.0.0.1:{backend.port}; }}
  }}
}}
""", wait=(("127.0.0.1", port),))

        def status(path):
            reply = harness.http_request(
                port, f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
            return response_head(reply)[0]

        self.assertEqual(status("/small"), 502)
        proxy.wait_for_line(r"\[error\].*upstream sent too big header")
        self.assertEqual(status("/large"), 200)
        self.assertEqual(status("/default"), 200)  # 32k unless set


class UserAndGzipTest(harness.TestCase):
    def config(self, extra_main="", extra_http=""):
        return self.write_config(f"""
{extra_main}
pid {self.workdir}/realip.pid;
events {{ }}
http {{
  {extra_http}
  server {{ listen 127.0.0.1:{harness.free_port()}; return 200 "ok"; }}
}}
""")

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run as root and as nobody")
    def test_user_refused_as_root_and_warned_otherwise(self):
        path = self.config("user www-data;")
        ours = self.run_proxy("-t", "-c", path)
        self.assertEqual(ours.returncode, 1)
        self.assertIn('the "user" directive is not supported when realip-proxy runs as root; '
                      'start it as "www-data" instead', ours.stderr)
        # As nobody: nginx's warning, and the configuration is good.
        os.chmod(self.workdir, 0o755)
        os.chmod(path, 0o644)
        setpriv = shutil.which("setpriv")
        self.assertIsNotNone(setpriv, "setpriv (util-linux) is needed")
        r = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                            harness.PROXY_BIN, "-t", "-c", path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r'\[warn\] the "user" directive makes sense only if the '
                                   r'master process runs with super-user privileges, ignored '
                                   r'in \S+:2')

    def test_gzip_on_refused_off_accepted(self):
        ours = self.run_proxy("-t", "-c", self.config(extra_http="gzip on;"))
        self.assertEqual(ours.returncode, 1)
        self.assertIn('"gzip on" is not supported', ours.stderr)
        ours = self.run_proxy("-t", "-c", self.config(extra_http="gzip off;"))
        self.assertEqual(ours.returncode, 0, ours.stderr)


if __name__ == "__main__":
    unittest.main()
