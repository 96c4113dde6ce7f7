"""The upstream timeouts (proxy_connect_timeout, proxy_send_timeout, proxy_read_timeout) end
to end: each one answers 504 with its own log line and failure count, on fresh and on reused
keep-alive upstream connections; the read timeout starts once the request is sent and runs
between two reads, not over the whole response; the send timeout runs for every write;
per-location values keep their own deadlines; a session that goes away while its upstream
timeout is armed never hears from it again."""
import socket
import threading
import time
import unittest

import harness
from test_engine_backends import read_request
from test_engine_headers import EngineTestCase, connect

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def failures(port, reason):
    """realip_upstream_failures_total summed over peers for `reason`, scraped from `port`."""
    text = harness.http_request(
        port, b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n").decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("realip_upstream_failures_total{") and f'reason="{reason}"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


class UpstreamTimeoutTest(EngineTestCase):
    def start_proxy_to(self, port, location_extra, server_extra=""):
        """One worker (one upstream pool), `location /` proxied to an upstream block with
        keep-alive, metrics on a port of their own."""
        self.start_with_metrics(
            f"location / {{ proxy_pass http://app; proxy_http_version 1.1; "
            f"proxy_set_header Connection \"\"; {location_extra} }} {server_extra}",
            http_extra=f"upstream app {{ server 127.0.0.1:{port} max_fails=0; keepalive 8; }}",
            workers=1)

    def exchange(self, request):
        """Sends `request` on a new connection; returns the response's (status, body)."""
        s = connect(self.port)
        s.sendall(request)
        status, _, body, _ = harness.read_response(s)
        s.close()
        return status, body

    def timeouts_logged(self, what):
        return self.proxy.output().count(f"upstream timed out while {what}")

    def test_read_timeout_on_a_reused_keepalive_connection(self):
        release = threading.Event()
        self.addCleanup(release.set)

        def first_then_silent(sock, backend):
            req = read_request(sock)
            if req is None:
                return
            sock.sendall(OK)
            req = read_request(sock, req[4])
            if req is None:
                return
            backend.record(req[1])
            release.wait(60)

        backend = self.scripted(first_then_silent)
        self.start_proxy_to(backend.port, "proxy_read_timeout 1s;")
        s = connect(self.port)
        s.sendall(b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
        status, _, body, _ = harness.read_response(s)
        self.assertEqual((status, body), (200, b"ok"))
        s.sendall(b"GET /second HTTP/1.1\r\nHost: a\r\n\r\n")
        status, _, _, _ = harness.read_response(s)
        s.close()
        self.assertEqual(status, 504)
        # The second request went over the pooled connection, and was not sent again on a
        # fresh one (a timeout is not the stale-connection case).
        self.assertEqual(backend.connections, 1)
        self.assertEqual(backend.requests, ["/second"])
        self.assertEqual(self.timeouts_logged("reading"), 1)
        self.assertEqual(failures(self.metrics_port, "timeout"), 1)

    def test_read_timeout_runs_between_reads_not_over_the_response(self):
        # Five pieces half a second apart: 2.5 s in all, each gap well within the 2 s timeout.
        def trickle(sock, backend):
            if read_request(sock) is None:
                return
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
            for piece in b"abcde":
                time.sleep(0.5)
                sock.sendall(bytes([piece]))

        backend = self.scripted(trickle)
        self.start_proxy_to(backend.port, "proxy_read_timeout 2s;")
        status, body = self.exchange(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        self.assertEqual((status, body), (200, b"abcde"))
        self.assertEqual(self.timeouts_logged("reading"), 0)

    def test_per_location_read_timeouts_keep_their_own_deadlines(self):
        # /short times out after 1 s while /long, sent first and answered after 2 s, is not
        # cut by the shorter timeout of the request that came after it.
        release = threading.Event()
        self.addCleanup(release.set)

        def by_target(sock, backend):
            req = read_request(sock)
            if req is None:
                return
            if req[1] == "/long":
                time.sleep(2)
                sock.sendall(OK)
                return
            release.wait(60)

        backend = self.scripted(by_target)
        self.start_proxy_to(backend.port, "proxy_read_timeout 1s;",
                            "location /long { proxy_pass http://app; proxy_read_timeout 30s; }")
        results = {}

        def get(path):
            s = connect(self.port)
            s.settimeout(30)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
            results[path] = harness.read_response(s)[0]
            s.close()

        long = threading.Thread(target=get, args=("/long",))
        long.start()
        get("/short")
        long.join(30)
        self.assertEqual(results, {"/short": 504, "/long": 200})
        self.assertEqual(self.timeouts_logged("reading"), 1)

    def test_connect_timeout(self):
        # A listener whose accept queue is full drops further SYNs: connecting to it hangs.
        full = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(full.close)
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        fillers = []
        for _ in range(4):
            f = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.addCleanup(f.close)
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", port))
            fillers.append(f)
        self.start_proxy_to(port, "proxy_connect_timeout 1s;")
        status, _ = self.exchange(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(status, 504)
        self.assertEqual(self.timeouts_logged("connecting"), 1)
        self.assertEqual(failures(self.metrics_port, "timeout"), 1)

    def test_read_timeout_starts_once_the_whole_request_is_sent(self):
        # A body that trickles in, 3 s in all against a 1 s proxy_read_timeout: nginx starts the
        # read timeout when the request is sent, and so must we (this used to answer 504).
        def echo_body(sock, backend):
            req = read_request(sock)
            if req is None:
                return
            body = req[3]
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

        backend = self.scripted(echo_body)
        self.start_proxy_to(backend.port, "proxy_read_timeout 1s;")
        s = connect(self.port)
        s.sendall(b"POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n")
        for piece in b"0123456789":
            time.sleep(0.3)
            s.sendall(bytes([piece]))
        status, _, body, _ = harness.read_response(s)
        s.close()
        self.assertEqual((status, body), (200, b"0123456789"))
        self.assertEqual(self.timeouts_logged("reading"), 0)

    def test_send_timeout_when_the_upstream_stops_reading_the_body(self):
        # The upstream reads the head and then nothing: once its socket and ours are full, a
        # write of the body has to wait, and proxy_send_timeout ends the request. (It used to
        # run only for an attempt's first write, which never waits.)
        release = threading.Event()
        self.addCleanup(release.set)

        def read_head_only(sock, backend):
            if harness.recv_head(sock, b"") is None:
                return
            release.wait(60)

        backend = self.scripted(read_head_only)
        self.start_proxy_to(backend.port, "proxy_send_timeout 1s; proxy_read_timeout 60s; client_max_body_size 0;")
        s = connect(self.port)
        size = 64 << 20
        s.sendall(b"POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % size)

        def send_body():
            chunk = b"x" * (1 << 20)
            try:
                for _ in range(size >> 20):
                    s.sendall(chunk)
            except OSError:
                pass  # the proxy gave up and closed

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        status, _, _, _ = harness.read_response(s)
        s.close()
        sender.join(30)
        self.assertEqual(status, 504)
        # The error line of the upstream's failure (an info line names the client too: the
        # request's body was still coming, so its connection closes after the 504).
        errors = [line for line in self.proxy.output().splitlines()
                  if "[error]" in line and "upstream timed out while sending" in line]
        self.assertEqual(len(errors), 1)
        self.assertEqual(failures(self.metrics_port, "timeout"), 1)

    def test_connect_timeout_covers_an_https_upstreams_handshake(self):
        # The upstream accepts and never answers the ClientHello: nginx gives the handshake
        # proxy_connect_timeout (it used to wait for proxy_send_timeout, here 60 s).
        release = threading.Event()
        self.addCleanup(release.set)

        def silent(sock, backend):
            release.wait(60)

        backend = self.scripted(silent)
        self.start_with_metrics(
            f"location / {{ proxy_pass https://127.0.0.1:{backend.port}; "
            f"proxy_connect_timeout 1s; proxy_send_timeout 60s; }}", workers=1)
        status, _ = self.exchange(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(status, 504)
        self.assertEqual(self.timeouts_logged("connecting"), 1)
        self.assertEqual(failures(self.metrics_port, "timeout"), 1)

    def test_client_gone_while_the_upstream_timeout_is_armed(self):
        # The first client resets its connection while its request waits for the upstream
        # (read timeout armed; a plain close is a half-close, which still waits for the
        # response): its session goes away, and its request state goes back to the pool, where
        # the next request takes it. The second request's timeout, on the same 1 s list, passes after the
        # first one's would have: only it may be logged. Under ASan this also checks that no
        # freed session is called back.
        release = threading.Event()
        self.addCleanup(release.set)
        arrivals = []
        upstream_closed = threading.Event()

        def silent(sock, backend):
            if read_request(sock) is None:
                return
            arrivals.append(1)
            sock.settimeout(30)
            try:
                if not sock.recv(1):  # the proxy closes this connection when its client goes
                    upstream_closed.set()
            except OSError:
                upstream_closed.set()
            release.wait(60)

        backend = self.scripted(silent)
        self.start_proxy_to(backend.port, "proxy_read_timeout 1s;")
        first = connect(self.port)
        first.sendall(b"GET /gone HTTP/1.1\r\nHost: a\r\n\r\n")
        harness.wait_until(lambda: arrivals, "the first request at the backend")
        first.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        first.close()
        self.assertTrue(upstream_closed.wait(30))
        second = connect(self.port)
        second.sendall(b"GET /stays HTTP/1.1\r\nHost: a\r\n\r\n")
        status, _, _, _ = harness.read_response(second)
        second.close()
        self.assertEqual(status, 504)
        self.assertEqual(self.timeouts_logged("reading"), 1)
        self.assertEqual(failures(self.metrics_port, "timeout"), 1)


if __name__ == "__main__":
    unittest.main()
