"""The nginx variables that common log formats use ($arg_*, $cookie_*, $sent_http_*,
$upstream_http_*, $upstream_bytes_*, $request_completion, ...): one log_format, requests
through realip-proxy and through nginx 1.22 to the same backend, values compared field by
field where both must agree, and against the bytes the backend saw."""
import os
import re
import shutil
import socket
import unittest

import harness
from test_engine_backends import ScriptedBackend
from test_upstreams import Client, wait_for_lines

# Fields separated by '|'; every new variable once, and some that must be empty.
FIELDS = [
    "server_protocol", "is_args", "args", "content_type", "content_length", "https",
    "request_completion", "arg_a", "arg_B", "arg_none", "cookie_sid", "cookie_Theme",
    "cookie_none", "sent_http_x_backend", "sent_http_content_length",
    "sent_http_transfer_encoding", "upstream_http_x_backend", "upstream_http_content_length",
    "upstream_status", "upstream_response_length", "upstream_bytes_received",
    "upstream_bytes_sent", "connection_time", "pid", "hostname", "nginx_version",
]
LOG_FORMAT = "log_format vars '" + "|".join("$" + f for f in FIELDS) + "';"

BODY = b"hello"


def backend_handler(sock, backend):
    """Keep-alive backend: records the raw size of each request (head and body) and its head and answers
    with a fixed head: X-Backend, and the body by Content-Length or, for /chunked, chunked."""
    data = b""
    while True:
        got = harness.recv_head(sock, data)
        if got is None:
            return
        head, rest = got
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        n = int(m.group(1)) if m else 0
        while len(rest) < n:
            chunk = sock.recv(65536)
            if not chunk:
                return
            rest += chunk
        data = rest[n:]
        target = head.split(b" ")[1]
        backend.record((len(head) + 4 + n, head.decode("latin-1")))
        if target.startswith(b"/chunked"):
            payload = b"5\r\nhello\r\n0\r\n\r\n"
            framing = b"Transfer-Encoding: chunked\r\n"
        else:
            payload = BODY
            framing = b"Content-Length: %d\r\n" % len(BODY)
        sock.sendall(b"HTTP/1.1 200 OK\r\nX-Backend: b1\r\n" + framing + b"\r\n" + payload)


def parse(line):
    values = line.split("|")
    assert len(values) == len(FIELDS), line
    return dict(zip(FIELDS, values))


