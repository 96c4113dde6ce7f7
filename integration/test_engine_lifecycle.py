"""Process lifecycle of the engine: graceful stop with a request in flight (SIGTERM), reload for
new connections (SIGHUP), and PROXY headers sent to the upstream. test_lifecycle.py has the
rest (readiness, shutdown_delay, fast stop, listener reloads, log reopening, limits)."""
import signal
import socket
import struct
import threading
import unittest

import harness
from test_engine_backends import held_backend, read_all, read_request
from test_engine_headers import UNTRUSTED, EngineTestCase, connect


# Offset of tcpi_segs_in in Linux's struct tcp_info (linux/tcp.h).
TCPI_SEGS_IN = 140


class LifecycleTest(EngineTestCase):
    def test_sigterm_finishes_requests_in_flight_then_exits_zero(self):
        backend, arrived, release = held_backend(self)
        self.start(f"location / {{ proxy_pass http://127.0.0.1:{backend.port}; }}")
        s = connect(self.port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertTrue(arrived.wait(10))
        idle = connect(self.port)  # an idle keep-alive connection is closed at once
        self.proxy.proc.send_signal(signal.SIGTERM)
        self.assertEqual(read_all(idle), b"")
        self.proxy.wait_for_line(r"shutting down gracefully")
        with self.assertRaises(OSError):
            # Listeners are closed: nobody accepts any more.
            for _ in range(50):
                connect(self.port).close()
                threading.Event().wait(0.05)
        release.set()
        status, headers, body, _ = harness.read_response(s)
        self.assertEqual((status, body), (200, b"done"))
        self.assertIn(("Connection", "close"), headers)
        self.assertEqual(self.proxy.proc.wait(timeout=30), 0)

    def test_sighup_reload_applies_to_new_connections(self):
        self.start('location / { return 200 "one"; }')
        old = connect(self.port)
        old.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(harness.read_response(old)[2], b"one")
        path = self.write_config(open(self.proxy.proc.args[2]).read().replace('"one"', '"two"'))
        self.assertEqual(path, self.proxy.proc.args[2])
        self.proxy.proc.send_signal(signal.SIGHUP)
        self.proxy.wait_for_line(r"reconfiguring")
        body = b"one"
        for _ in range(100):
            reply = harness.http_request(
                self.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            body = reply.partition(b"\r\n\r\n")[2]
            if body == b"two":
                break
            threading.Event().wait(0.05)
        self.assertEqual(body, b"two")
        # The connection opened before the reload keeps its configuration.
        old.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(harness.read_response(old)[2], b"one")
        old.close()

    def test_a_half_close_seen_with_the_response_still_gets_the_response(self):
        # The backend's response and the client's FIN reach the proxy in one loop iteration
        # (the proxy is stopped while both arrive): the response finishes the request first,
        # its bytes wait for the iteration's write flush, then the client's end of input is
        # read. The proxy must send the response before it closes.
        release = threading.Event()
        sent = threading.Event()

        def answer(sock, backend):
            if read_request(sock) is None:
                return
            backend.record(b"request")
            release.wait(60)
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
            sent.set()

        backend = self.scripted(answer)
        self.addCleanup(release.set)
        self.start(f"location / {{ proxy_pass http://127.0.0.1:{backend.port}; }}", workers=1)
        s = connect(self.port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        for _ in range(200):
            if backend.requests:
                break
            threading.Event().wait(0.05)
        self.assertEqual(backend.requests, [b"request"])
        self.proxy.proc.send_signal(signal.SIGSTOP)
        try:
            release.set()
            self.assertTrue(sent.wait(10))
            s.shutdown(socket.SHUT_WR)
        finally:
            self.proxy.proc.send_signal(signal.SIGCONT)
        status, _, body, rest = harness.read_response(s)
        self.assertEqual((status, body), (200, b"done"))
        self.assertEqual(rest + read_all(s), b"")
        s.close()

    def test_a_close_the_client_asked_for_sends_the_last_bytes_and_the_fin_together(self):
        # The response goes out with MSG_MORE and close() sends it with the FIN, so the client
        # receives three segments in all: the SYN-ACK, the ACK of its request and the
        # response with the FIN (four when the FIN follows on its own).
        echo = self.start_echo()
        self.start(f"location / {{ proxy_pass http://127.0.0.1:{echo.port}; }}")
        for _ in range(5):
            s = connect(self.port)
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            status, _, body, rest = harness.read_response(s)
            self.assertEqual(rest + read_all(s), b"")  # then the close, nothing else
            info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
            s.close()
            self.assertEqual(status, 200)
            self.assertEqual(harness.echo_json(body)["method"], "GET")
            segs_in = struct.unpack_from("I", info, TCPI_SEGS_IN)[0]
            self.assertLessEqual(segs_in, 3)

    def test_proxy_protocol_to_the_upstream(self):
        for version, prefix in ((1, b"PROXY TCP4 127.0.0.3 127.0.0.1 "),
                                (2, b"\r\n\r\n\x00\r\nQUIT\n\x21\x11")):
            with self.subTest(version=version):
                def handler(sock, backend):
                    data = b""
                    while b"GET" not in data:
                        data += sock.recv(4096)
                    backend.record(data[:data.index(b"GET")])
                    read_request(sock, data[data.index(b"GET"):])
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

                backend = self.scripted(handler)
                self.start(f"""
                    location / {{
                      proxy_protocol on;
                      proxy_protocol_version {version};
                      proxy_pass http://127.0.0.1:{backend.port};
                    }}""")
                reply = self.request(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                                     source=UNTRUSTED)
                self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply)
                self.assertTrue(backend.requests[0].startswith(prefix), backend.requests[0])
                if version == 2:
                    self.assertEqual(backend.requests[0][16:20], socket.inet_aton(UNTRUSTED))


def proc_status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def settled_rss_per_connection(pid, before_kb, count, limit):
    """RSS bytes per connection over `before_kb`, read again for up to 10 s until it is at most
    `limit` (the worker returns memory after a quiet moment); the last reading."""
    per_connection = None
    for _ in range(100):
        per_connection = (proc_status_kb(pid, "VmRSS") - before_kb) * 1024 / count
        if per_connection <= limit:
            break
        threading.Event().wait(0.1)
    return per_connection


class IdleMemoryTest(EngineTestCase):
    """What an idle keep-alive connection costs once a burst of requests is over (bench
    scenario D, docs/performance.md): its session, no buffers, no request state."""

    COUNT = 2000
    LIMIT = 768  # bytes of RSS per connection; about 450 measured, 512 is the bench's target

    def test_idle_keepalive_connections_hold_no_request_memory(self):
        wanted = self.COUNT + 256
        self.raise_nofile(wanted)
        echo = self.start_echo()
        self.start("location / { proxy_pass http://backend; }",
                   upstream=f"upstream backend {{ server 127.0.0.1:{echo.port}; keepalive 16; }}",
                   workers=1, events=f"worker_connections {wanted};")
        pid = self.proxy.proc.pid
        if proc_status_kb(pid, "VmSize") > 1 << 30:
            self.skipTest("sanitizer build: its allocator and shadow memory decide RSS")
        request = b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n"
        warm = connect(self.port)
        warm.sendall(request)
        self.assertEqual(harness.read_response(warm)[0], 200)
        before = proc_status_kb(pid, "VmRSS")
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(self.COUNT):
            s = connect(self.port)
            s.sendall(request)
            socks.append(s)
        for s in socks:
            self.assertEqual(harness.read_response(s)[0], 200)
        # The worker returns the burst's memory after a quiet moment; wait for that.
        self.assertLessEqual(settled_rss_per_connection(pid, before, self.COUNT, self.LIMIT),
                             self.LIMIT)
        # Still served: the connections are idle, not dropped.
        socks[0].sendall(request)
        self.assertEqual(harness.read_response(socks[0])[0], 200)


if __name__ == "__main__":
    unittest.main()
