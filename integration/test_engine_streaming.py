"""Streaming through the engine: 100 MiB up and down with flat proxy memory (also while the
client stops reading), chunked uploads, and a WebSocket-style upgrade tunnel."""
import socket
import threading
import time
import unittest

import harness
from test_engine_backends import read_all, read_head, read_request
from test_engine_headers import EngineTestCase, connect

MIB = 1024 * 1024
TOTAL = 100 * MIB
# Growth of the proxy's resident memory allowed during a transfer: buffers are bounded at
# 64 KiB per direction, so anything near the transfer size means full-body buffering.
MAX_GROWTH = 24 * MIB


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class RssSampler:
    def __init__(self, pid):
        self.pid = pid
        self.base = rss_bytes(pid)
        self.peak = self.base
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self.stop.wait(0.02)

    def growth(self):
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))
        return self.peak - self.base


def count_body(sock, backend):
    """Reads one request head, counts the Content-Length body as it streams, answers the count."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    want = int(headers["Content-Length"])
    got = len(rest)
    while got < want:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    body = str(got).encode()
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def send_blob(sock, backend):
    read_request(sock)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % TOTAL)
    block = b"d" * MIB
    for _ in range(TOTAL // MIB):
        sock.sendall(block)


class StreamingTest(EngineTestCase):
    def warm_up(self):
        # Let the workers allocate their steady-state buffers before measuring.
        self.request(b"GET /warm HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")

    def test_100_mib_upload_streams_with_flat_memory(self):
        backend = self.scripted(count_body)
        self.start(f"""
            client_max_body_size 0;
            location / {{ proxy_pass http://127.0.0.1:{backend.port}; }}""", workers=1)
        self.warm_up()
        sampler = RssSampler(self.proxy.proc.pid)
        s = connect(self.port)
        s.settimeout(120)
        s.sendall(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % TOTAL)
        block = b"u" * MIB
        for _ in range(TOTAL // MIB):
            s.sendall(block)
        status, _, body, _ = harness.read_response(s)
        s.close()
        growth = sampler.growth()
        self.assertEqual(status, 200)
        self.assertEqual(int(body), TOTAL)
        self.assertLess(growth, MAX_GROWTH, f"proxy RSS grew by {growth} bytes")

    def test_100_mib_download_with_a_pausing_reader_keeps_memory_flat(self):
        backend = self.scripted(send_blob)
        self.start(f"location / {{ proxy_pass http://127.0.0.1:{backend.port}; }}", workers=1)
        self.warm_up()
        sampler = RssSampler(self.proxy.proc.pid)
        s = connect(self.port)
        s.settimeout(120)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
        s.sendall(b"GET /down HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        got = 0
        paused = False
        head, rest = read_head(s)
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        got = len(rest)
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
            if not paused and got > 10 * MIB:
                # Stop reading: the backend keeps sending; the proxy must stop reading it
                # instead of buffering.
                paused = True
                time.sleep(1.0)
        s.close()
        growth = sampler.growth()
        self.assertEqual(got, TOTAL)
        self.assertLess(growth, MAX_GROWTH, f"proxy RSS grew by {growth} bytes")

    def test_chunked_upload_of_10_mib(self):
        def sink(sock, backend):
            method, target, headers, body, _ = read_request(sock)
            reply = str(len(body)).encode()
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(reply) + reply)

        backend = self.scripted(sink)
        self.start(f"""
            client_max_body_size 0;
            location / {{ proxy_pass http://127.0.0.1:{backend.port}; }}""")
        s = connect(self.port)
        s.settimeout(120)  # 10 MiB through an ASan build on a loaded 2-core machine
        s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b"c" * 100000
        for _ in range(100):
            s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        status, _, body, _ = harness.read_response(s)
        s.close()
        self.assertEqual(status, 200)
        self.assertEqual(int(body), 100 * len(piece))


# A client's WebSocket opening request (RFC 6455 section 1.3's example key).
WEBSOCKET_UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     b"\r\n")


def websocket_echo(sock, backend):
    """A scripted WebSocket backend: records the request's headers, answers 101, then echoes
    every byte until the proxy closes."""
    _, _, headers, _, rest = read_request(sock)
    backend.record(headers)
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: test\r\n\r\n")
    if rest:
        sock.sendall(rest)
    while True:
        data = sock.recv(65536)
        if not data:
            return
        sock.sendall(data)


class TunnelTest(EngineTestCase):
    def test_websocket_upgrade_becomes_a_byte_tunnel(self):
        backend = self.start_to(websocket_echo)
        s = connect(self.port)
        s.sendall(WEBSOCKET_UPGRADE)
        head, rest = read_head(s)
        self.assertTrue(head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), head)
        self.assertIn(b"Upgrade: websocket", head)
        self.assertIn(b"Connection: upgrade", head)
        seen = {k.lower(): v for k, v in backend.requests[0]}
        self.assertEqual(seen["upgrade"], "websocket")
        self.assertEqual(seen["connection"], "upgrade")
        self.assertEqual(seen["sec-websocket-key"], "dGhlIHNhbXBsZSBub25jZQ==")
        payload = bytes(range(256)) * 64 + b"\x81\x05hello"
        s.sendall(payload)
        echoed = rest
        while len(echoed) < len(payload):
            echoed += s.recv(65536)
        self.assertEqual(echoed, payload)
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(read_all(s), b"")
        s.close()

    def test_refused_upgrade_is_a_normal_response_then_close(self):
        def refuse(sock, backend):
            read_request(sock)
            sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")

        backend = self.start_to(refuse)
        reply = self.request(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\n\r\nnot-http-after-this")
        self.assertTrue(reply.startswith(b"HTTP/1.1 403"), reply)
        self.assertIn(b"Connection: close", reply)
        self.assertTrue(reply.endswith(b"\r\n\r\nno"), reply)


if __name__ == "__main__":
    unittest.main()
