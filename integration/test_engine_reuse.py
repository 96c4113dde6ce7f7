"""Reusing connections when worker_connections runs out (nginx's ngx_drain_connections): a
newcomer to a full worker closes the oldest reusable connection (one that sent nothing yet, an
idle keep-alive one, a lingering one) and is served; a connection with anything of a request
under way is never closed for it, and when nothing is reusable the newcomer is refused.

One worker with worker_connections 8. The scrapes go over one connection that always holds a
partial request head, so that it is busy (never reusable) and takes one of the 8 slots for the
whole test: the tests fill the other 7."""
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import unittest

import harness
from test_engine_backends import held_backend, read_all
from test_engine_headers import EngineTestCase, connect
from test_engine_lingering import read_to_end, trickle_until_refused
from test_observability import parse_prometheus, value

SLOTS = 8
REQUEST = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
PARTIAL = b"GET / HTTP/1.1\r\n"


class Scraper:
    """A keep-alive connection to the metrics server that is never reusable: each scrape
    completes the pending head and starts the next one in the same segment."""

    def __init__(self, port):
        self.s = connect(port)
        self.s.sendall(b"GET /metrics HTTP/1.1\r\n")

    def samples(self):
        self.s.sendall(b"Host: m\r\n\r\nGET /metrics HTTP/1.1\r\n")
        status, _, body, _ = harness.read_response(self.s)
        assert status == 200, status
        return parse_prometheus(body.decode())[1]


class ReuseTestCase(EngineTestCase):
    def setUp(self):
        super().setUp()
        self.sockets = []

    def tearDown(self):
        # Busy connections would hold the proxy's graceful stop for worker_shutdown_timeout.
        for s in self.sockets:
            s.close()
        super().tearDown()

    def start_small(self, server_body, http_extra="", listen_flags=""):
        self.start_with_metrics(server_body, http_extra=f"""
            client_header_timeout 5m;
            keepalive_timeout 5m;
            lingering_timeout 5m;
            lingering_time 5m;
            client_max_body_size 1k;
            {http_extra}""", workers=1, events=f"worker_connections {SLOTS};",
                                listen_flags=listen_flags)
        self.scraper = Scraper(self.metrics_port)
        self.sockets.append(self.scraper.s)
        # The readiness probes may hold a slot for a moment: they would be the oldest.
        harness.wait_until(lambda: self.connections() == 0, "only the scraper to be connected")

    def connections(self):
        return value(self.scraper.samples(), "realip_connections_active") - 1

    def reused(self, state):
        return value(self.scraper.samples(), "realip_connections_reused_total", state=state)

    def rejected(self):
        return value(self.scraper.samples(), "realip_connections_rejected_total",
                     reason="worker_connections")

    def connect(self):
        s = connect(self.port)
        self.sockets.append(s)
        return s

    def keepalive(self):
        """A connection idle after one request answered."""
        s = self.connect()
        s.sendall(REQUEST)
        self.assertEqual(harness.read_response(s)[2], b"ok")
        return s

    def partial(self):
        """A connection busy with a partial head: it sent one request and the start of the
        next in one segment, and the answer to the first shows that both were read."""
        s = self.connect()
        s.sendall(REQUEST + PARTIAL)
        self.assertEqual(harness.read_response(s)[2], b"ok")
        return s

    def assert_serves(self, s):
        s.sendall(REQUEST)
        self.assertEqual(harness.read_response(s)[2], b"ok")

    def assert_closed(self, s):
        """The proxy closed `s` (EOF, or a reset if it had unread input)."""
        try:
            self.assertEqual(s.recv(100), b"")
        except ConnectionResetError:
            pass

    def log(self):
        return self.proxy.output()