class LogVariablesTest(harness.TestCase):
    def start_pair(self, upstream_servers, location_extra=""):
        """realip-proxy and nginx with the same server block; returns their ports and logs."""
        out = {}
        for kind in ("proxy", "nginx"):
            port = harness.free_port()
            log = os.path.join(self.workdir, f"access-{kind}.log")
            text = f"""
worker_processes 1;
error_log stderr info;
events {{ worker_connections 512; }}
http {{
  {LOG_FORMAT}
  upstream app {{ {upstream_servers} keepalive 4; }}
  server {{
    listen 127.0.0.1:{port};
    access_log {log} vars;
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Arg $arg_a;
      {location_extra}
    }}
  }}
}}
"""
            if kind == "proxy":
                p = self.start_proxy(text, wait=(("127.0.0.1", port),))
            else:
                p = self.run_nginx(text)
                harness.wait_for_port("127.0.0.1", port, p.proc)
            out[kind] = (port, log, p)
        return out

    def run_requests(self, port, log, requests, start=0):
        c = Client(port)
        for path, headers, method, body in requests:
            status, _ = c.get(path, headers=headers, method=method, body=body)
            self.assertEqual(status, 200)
        c.close()
        return [parse(l) for l in wait_for_lines(log, start + len(requests))[start:]]

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_values_match_nginx(self):
        backend = ScriptedBackend(backend_handler)
        self.addCleanup(backend.stop)
        pair = self.start_pair(f"server 127.0.0.1:{backend.port};")
        requests = [
            ("/p?a=1&B=two&a=3", [("Cookie", "sid=abc; theme=dark"), ("Cookie", "sid=zzz")],
             "GET", b""),
            ("/p?", [("Cookie", "Sid = x y ;x=1")], "GET", b""),
            ("/p?b=&A", [("Cookie", "sid=")], "POST", b"body!"),
            ("/chunked?a=%20", [("Content-Type", "text/plain")], "PUT", b"12"),
            ("/p", [("Cookie", "a=1, sid=2"), ("Connection", "close")], "DELETE", b""),
        ]
        results = {}
        for kind, (port, log, proc) in pair.items():
            start = len(backend.requests)
            lines = self.run_requests(port, log, requests)
            results[kind] = lines
            # What the backend read for each request is $upstream_bytes_sent.
            sizes = [str(n) for n, _ in backend.requests[start:]]
            self.assertEqual([l["upstream_bytes_sent"] for l in lines], sizes, kind)
            for l in lines:
                self.assertRegex(l["connection_time"], r"^\d+\.\d{3}$")
                self.assertEqual(l["hostname"], socket.gethostname())
        proxy, nginx = results["proxy"], results["nginx"]
        # Our own values, then nginx's for everything that does not name the process.
        self.assertEqual([l["pid"] for l in proxy], [str(pair["proxy"][2].proc.pid)] * 5)
        self.assertRegex(proxy[0]["nginx_version"], r"^\d+\.\d+\.\d+$")
        want = [
            {"is_args": "?", "arg_a": "1", "arg_B": "two", "cookie_sid": "abc",
             "cookie_Theme": "dark", "request_completion": "OK", "https": "",
             "sent_http_x_backend": "b1", "upstream_http_x_backend": "b1",
             "upstream_response_length": "5", "upstream_bytes_received": "58"},
            {"is_args": "", "args": "-", "cookie_sid": "x y ", "arg_a": "-"},
            {"arg_B": "", "arg_a": "-", "cookie_sid": "", "content_length": "5"},
            {"arg_a": "%20", "content_type": "text/plain", "content_length": "2",
             "sent_http_transfer_encoding": "chunked", "sent_http_content_length": "-",
             "upstream_response_length": "15", "upstream_bytes_received": "77"},
            {"cookie_sid": "2", "cookie_none": "-", "server_protocol": "HTTP/1.1"},
        ]
        for i, fields in enumerate(want):
            for name, value in fields.items():
                self.assertEqual(proxy[i][name], value, (i, name, proxy[i]))
        process = {"upstream_bytes_sent", "connection_time", "pid", "nginx_version"}
        for i, (ours, theirs) in enumerate(zip(proxy, nginx)):
            for name in FIELDS:
                if name not in process:
                    self.assertEqual(ours[name], theirs[name], (i, name, ours, theirs))

    @unittest.skipUnless(shutil.which("nginx"), "nginx is not installed")
    def test_attempt_lists_match_nginx(self):
        """A refused peer, then the backend: every per-attempt list has two entries, the
        byte lists a 0 for the attempt that sent and received nothing."""
        backend = ScriptedBackend(backend_handler)
        self.addCleanup(backend.stop)
        dead = self.refused_port()
        pair = self.start_pair(
            f"server 127.0.0.1:{dead} max_fails=0; server 127.0.0.1:{backend.port} max_fails=0;",
            "proxy_next_upstream error;")
        for kind, (port, log, _) in pair.items():
            start = len(backend.requests)
            lines = self.run_requests(port, log, [("/p?a=1", [], "GET", b"")] * 2)
            sizes = [n for n, _ in backend.requests[start:]]
            retried = [l for l in lines if ", " in l["upstream_status"]]
            self.assertTrue(retried, (kind, lines))
            for l in retried:
                self.assertEqual(l["upstream_status"], "502, 200", kind)
                self.assertEqual(l["upstream_bytes_received"], "0, 58", kind)
                self.assertEqual(l["upstream_bytes_sent"], f"0, {sizes[0]}", kind)
                self.assertEqual(l["upstream_response_length"], "0, 5", kind)
                # The last attempt's head; the response passed on is that one.
                self.assertEqual(l["upstream_http_x_backend"], "b1", kind)
                self.assertEqual(l["sent_http_x_backend"], "b1", kind)

    def test_local_responses_and_every_string_kind(self):
        """The variables work in return text, proxy_set_header, hash and limit_req keys, and
        $sent_http_ sees the headers of a response the proxy makes itself."""
        backend = ScriptedBackend(backend_handler)
        self.addCleanup(backend.stop)
        port = harness.free_port()
        log = os.path.join(self.workdir, "access.log")
        text = f"""
worker_processes 1;
error_log stderr info;
events {{ worker_connections 512; }}
http {{
  log_format local '$status|$sent_http_content_length|$sent_http_server|$sent_http_x_none|'
                   '$request_completion|$upstream_bytes_received|$upstream_http_x_backend';
  limit_req_zone $cookie_sid zone=z:1m rate=100r/s;
  upstream app {{ hash $arg_user$cookie_sid consistent; server 127.0.0.1:{backend.port}; }}
  server {{
    listen 127.0.0.1:{port};
    access_log {log} local;
    location /r {{ return 200 "$arg_x|$cookie_c|$is_args|$server_protocol|$https"; }}
    location / {{
      limit_req zone=z burst=10;
      proxy_set_header X-Vars "$arg_user|$cookie_sid|$content_type|$request_completion";
      proxy_pass http://app;
    }}
  }}
}}
"""
        path = self.write_config(text)
        check = self.run_proxy("-t", "-c", path)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.start_proxy(text, wait=(("127.0.0.1", port),))
        c = Client(port)
        status, body = c.get("/r?x=1", headers=[("Cookie", "c=v")])
        self.assertEqual((status, body), (200, b"1|v|?|HTTP/1.1|"))
        status, body = c.get("/p?user=u", headers=[("Cookie", "sid=s"),
                                                    ("Content-Type", "a/b")])
        self.assertEqual(status, 200)
        c.close()
        lines = wait_for_lines(log, 2)
        version = self.run_proxy("-v")
        server = (version.stdout + version.stderr).strip().split(": ", 1)[1]
        self.assertEqual(lines[0], f"200|15|{server}|-|OK|-|-")
        # The proxy writes its own Server on proxied responses too, as nginx.
        self.assertEqual(lines[1], f"200|5|{server}|-|OK|58|b1")
        # Before the response, $request_completion is empty (nginx's too).
        self.assertIn("\r\nX-Vars: u|s|a/b|\r\n", backend.requests[-1][1] + "\r\n")


if __name__ == "__main__":
    unittest.main()
