"""The bench's own tools do what run.py assumes. The floor relay (realip-floor-relay): keep-alive
requests relayed both ways over shared backend connections, PROXY v1 and v2 headers dropped, and a
"Connection: close" request answered and closed without that line reaching the backend. The load
generator (realip-loadgen): every mode gets answers and counts no errors, and a refused port
counts errors and still ends on time. Scenario A-log's configurations: each tool accepts its own
(`realip-proxy -t`, `nginx -t`, `haproxy -c`), writes the line run.py's check wants for each
request, and that check refuses a wrong line or count. Run by CTest when the bench is built
(REALIP_BENCH)."""
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import run  # noqa: E402  (the bench itself: its configurations and its log check)

RELAY_BIN = os.environ.get("REALIP_FLOOR_BIN", "build/integration/bench/realip-floor-relay")
LOADGEN_BIN = os.environ.get("REALIP_LOADGEN_BIN", "build/integration/bench/realip-loadgen")

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2(src, dst, sport, dport):
    addresses = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(addresses)) + addresses


class FloorRelayTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.start_echo()
        self.plain, self.pp = harness.free_port(), harness.free_port()
        p = self.spawn([RELAY_BIN, str(self.echo.port), str(self.plain), str(self.pp)], "relay")
        for port in (self.plain, self.pp):
            harness.wait_for_port("127.0.0.1", port, p.proc)

    def test_keepalive_requests_share_backend_connections(self):
        peers = set()
        with socket.create_connection(("127.0.0.1", self.plain)) as s:
            for i in range(3):
                s.sendall(f"GET /r{i} HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n"
                          .encode())
                status, _, body, rest = harness.read_response(s)
                self.assertEqual(status, 200)
                self.assertEqual(rest, b"")
                seen = harness.echo_json(body)
                self.assertEqual(seen["uri"], f"/r{i}")
                self.assertEqual(seen["headers"]["x-forwarded-for"], "203.0.113.7")
                peers.add(seen["peer_port"])
        self.assertEqual(len(peers), 1, "one backend connection kept alive for all three")

    def test_proxy_headers_dropped_and_close_honoured(self):
        request = b"GET /pp HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        for header in (b"PROXY TCP4 198.51.100.9 127.0.0.1 4000 80\r\n",
                       proxy_v2("198.51.100.9", "127.0.0.1", 4000, 80)):
            whole = header + request
            # Whole, and split at every offset: header and request may arrive in pieces.
            for cut in range(1, len(whole) + 1):
                with socket.create_connection(("127.0.0.1", self.pp)) as s:
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    s.sendall(whole[:cut])
                    if cut < len(whole):
                        time.sleep(0.001)  # two segments, most of the time two reads
                        s.sendall(whole[cut:])
                    status, _, body, _ = harness.read_response(s)
                    self.assertEqual(status, 200)
                    seen = harness.echo_json(body)
                    self.assertEqual(seen["uri"], "/pp")
                    self.assertNotIn("connection", seen["headers"])
                    self.assertEqual(s.recv(1), b"", "closed after the response")

    def test_response_arriving_in_pieces(self):
        # A backend that writes each response a few bytes at a time, head and body: the relay
        # forwards all of it, including the bytes of a head that came in several reads.
        response = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Pad: " + b"p" * 40 + b"\r\n\r\nhello world"
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)

        def serve():
            conn, _ = listener.accept()
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for _ in range(2):
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(4096)
                    for i in range(0, len(response), 5):
                        conn.sendall(response[i:i + 5])
                        time.sleep(0.002)

        threading.Thread(target=serve, daemon=True).start()
        port = harness.free_port()
        p = self.spawn([RELAY_BIN, str(listener.getsockname()[1]), str(port)], "relay2")
        harness.wait_for_port("127.0.0.1", port, p.proc)
        with socket.create_connection(("127.0.0.1", port)) as s:
            for _ in range(2):
                s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                status, headers, body, rest = harness.read_response(s)
                self.assertEqual((status, body, rest), (200, b"hello world", b""))
                self.assertIn(("X-Pad", "p" * 40), headers)

    def loadgen(self, port, *args):
        out = subprocess.run([LOADGEN_BIN, "--port", str(port), "--duration", "0.3",
                              "--connections", "4", *args],
                             capture_output=True, text=True, timeout=60, check=True)
        return json.loads(out.stdout)

    def test_load_generator_modes(self):
        for args in ((), ("--mode", "close"), ("--rate", "500"),
                     ("--xff", "203.0.113.7, 198.51.100.2")):
            r = self.loadgen(self.plain, *args)
            self.assertGreater(r["requests"], 0, args)
            self.assertEqual(r["errors"], 0, args)
        for proxy in ("v1", "v2"):
            r = self.loadgen(self.pp, "--mode", "close", "--proxy", proxy)
            self.assertGreater(r["requests"], 0, proxy)
            self.assertEqual(r["errors"], 0, proxy)

    def test_load_generator_counts_refused_connections(self):
        r = self.loadgen(harness.free_port(), "--mode", "close")
        self.assertEqual(r["requests"], 0)
        self.assertGreater(r["errors"], 0)