class ReuseTest(ReuseTestCase):
    def test_oldest_idle_keepalive_connection_makes_room(self):
        self.start_small("location / { return 200 ok; }")
        held = [self.keepalive() for _ in range(SLOTS - 1)]
        self.assertEqual(self.connections(), SLOTS - 1)
        newcomer = self.keepalive()
        self.assert_closed(held[0])
        # The others are untouched, the newest and the next oldest included.
        self.assert_serves(held[-1])
        self.assert_serves(held[1])
        self.assert_serves(newcomer)
        self.assertEqual(self.connections(), SLOTS - 1)
        self.assertEqual(self.reused("keepalive"), 1)
        self.assertIsNone(self.rejected())
        self.assertRegex(self.log(),
                         f"{SLOTS} worker_connections are not enough, reusing connections")

    def test_connections_that_sent_nothing_are_reused(self):
        self.start_small("location / { return 200 ok; }")
        silent = [self.connect() for _ in range(SLOTS - 1)]
        harness.wait_until(lambda: self.connections() == SLOTS - 1, "the silent connections")
        self.keepalive()
        # Accepted in the order they connected: the first is the oldest.
        self.assert_closed(silent[0])
        self.assert_serves(silent[-1])
        self.assert_serves(silent[1])
        self.assertEqual(self.reused("new"), 1)

    def test_busy_connections_are_never_reused_and_a_newcomer_is_refused_without_room(self):
        backend, arrived, release = held_backend(self)
        self.start_small(f"""
            location / {{ return 200 ok; }}
            location /slow {{ proxy_pass http://127.0.0.1:{backend.port}; }}""")
        # Older than the idle connection: partial heads and requests waiting for the backend.
        partial = [self.partial() for _ in range(3)]
        in_flight = []
        for i in range(3):
            s = self.connect()
            s.sendall(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
            in_flight.append(s)
            harness.wait_until(lambda: backend.connections == i + 1, "the request at the backend")
        idle = self.keepalive()
        # Full: the idle connection is the only one reusable, whatever its age.
        newcomer = self.partial()
        self.assert_closed(idle)
        self.assertEqual(self.reused("keepalive"), 1)
        # Nothing reusable now: the next newcomer is accepted and closed, as before.
        refused = self.connect()
        refused.sendall(REQUEST)
        self.assertEqual(read_all(refused), b"")
        self.assertEqual(self.rejected(), 1)
        self.assertEqual(self.reused("keepalive"), 1)
        self.assertRegex(self.log(), re.compile(
            f"{SLOTS} worker_connections are not enough$", re.MULTILINE))
        # Every busy connection finishes its request.
        release.set()
        for s in in_flight:
            status, _, body, _ = harness.read_response(s)
            self.assertEqual((status, body), (200, b"done"))
        for s in partial + [newcomer]:
            s.sendall(b"Host: a\r\n\r\n")
            self.assertEqual(harness.read_response(s)[2], b"ok")

    def test_lingering_connection_is_reused(self):
        self.start_small("location / { return 200 ok; }")
        lingering = self.connect()
        lingering.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"
                          + b"x" * 100)
        data, clean = read_to_end(lingering)  # the 413, then the proxy's half-close
        self.assertTrue(data.startswith(b"HTTP/1.1 413 ") and clean, data[:100])
        busy = [self.partial() for _ in range(SLOTS - 2)]
        self.assertEqual(self.connections(), SLOTS - 1)
        newcomer = self.keepalive()
        # Closed for the newcomer: a byte now is refused (it was read and dropped before).
        self.assertIsNotNone(trickle_until_refused(lingering, limit=30))
        self.assertEqual(self.reused("lingering"), 1)
        for s in busy:
            s.sendall(b"Host: a\r\n\r\n")
            self.assertEqual(harness.read_response(s)[2], b"ok")
        self.assert_serves(newcomer)

    def test_a_batch_is_an_eighth_of_the_reusable_ones(self):
        # 7 reusable: max(min(32, 7 / 8), 1) = 1 per newcomer, as nginx. Two newcomers in a
        # row close the two oldest.
        self.start_small("location / { return 200 ok; }")
        held = [self.keepalive() for _ in range(SLOTS - 1)]
        first, second = self.keepalive(), self.keepalive()
        self.assert_closed(held[0])
        self.assert_closed(held[1])
        for s in held[2:] + [first, second]:
            self.assert_serves(s)
        self.assertEqual(self.reused("keepalive"), 2)


class ReuseProxyProtocolTest(ReuseTestCase):
    def test_silent_connection_is_reused_a_partial_proxy_header_is_not(self):
        self.start_small("location / { return 200 ok; }", listen_flags="proxy_protocol")
        header = b"PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n"
        # Half a header, sent first: the oldest connection, but busy.
        half = self.connect()
        half.sendall(header[:10])
        harness.wait_until(lambda: self.connections() == 1, "the connection with half a header")
        silent = [self.connect() for _ in range(SLOTS - 2)]
        harness.wait_until(lambda: self.connections() == SLOTS - 1, "the silent connections")
        newcomer = self.connect()
        newcomer.sendall(header + REQUEST)
        self.assertEqual(harness.read_response(newcomer)[2], b"ok")
        self.assert_closed(silent[0])
        self.assertEqual(self.reused("new"), 1)
        half.sendall(header[10:] + REQUEST)
        self.assertEqual(harness.read_response(half)[2], b"ok")
        silent[-1].sendall(header + REQUEST)
        self.assertEqual(harness.read_response(silent[-1])[2], b"ok")


class ReuseTlsTest(ReuseTestCase):
    def test_silent_connection_is_reused_a_handshake_under_way_is_not(self):
        certs = tempfile.mkdtemp(prefix="realip-reuse-tls-")
        self.addCleanup(shutil.rmtree, certs, True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=a.test", "-addext", "subjectAltName=DNS:a.test",
                        "-keyout", "a.key", "-out", "a.crt"],
                       cwd=certs, check=True, capture_output=True)
        os.chmod(certs, 0o755)
        for n in os.listdir(certs):
            os.chmod(os.path.join(certs, n), 0o644)
        self.start_small(f"""
            ssl_certificate {certs}/a.crt;
            ssl_certificate_key {certs}/a.key;
            location / {{ return 200 ok; }}""", listen_flags="ssl")
        ctx = ssl.create_default_context(cafile=os.path.join(certs, "a.crt"))
        # The start of a ClientHello record: the handshake is under way, the oldest is busy.
        started = self.connect()
        started.sendall(b"\x16\x03\x01\x02\x00\x01")
        harness.wait_until(lambda: self.connections() == 1, "the connection with a partial ClientHello")
        silent = [self.connect() for _ in range(SLOTS - 2)]
        harness.wait_until(lambda: self.connections() == SLOTS - 1, "the silent connections")
        newcomer = ctx.wrap_socket(self.connect(), server_hostname="a.test")
        self.assert_serves(newcomer)
        self.assert_closed(silent[0])
        self.assertEqual(self.reused("new"), 1)
        last = ctx.wrap_socket(silent[-1], server_hostname="a.test")
        self.assert_serves(last)
        # Still open: the rest of its record is awaited (here it will never be valid).
        self.assertEqual(self.connections(), SLOTS - 1)


if __name__ == "__main__":
    unittest.main()
