"""Lingering close (lingering_close, lingering_time, lingering_timeout): after an answer that
closes the connection while the client may still be sending, the proxy half-closes and reads
what comes until the client closes, so that the client reads its whole answer instead of a
reset. Outcomes only: who got which bytes, whether a connection was reset or closed cleanly;
no durations are asserted (timeouts are set far apart so that only one can end a case)."""
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import shutil
import time
import unittest

import harness
from test_engine_headers import EngineTestCase, connect
from test_engine_lifecycle import proc_status_kb, settled_rss_per_connection
from test_observability import parse_prometheus, value

# Far more than a loopback connection's socket buffers hold (tcp_wmem and tcp_rmem at most a
# few MiB each): a proxy that stops reading cannot absorb it.
BIG = 32 * 1024 * 1024
CHUNK = b"x" * 65536


def send_body(s, total):
    """Sends `total` body bytes; returns the OSError that stopped it, or None."""
    sent = 0
    try:
        while sent < total:
            sent += s.send(CHUNK[:min(len(CHUNK), total - sent)])
    except OSError as e:
        return e
    return None


def read_to_end(s):
    """Reads until the peer closes. Returns (bytes, clean): clean is False on a reset."""
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return data, False
        if not chunk:
            return data, True
        data += chunk


def trickle_until_refused(s, every=0.1, limit=60.0):
    """Sends a byte every `every` seconds until the peer refuses it (the connection was
    closed under it). Returns the OSError, or None if `limit` seconds passed."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            s.send(b"y")
        except OSError as e:
            return e
        time.sleep(every)
    return None


class LingeringTestCase(EngineTestCase):
    def start_lingering(self, extra="", server_extra="", listen_flags=""):
        self.log_path = os.path.join(self.workdir, "access.log")
        self.start_with_metrics(f"""
            client_max_body_size 1k;
            access_log {self.log_path} combined buffer=0;
            {extra}
            location / {{ return 200 ok; }}""", workers=1, listen_flags=listen_flags,
                                http_extra=server_extra)

    def connect(self):
        s = connect(self.port)
        self.addCleanup(s.close)
        return s

    def connections(self):
        """Client connections the proxy holds, the scrape's own excluded."""
        reply = harness.http_request(
            self.metrics_port, b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
        _, samples = parse_prometheus(reply.partition(b"\r\n\r\n")[2].decode())
        return value(samples, "realip_connections_active") - 1

    def access_lines(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode().splitlines()

    def too_large(self, s, body_sent=100):
        """Sends a head whose Content-Length is over client_max_body_size and part of its
        body, then reads the 413 and the end of the proxy's output."""
        s.sendall(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"
                  + b"x" * body_sent)
        data, clean = read_to_end(s)
        self.assertTrue(data.startswith(b"HTTP/1.1 413 "), data[:100])
        self.assertTrue(clean)


class LingeringOnTest(LingeringTestCase):
    def test_client_still_sending_a_body_past_the_limit_reads_the_whole_413(self):
        self.start_lingering()
        s = self.connect()
        s.sendall(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % BIG)
        # Every byte is taken (read and dropped), although the answer was given at the head.
        self.assertIsNone(send_body(s, BIG))
        status, headers, body, rest = harness.read_response(s)
        self.assertEqual(status, 413)
        self.assertIn(("Connection", "close"), headers)
        self.assertIn(b"413", body)
        rest, clean = read_to_end(s)
        self.assertEqual((rest, clean), (b"", True))  # a FIN, not a reset
        s.close()
        lines = harness.wait_until(lambda: self.access_lines(), "the access-log line")
        self.assertEqual(len(lines), 1, lines)  # logged once, before lingering
        self.assertIn('"POST /up HTTP/1.1" 413 ', lines[0])

    def test_chunked_body_that_outgrows_the_limit_mid_body(self):
        echo = self.start_echo()
        self.start_lingering(f"location /echo {{ proxy_pass http://127.0.0.1:{echo.port}; }}")
        s = self.connect()
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"
        try:
            for _ in range(BIG // len(CHUNK)):
                s.sendall(chunk)
            s.sendall(b"0\r\n\r\n")
        except OSError as e:
            self.fail(f"the proxy stopped reading: {e!r}")
        data, clean = read_to_end(s)
        self.assertTrue(data.startswith(b"HTTP/1.1 413 "), data[:100])
        self.assertTrue(clean)
        self.assertEqual(data.count(b"HTTP/1.1 "), 1)

    def test_request_after_a_connection_close_one_is_not_answered_and_not_reset(self):
        self.start_lingering()
        s = self.connect()
        first = b"GET /1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        s.sendall(first + b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertIsNone(send_body(s, BIG))  # more pipelined bytes: read and dropped
        data, clean = read_to_end(s)
        self.assertEqual(data.count(b"HTTP/1.1 "), 1, data)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:100])
        self.assertTrue(data.endswith(b"ok"), data[-100:])
        self.assertTrue(clean)

    def test_bad_request_with_bytes_after_it(self):
        self.start_lingering()
        s = self.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n")
        self.assertIsNone(send_body(s, BIG))
        data, clean = read_to_end(s)
        self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data[:100])
        self.assertTrue(clean)

    def test_silent_client_is_closed_after_lingering_timeout(self):
        # lingering_time is far longer than the wait below: only lingering_timeout can end it.
        self.start_lingering("lingering_timeout 1s; lingering_time 10m;")
        s = self.connect()
        self.too_large(s)  # the 413 and a FIN: lingering (half-closed, still reading)
        harness.wait_until(lambda: self.connections() == 0, "the lingering connection to close", 60)
        # Closed, not lingering any more: a byte now is refused.
        self.assertIsNotNone(trickle_until_refused(s, limit=30))
        s.close()

    def test_trickling_client_is_closed_after_lingering_time(self):
        # A byte every 100 ms always beats lingering_timeout: only lingering_time ends it.
        self.start_lingering("lingering_timeout 10m; lingering_time 2s;")
        s = self.connect()
        self.too_large(s)
        self.assertIsNotNone(trickle_until_refused(s, limit=120))
        harness.wait_until(lambda: self.connections() == 0, "the connection to be gone")
        s.close()

    def test_client_that_closes_ends_the_lingering(self):
        self.start_lingering("lingering_timeout 10m; lingering_time 10m;")
        s = self.connect()
        self.too_large(s)
        self.assertEqual(self.connections(), 1)
        s.close()
        harness.wait_until(lambda: self.connections() == 0, "the lingering connection to close")

    def test_graceful_stop_closes_lingering_connections(self):
        self.start_lingering("lingering_timeout 10m; lingering_time 10m;")
        s = self.connect()
        self.too_large(s)
        self.assertEqual(self.connections(), 1)
        self.proxy.proc.send_signal(signal.SIGTERM)
        # Far less than lingering_time: the stop closed the lingering connection.
        self.assertEqual(self.proxy.proc.wait(timeout=120), 0)
        self.assertIsNotNone(trickle_until_refused(s, limit=30))
        s.close()

    def test_keepalive_requests_do_not_linger(self):
        self.start_lingering("lingering_close always;")
        s = self.connect()
        for _ in range(3):
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            self.assertEqual(harness.read_response(s)[2], b"ok")
        s.close()


