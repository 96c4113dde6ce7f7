"""When the access-log line is written: after the response's last byte went to the client's
socket, as nginx writes it when the request is finalized (all output sent), not when the
response was queued. $request_time ends there, $bytes_sent is what was written, a client that
leaves midway is logged once with what did go out, and keep-alive and pipelined requests are
logged in order, one line each.

The backend is Debian's nginx serving a 4 MiB file. The slow client has a small receive buffer
and the proxy's listener a small send buffer, so that the last bytes wait in the proxy."""
import os
import re
import socket
import subprocess
import time
import unittest

import harness
from test_engine_headers import EngineTestCase

MIB = 1024 * 1024
BIG = 4 * MIB
FORMAT = ("'$request|$status|$bytes_sent|$body_bytes_sent|$request_completion|$request_time|"
          "$connection_requests'")
# How long the client holds the last part of a response unread. A line written in that time
# is a line written before the last byte went out: the proxy reads the rest of the backend's
# answer within milliseconds of the backend's own log line.
HOLD = 2.0


def read_lines(path):
    try:
        with open(path) as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except FileNotFoundError:
        return []


def parse(line):
    request, status, sent, body, completion, rtime, n = line.split("|")
    return {"request": request, "status": int(status), "bytes_sent": int(sent),
            "body_bytes_sent": int(body), "completion": completion,
            "request_time": float(rtime), "connection_requests": int(n)}


