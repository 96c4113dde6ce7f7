"""Scripted HTTP backends for the engine tests: a loopback server whose per-connection
behaviour is a Python function (stall, close early, send garbage, chunked, upgrade, ...).

Also tests itself, so that a broken helper fails here and not as a puzzling engine failure.
"""
import socket
import threading
import unittest

import harness


def read_request(sock, buffered=b""):
    """Reads one HTTP/1.1 request (Content-Length or chunked body) from `sock`.
    Returns (method, target, headers [(name, value)], body, leftover) or None on EOF."""
    got = harness.recv_head(sock, buffered)
    if got is None:
        return None
    head, rest = got
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
    hmap = {k.lower(): v for k, v in headers}
    body = b""
    if hmap.get("transfer-encoding", "").lower() == "chunked":
        body, rest = harness.read_chunked_body(sock, rest)
    elif "content-length" in hmap:
        n = int(hmap["content-length"])
        while len(rest) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body, rest = rest[:n], rest[n:]
    return method, target, headers, body, rest


class ScriptedBackend:
    """Accepts on 127.0.0.1 (or `host`) and runs handler(sock, backend) per connection in a
    thread. `requests` collects whatever handlers record; `connections` counts accepts."""

    def __init__(self, handler, host="127.0.0.1"):
        self.handler = handler
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.requests = []
        self.connections = 0
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.threads = []
        self.accept_thread = threading.Thread(target=self._accept, daemon=True)
        self.accept_thread.start()

    def record(self, item):
        with self.lock:
            self.requests.append(item)

    def _accept(self):
        while not self.stopped.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, sock):
        try:
            self.handler(sock, self)
        except OSError:
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def stop(self):
        self.stopped.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()


def serve_requests(respond):
    """A handler that reads the requests of a connection one by one, records each as
    (method, target, headers, body) and sends respond(method, target, headers, body)."""
    def handler(sock, backend):
        buffered = b""
        while True:
            req = read_request(sock, buffered)
            if req is None:
                return
            backend.record(req[:4])
            buffered = req[4]
            sock.sendall(respond(*req[:4]))
    return handler


def serve_fixed(response):
    """A handler answering every request on the connection with `response` bytes."""
    return serve_requests(lambda *request: response)


def held_backend(test):
    """A scripted backend of `test` that reads one request, sets `arrived` and answers
    200 "done" only once `release` is set (set at teardown too). Returns (backend, arrived,
    release)."""
    release = threading.Event()
    arrived = threading.Event()

    def slow(sock, backend):
        if read_request(sock) is None:
            return
        arrived.set()
        release.wait(60)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")

    backend = test.scripted(slow)
    test.addCleanup(release.set)
    return backend, arrived, release


def read_all(sock):
    """Reads until the peer closes (a reset counts as closing); returns the bytes."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


def read_head(sock):
    """Reads until the end of a message head; returns (head, bytes after it)."""
    got = harness.recv_head(sock)
    if got is None:
        raise ConnectionError("closed before the end of the head")
    return got


class ScriptedBackendSelfTest(unittest.TestCase):
    def test_fixed_response_and_chunked_request_are_read(self):
        backend = ScriptedBackend(serve_fixed(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        self.addCleanup(backend.stop)
        with socket.create_connection(("127.0.0.1", backend.port), timeout=10) as s:
            s.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"3\r\nabc\r\n0\r\n\r\n")
            data = b""
            while not data.endswith(b"ok"):
                data += s.recv(100)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK"))
        self.assertEqual(backend.requests[0][0], "POST")
        self.assertEqual(backend.requests[0][3], b"abc")


if __name__ == "__main__":
    unittest.main()