class LingeringAlwaysAndOffTest(LingeringTestCase):
    def test_always_lingers_after_a_whole_request_on_and_off_do_not(self):
        self.start_lingering("""
            lingering_timeout 10m; lingering_time 10m;
            location /always { lingering_close always; return 200 ok; }""")
        request = b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        s = self.connect()
        s.sendall(request % b"/always")
        data, clean = read_to_end(s)
        self.assertTrue(data.endswith(b"ok") and clean, data)
        self.assertEqual(self.connections(), 1)  # still reading what the client might send
        s.close()
        harness.wait_until(lambda: self.connections() == 0, "the lingering connection to close")
        # `on`: the request was read whole and nothing follows, so the close is immediate
        # (the client sees the FIN while it still holds its end open).
        s = self.connect()
        s.sendall(request % b"/")
        data, clean = read_to_end(s)
        self.assertTrue(data.endswith(b"ok") and clean, data)
        harness.wait_until(lambda: self.connections() == 0, "the connection to close")
        s.close()

    def test_off_resets_a_client_still_sending(self):
        self.start_lingering("lingering_close off;")
        s = self.connect()
        s.sendall(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % BIG)
        # The proxy answered at the head and closed with input unread: the kernel resets the
        # connection, and the body cannot all be sent.
        err = send_body(s, BIG)
        self.assertIsInstance(err, (ConnectionResetError, BrokenPipeError))
        s.close()
        # Still serving.
        reply = self.request(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply)