def slow_client(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(60)
    s.connect(("127.0.0.1", port))
    return s


def recv_exactly(s, n):
    data = bytearray()
    while len(data) < n:
        chunk = s.recv(min(65536, n - len(data)))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def head_size(s):
    """Reads a response head; returns (its size with the blank line, the bytes read after it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return len(head) + 4, rest


class LogTimingTest(EngineTestCase):
    def setUp(self):
        super().setUp()
        www = os.path.join(self.workdir, "www")
        os.makedirs(www)
        with open(os.path.join(www, "big"), "wb") as f:
            f.write(b"b" * BIG)
        for name in ("a", "b", "c", "d"):
            with open(os.path.join(www, name), "wb") as f:
                f.write(name.encode() * 10)
        os.chmod(self.workdir, 0o755)
        for root, dirs, files in os.walk(www):
            os.chmod(root, 0o755)
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)
        self.backend_port = harness.free_port()
        prefix = os.path.join(self.workdir, "nginx")
        self.backend_log = os.path.join(prefix, "logs", "be.log")
        self.nginx = self.run_nginx(f"""
worker_processes 1;
error_log stderr notice;
events {{}}
http {{
  server {{
    listen 127.0.0.1:{self.backend_port};
    root {www};
    access_log {self.backend_log};
  }}
}}
""")
        harness.wait_for_port("127.0.0.1", self.backend_port, self.nginx.proc)
        self.log = os.path.join(self.workdir, "access.log")
        self.start_with_metrics(
            f"access_log {self.log} t buffer=0;\n"
            f"location / {{ proxy_pass http://127.0.0.1:{self.backend_port}; }}",
            http_extra=f"log_format t {FORMAT};", workers=1, listen_flags="sndbuf=8k")

    def backend_lines(self, n):
        return harness.wait_until(lambda: len(read_lines(self.backend_log)) >= n, f"{n} backend lines")

    def requests_total(self, code):
        s = socket.create_connection(("127.0.0.1", self.metrics_port), timeout=10)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
        text = harness._read_until_close(s).decode()
        s.close()
        total = 0
        for m in re.finditer(r'^realip_http_requests_total\{([^}]*)\} (\S+)$', text, re.M):
            if f'code="{code}"' in m.group(1):
                total += float(m.group(2))
        return total

    def hold_last_part(self, s, total, got, backend_lines, lines):
        """With `got` of the `total` bytes of a response read from `s`, reads all but its last
        32 KiB and waits for the backend's `backend_lines`-th log line (it sent everything).
        32 KiB is more than the two socket buffers take (4 KiB asked for each side, which
        the kernel doubles) and, as the proxy refills its output only once it is empty (up
        to 64 KiB at a time), its last refill took the end of the answer: the proxy has read
        all of it and still holds a part (checked against the build that logged when the
        response was queued: 24 to 40 KiB held back show the early line, 8 and 16 KiB are
        written whole). For HOLD seconds the access log must stay `lines` and the backend
        get nothing more. Then reads the rest; returns the response's bytes read in all."""
        got += len(recv_exactly(s, total - 32 * 1024 - got))
        self.backend_lines(backend_lines)
        deadline = time.monotonic() + HOLD
        while time.monotonic() < deadline:
            self.assertEqual(read_lines(self.log), lines, "a line before the last byte went out")
            self.assertEqual(len(read_lines(self.backend_log)), backend_lines,
                             "a pipelined request went upstream before the last byte went out")
            time.sleep(0.05)
        return got + len(recv_exactly(s, total - got))

    def test_line_waits_for_the_last_byte_of_a_slow_download(self):
        s = slow_client(self.port)
        s.sendall(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        size, rest = head_size(s)
        total = size + BIG
        got = self.hold_last_part(s, total, size + len(rest), 1, [])
        line = parse(harness.wait_until(lambda: read_lines(self.log), "the line")[0])
        s.close()
        self.assertEqual(line["request"], "GET /big HTTP/1.1")
        self.assertEqual(line["status"], 200)
        self.assertEqual(line["bytes_sent"], got)
        self.assertEqual(line["body_bytes_sent"], BIG)
        self.assertEqual(line["completion"], "OK")
        # The time the last part waited is in it.
        self.assertGreaterEqual(line["request_time"], HOLD)
        self.assertEqual(self.requests_total(200), 1)

    def test_client_gone_midway_is_logged_once_with_what_was_written(self):
        s = slow_client(self.port)
        s.sendall(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        size, rest = head_size(s)
        got = size + len(rest) + len(recv_exactly(s, MIB))
        # Unread bytes in the receive buffer: the close resets the connection.
        s.close()
        line = parse(harness.wait_until(lambda: read_lines(self.log), "the line")[0])
        # nginx 1.22 logs the same: 200, the bytes written (more than the client read, less
        # than the response), no request_completion.
        self.assertEqual(line["status"], 200)
        self.assertGreaterEqual(line["bytes_sent"], got)
        self.assertLess(line["bytes_sent"], size + BIG)
        self.assertEqual(line["body_bytes_sent"], line["bytes_sent"] - size)
        self.assertEqual(line["completion"], "")
        self.assertEqual(self.requests_total(200), 1)
        self.assertEqual(self.requests_total(499), 0)
        self.assertEqual(len(read_lines(self.log)), 1)

    def test_keepalive_then_pipelined_lines_in_order(self):
        s = slow_client(self.port)
        got = 0
        for name in ("a", "b"):
            s.sendall(b"GET /%s HTTP/1.1\r\nHost: a\r\n\r\n" % name.encode())
            size, rest = head_size(s)
            got += size + len(rest) + len(recv_exactly(s, 10 - len(rest)))
            harness.wait_until(lambda: any(f"GET /{name} " in l for l in read_lines(self.log)),
                       f"the line of /{name}")
        # A pipelined pair behind a large response: the second is not served, nor logged,
        # before the first is written whole.
        s.sendall(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /c HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        size, rest = head_size(s)
        big_total = size + BIG
        early = read_lines(self.log)
        self.assertEqual(len(early), 2, early)
        big_got = self.hold_last_part(s, big_total, size + len(rest), 3, early)
        tail = harness._read_until_close(s)
        s.close()
        lines = [parse(l) for l in harness.wait_until(lambda: len(read_lines(self.log)) == 5 and
                                              read_lines(self.log), "five lines")]
        self.assertEqual([l["request"] for l in lines],
                         ["GET /%s HTTP/1.1" % n for n in ("a", "b", "big", "c", "d")])
        self.assertEqual([l["connection_requests"] for l in lines], [1, 2, 3, 4, 5])
        self.assertEqual(sum(l["bytes_sent"] for l in lines), got + big_got + len(tail))
        self.assertEqual(lines[2]["bytes_sent"], big_total)
        self.assertTrue(all(l["completion"] == "OK" for l in lines), lines)
        self.assertEqual(self.requests_total(200), 5)

    def test_request_time_starts_at_the_first_byte_of_the_head(self):
        # nginx's request starts when its first bytes are read (r->start_sec in
        # ngx_http_create_request), so a head sent slowly is in $request_time, on a new
        # connection and on a kept-alive one.
        s = slow_client(self.port)
        s.sendall(b"GET /a HTTP/1.1\r\n")
        time.sleep(HOLD)
        s.sendall(b"Host: a\r\n\r\n")
        size, rest = head_size(s)
        recv_exactly(s, 10 - len(rest))
        s.sendall(b"GET /b HTTP/1.1\r\n")
        time.sleep(HOLD)
        s.sendall(b"Host: a\r\nConnection: close\r\n\r\n")
        harness._read_until_close(s)
        s.close()
        lines = [parse(l) for l in harness.wait_until(lambda: len(read_lines(self.log)) == 2 and
                                              read_lines(self.log), "two lines")]
        self.assertEqual([l["request"] for l in lines], ["GET /a HTTP/1.1", "GET /b HTTP/1.1"])
        # The hold is in it. Not all of it to the millisecond: the start is when the proxy
        # read the first bytes, a moment after they arrived (a loaded, sanitized run has
        # shown 1.998), and both ends are whole milliseconds. Without the hold it is ~0.
        for line in lines:
            self.assertGreaterEqual(line["request_time"], HOLD - 0.1)


class TlsBytesSentTest(EngineTestCase):
    def test_bytes_sent_counts_application_bytes(self):
        # nginx's c->sent on a TLS connection adds what SSL_write() took (ngx_ssl_send_chain):
        # the application bytes, not the records on the wire.
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                        "/CN=a.test", "-keyout", "a.key", "-out", "a.crt"],
                       cwd=self.workdir, check=True, capture_output=True)
        log = os.path.join(self.workdir, "access.log")
        self.start(f"""
            ssl_certificate {self.workdir}/a.crt;
            ssl_certificate_key {self.workdir}/a.key;
            access_log {log} t buffer=0;
            location / {{ return 200 "hello over tls\\n"; }}""",
                   http_extra=f"log_format t {FORMAT};", listen_flags="ssl", workers=1)
        out = subprocess.run(
            ["curl", "-sS", "-k", "--http1.1", "--max-time", "20", "-o", "/dev/null", "-w",
             "%{size_header} %{size_download}", f"https://127.0.0.1:{self.port}/x"],
            capture_output=True, text=True, check=True).stdout
        head, body = map(int, out.split())
        line = parse(harness.wait_until(lambda: read_lines(log), "the line")[0])
        self.assertEqual(line["bytes_sent"], head + body)
        self.assertEqual(line["body_bytes_sent"], body)
        self.assertEqual(line["completion"], "OK")


if __name__ == "__main__":
    unittest.main()