class AccessLogScenarioTest(harness.TestCase):
    """Scenario A-log's tools, as run.py makes them, behind the bench's own nginx backend (the
    log line names its 23-byte body)."""

    def setUp(self):
        super().setUp()
        os.chmod(self.workdir, 0o755)  # nginx workers run as an unprivileged user
        backend, port = run.make_backend(self.workdir)
        self.addCleanup(backend.wait)
        self.addCleanup(backend.terminate)
        # run.py finds realip-proxy in a build directory: the one CTest's binary is in.
        build = os.path.dirname(os.path.dirname(os.path.abspath(harness.PROXY_BIN)))
        self.tools = run.make_tools(build, self.workdir, port, access_log=True)

    def test_configurations_accepted(self):
        self.assertEqual(sorted(self.tools), ["haproxy", "nginx", "realip-proxy"])
        for name, tool in self.tools.items():
            conf = tool.args[tool.args.index("-f" if name == "haproxy" else "-c") + 1]
            check = {"realip-proxy": [tool.args[0], "-t", "-c", conf],
                     "nginx": tool.args + ["-t"],
                     "haproxy": ["haproxy", "-c", "-f", conf]}[name]
            out = subprocess.run(check, capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, f"{name}: {out.stdout}{out.stderr}")

    def test_each_tool_logs_the_resolved_client(self):
        for name, tool in self.tools.items():
            tool.start()
            try:
                with socket.create_connection(("127.0.0.1", tool.port)) as s:
                    for _ in range(5):
                        s.sendall(f"GET / HTTP/1.1\r\nHost: bench\r\n"
                                  f"X-Forwarded-For: {run.XFF}\r\n\r\n".encode())
                        status, _, body, _ = harness.read_response(s)
                        self.assertEqual((status, len(body)), (200, 23), name)
            finally:
                tool.stop()
            self.assertEqual(run.check_access_log(tool, 5, 0), 5, name)
            self.assertFalse(os.path.exists(tool.access_log), f"{name}: log not deleted")

    def test_check_refuses_wrong_lines_and_counts(self):
        tool = self.tools["nginx"]
        good = (b'198.51.100.2 - - [27/Nov/2026:00:05:59 +0000] "GET / HTTP/1.1" 200 23 '
                b'"-" "-"\n')
        aborted = good.replace(b"200 23", b"499 0")  # in flight when wrk closed its connection
        # (file, requests counted, in flight, the error or None)
        for text, requests, in_flight, error in (
                (good * 3 + aborted, 3, 1, None),
                (good.replace(b"198.51.100.2", b"127.0.0.5"), 1, 0, "line 1"),
                (good + aborted, 1, 0, "line 2"),  # not served, and none was in flight
                (good + good[:-1], 2, 0, "line 2"),  # an unterminated last line
                (good * 8, 10, 0, "8 lines for 10 requests"),
                (good * 3, 2, 0, "3 lines for 2 requests"),
                (b"", 1, 0, "0 lines for 1 requests")):
            with open(tool.access_log, "wb") as f:
                f.write(text)
            if error is None:
                self.assertEqual(run.check_access_log(tool, requests, in_flight),
                                 text.count(b"\n"))
            else:
                with self.assertRaisesRegex(RuntimeError, error):
                    run.check_access_log(tool, requests, in_flight)
            self.assertFalse(os.path.exists(tool.access_log))
        with self.assertRaisesRegex(RuntimeError, "0 lines for 1 requests"):
            run.check_access_log(tool, 1, 0)  # no file at all

if __name__ == "__main__":
    import unittest
    unittest.main()