class LingeringTlsTest(LingeringTestCase):
    """Over TLS the proxy sends close_notify, half-closes and drops what follows without
    decrypting it, as nginx does."""

    def setUp(self):
        super().setUp()
        self.certs = tempfile.mkdtemp(prefix="realip-linger-tls-")
        self.addCleanup(shutil.rmtree, self.certs, True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=a.test", "-addext", "subjectAltName=DNS:a.test",
                        "-keyout", "a.key", "-out", "a.crt"],
                       cwd=self.certs, check=True, capture_output=True)
        os.chmod(self.certs, 0o755)
        for n in os.listdir(self.certs):
            os.chmod(os.path.join(self.certs, n), 0o644)

    def test_client_still_sending_over_tls_reads_the_whole_413(self):
        self.start_lingering(f"""
            ssl_certificate {self.certs}/a.crt;
            ssl_certificate_key {self.certs}/a.key;""", listen_flags="ssl")
        ctx = ssl.create_default_context(cafile=os.path.join(self.certs, "a.crt"))
        s = ctx.wrap_socket(self.connect(), server_hostname="a.test")
        s.sendall(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % BIG)
        self.assertIsNone(send_body(s, BIG))
        data, clean = read_to_end(s)  # close_notify reads as the end
        self.assertTrue(data.startswith(b"HTTP/1.1 413 "), data[:100])
        self.assertTrue(data.endswith(b"</html>\r\n"), data[-100:])
        self.assertTrue(clean)
        s.close()
        harness.wait_until(lambda: self.connections() == 0, "the lingering connection to close")


class LingeringMemoryTest(LingeringTestCase):
    """A lingering connection keeps its session and nothing else (no request state, no
    buffers): the same bound as an idle keep-alive connection (test_engine_lifecycle)."""

    COUNT = 2000
    LIMIT = 768

    def test_lingering_connections_hold_no_request_memory(self):
        wanted = self.COUNT + 256
        self.raise_nofile(wanted)
        self.log_path = os.path.join(self.workdir, "access.log")
        self.start_with_metrics("""
            client_max_body_size 1k;
            lingering_timeout 10m; lingering_time 10m;
            access_log off;
            location / { return 200 ok; }""", workers=1,
                                events=f"worker_connections {wanted};")
        pid = self.proxy.proc.pid
        if proc_status_kb(pid, "VmSize") > 1 << 30:
            self.skipTest("sanitizer build: its allocator and shadow memory decide RSS")
        warm = connect(self.port)
        self.too_large(warm)
        warm.close()
        harness.wait_until(lambda: self.connections() == 0, "the warm-up connection to close")
        before = proc_status_kb(pid, "VmRSS")
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100
        for _ in range(self.COUNT):
            s = self.connect()
            s.sendall(head)
            socks.append(s)
        for s in socks:
            data, clean = read_to_end(s)
            self.assertTrue(data.startswith(b"HTTP/1.1 413 ") and clean, data[:100])
        self.assertEqual(self.connections(), self.COUNT)  # all lingering
        self.assertLessEqual(settled_rss_per_connection(pid, before, self.COUNT, self.LIMIT),
                             self.LIMIT)


if __name__ == "__main__":
    unittest.main()
