"""Upstream balancing, keep-alive pools, passive health, retries and PROXY headers to backends,
end to end: realip-proxy in front of several realip-echo backends (each names itself with -n),
scripted python backends (slow, closing idle connections) and nginx / haproxy listeners that
expect a PROXY header."""
import collections
import os
import shutil
import signal
import socket
import threading
import time
import unittest

import harness
from test_engine_backends import ScriptedBackend, read_request

# Requests come from 127.0.0.1 (trusted); the client address is the X-Forwarded-For value.
REALIP = "set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;"


def wait_for_lines(path, count, timeout=harness.READY_TIMEOUT):
    """The lines of `path` once it has at least `count` of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().splitlines()
            if len(lines) >= count:
                return lines
        time.sleep(0.05)
    raise TimeoutError(f"{path} did not reach {count} lines")


class Client:
    """One keep-alive client connection to the proxy."""

    def __init__(self, port, timeout=30.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.rest = b""

    def get(self, path="/", headers=(), method="GET", body=b""):
        lines = [f"{method} {path} HTTP/1.1", "Host: a"] + [f"{k}: {v}" for k, v in headers]
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status, hdrs, data, self.rest = harness.read_response(self.sock, self.rest)
        return status, data

    def close(self):
        self.sock.close()


class UpstreamTestCase(harness.TestCase):
    def start_with(self, upstream, location_extra="", workers=1, http_extra=""):
        self.port = harness.free_port()
        text = f"""
worker_processes {workers};
error_log stderr info;
events {{ worker_connections 512; }}
http {{
  {http_extra}
  upstream app {{
    {upstream}
  }}
  server {{
    listen 127.0.0.1:{self.port};
    {REALIP}
    location / {{
      {location_extra}
      proxy_pass http://app;
    }}
  }}
}}
"""
        return self.start_proxy(text, wait=(("127.0.0.1", self.port),))

    def echoes(self, names):
        return {name: self.start_echo(name=name) for name in names}

    def run_requests(self, count, clients=2, headers_for=None, on_progress=None):
        """`count` GETs over `clients` keep-alive connections in parallel; returns the
        (status, echo document or body) of each, in no particular order."""
        results = []
        lock = threading.Lock()
        done = [0]

        def worker(n, offset):
            c = Client(self.port)
            try:
                for i in range(n):
                    headers = headers_for(offset + i) if headers_for else ()
                    status, body = c.get(headers=headers)
                    doc = harness.echo_json(body) if status == 200 else body
                    with lock:
                        results.append((status, doc))
                        done[0] += 1
                        progress = done[0]
                    if on_progress is not None:
                        on_progress(progress)
            finally:
                c.close()

        per = count // clients
        threads = [threading.Thread(target=worker, args=(per, k * per)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results


class BalancingTest(UpstreamTestCase):
    def test_weights_5_1_1_over_10000_requests_and_connections_are_reused(self):
        e = self.echoes(["a", "b", "c"])
        self.start_with(f"""
            server 127.0.0.1:{e['a'].port} weight=5;
            server 127.0.0.1:{e['b'].port};
            server 127.0.0.1:{e['c'].port};
            keepalive 8;
            keepalive_requests 100000;""", http_extra="keepalive_requests 100000;")
        results = self.run_requests(10000, clients=2)
        self.assertTrue(all(status == 200 for status, _ in results))
        names = collections.Counter(doc["server"] for _, doc in results)
        for name, share in (("a", 5 / 7), ("b", 1 / 7), ("c", 1 / 7)):
            self.assertAlmostEqual(names[name] / 10000, share, delta=0.02, msg=str(names))
        # Two client connections, one worker: at most two backend connections per backend.
        conns = {(doc["server"], doc["peer_port"]) for _, doc in results}
        self.assertLessEqual(len(conns), 6, conns)

    def test_weighted_round_robin_interleaves(self):
        e = self.echoes(["a", "b", "c"])
        self.start_with(f"""
            server 127.0.0.1:{e['a'].port} weight=5;
            server 127.0.0.1:{e['b'].port};
            server 127.0.0.1:{e['c'].port};""")
        c = Client(self.port)
        seq = "".join(harness.echo_json(c.get()[1])["server"] for _ in range(14))
        c.close()
        # nginx's smooth weighted round-robin: a a b a c a a, twice.
        self.assertEqual(seq, "aabacaa" * 2)

    def test_least_conn_avoids_the_slow_backend(self):
        release = threading.Event()
        slow_hits = []

        def slow(sock, backend):
            req = read_request(sock)
            if req is None:
                return
            slow_hits.append(1)
            release.wait(30)
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow")

        backend = ScriptedBackend(slow)
        self.addCleanup(backend.stop)
        self.addCleanup(release.set)
        fast = self.start_echo(name="fast")
        self.start_with(f"""
            least_conn;
            server 127.0.0.1:{backend.port};
            server 127.0.0.1:{fast.port};""")
        replies = []

        def one():
            replies.append(harness.http_request(
                self.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))

        threads = []
        for _ in range(20):
            t = threading.Thread(target=one)
            t.start()
            threads.append(t)
            # Each request starts after the previous one reached a backend or finished.
            deadline = time.monotonic() + 10
            while (len(replies) + len(slow_hits) < len(threads) and
                   time.monotonic() < deadline):
                time.sleep(0.005)
        fast_count = sum(1 for r in replies if b'"server": "fast"' in r)
        release.set()
        for t in threads:
            t.join()
        # Round-robin would send 10 of 20 to the slow backend; least_conn only while it has
        # no more requests in flight than the fast one, i.e. the first one.
        self.assertLessEqual(len(slow_hits), 2, len(slow_hits))
        self.assertGreaterEqual(fast_count, 18)
        self.assertEqual(len(replies), 20)

    def test_reload_builds_new_balancers_and_old_connections_keep_theirs(self):
        e = self.echoes(["a", "b", "c"])
        proxy = self.start_with(f"server 127.0.0.1:{e['a'].port}; "
                                f"server 127.0.0.1:{e['b'].port}; keepalive 4;")
        old = Client(self.port)
        self.assertEqual({harness.echo_json(old.get()[1])["server"] for _ in range(4)},
                         {"a", "b"})
        path = proxy.proc.args[2]
        with open(path) as f:
            text = f.read()
        self.write_config(text.replace(f"127.0.0.1:{e['a'].port}", f"127.0.0.1:{e['c'].port}"))
        proxy.proc.send_signal(signal.SIGHUP)
        proxy.wait_for_line(r"reconfiguring")
        seen = set()
        deadline = time.monotonic() + 30
        while "c" not in seen and time.monotonic() < deadline:
            c = Client(self.port)
            seen.add(harness.echo_json(c.get()[1])["server"])
            c.close()
        self.assertIn("c", seen)
        new = Client(self.port)
        self.assertEqual({harness.echo_json(new.get()[1])["server"] for _ in range(4)},
                         {"b", "c"})
        new.close()
        # The connection accepted before the reload still uses the old upstream block.
        self.assertEqual({harness.echo_json(old.get()[1])["server"] for _ in range(4)},
                         {"a", "b"})
        old.close()

    def assignments(self, ips):
        c = Client(self.port)
        out = {}
        for ip in ips:
            status, body = c.get(headers=(("X-Forwarded-For", ip),))
            self.assertEqual(status, 200)
            doc = harness.echo_json(body)
            self.assertEqual(doc["headers"].get("x-real-ip"), ip)
            out[ip] = doc["server"]
        c.close()
        return out

    def test_consistent_hash_moves_about_one_nth_when_a_server_is_removed(self):
        e = self.echoes(["a", "b", "c", "d"])
        ips = [f"10.{i // 250}.{i % 250}.{(i * 7) % 250 + 1}" for i in range(400)]
        servers = [f"server 127.0.0.1:{e[n].port};" for n in "abcd"]
        first = self.start_with("hash $remote_addr consistent;" + "".join(servers))
        before = self.assignments(ips)
        self.assertEqual(self.assignments(ips[:50]), {ip: before[ip] for ip in ips[:50]})
        first.stop()
        self.start_with("hash $remote_addr consistent;" + "".join(servers[:3]))
        after = self.assignments(ips)
        moved = [ip for ip in ips if before[ip] != after[ip]]
        # Only the keys of the removed server move, and those are about a quarter.
        self.assertEqual({before[ip] for ip in moved}, {"d"})
        self.assertAlmostEqual(len(moved) / len(ips), 0.25, delta=0.12)
        self.assertEqual(set(before.values()), {"a", "b", "c", "d"})

    def test_ip_hash_keeps_a_client_on_one_backend(self):
        e = self.echoes(["a", "b", "c"])
        self.start_with("ip_hash;" + "".join(f"server 127.0.0.1:{e[n].port};" for n in "abc"))
        ips = [f"192.0.{i}.9" for i in range(60)]
        first = self.assignments(ips)
        self.assertEqual(self.assignments(ips), first)
        self.assertGreater(len(set(first.values())), 1)
        # ip_hash uses the first three octets: one /24 stays together.
        same24 = self.assignments([f"192.0.7.{i}" for i in range(1, 20)])
        self.assertEqual(set(same24.values()), {first["192.0.7.9"]})


class HealthTest(UpstreamTestCase):
    def test_failover_when_a_backend_is_killed_during_a_run(self):
        e = self.echoes(["a", "b", "c"])
        self.start_with(f"""
            server 127.0.0.1:{e['a'].port};
            server 127.0.0.1:{e['b'].port} max_fails=1 fail_timeout=60s;
            server 127.0.0.1:{e['c'].port};
            keepalive 8;""", workers=2)
        killed = threading.Event()

        def progress(n):
            if n == 300 and not killed.is_set():
                e["b"].proc.send_signal(signal.SIGKILL)
                e["b"].proc.wait()
                killed.set()

        results = self.run_requests(1200, clients=3, on_progress=progress)
        self.assertTrue(killed.is_set())
        bad = [r for r in results if r[0] != 200]
        self.assertEqual(bad, [])
        names = collections.Counter(doc["server"] for _, doc in results)
        self.assertGreater(names["b"], 0)
        self.assertGreater(names["a"], 300)
        self.assertGreater(names["c"], 300)

    def test_all_down_answers_502_at_once(self):
        ports = [harness.free_port(), harness.free_port()]
        self.start_with("".join(f"server 127.0.0.1:{p} max_fails=1;" for p in ports))
        for _ in range(3):
            reply = harness.http_request(
                self.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            self.assertTrue(reply.startswith(b"HTTP/1.1 502"), reply)
        # Both are marked down now: the answer comes without trying them again.
        self.assertIn("no live upstreams", self.processes[-1].output())

    def test_recovery_after_fail_timeout(self):
        live = self.start_echo(name="live")
        dead_port = harness.free_port()
        self.start_with(f"""
            server 127.0.0.1:{live.port};
            server 127.0.0.1:{dead_port} max_fails=1 fail_timeout=1s;""")
        c = Client(self.port)
        for _ in range(6):
            status, body = c.get()
            self.assertEqual(status, 200)
            self.assertEqual(harness.echo_json(body)["server"], "live")
        # The dead server comes back; after fail_timeout one trial request decides.
        back = self.spawn([harness.ECHO_BIN, "-l", "127.0.0.1", "-p", str(dead_port),
                           "-n", "back"], "back")
        back.wait_for_line(r"listening on")
        seen = set()
        deadline = time.monotonic() + 30
        while "back" not in seen and time.monotonic() < deadline:
            status, body = c.get()
            self.assertEqual(status, 200)
            seen.add(harness.echo_json(body)["server"])
            time.sleep(0.05)
        c.close()
        self.assertIn("back", seen)


def closing_after_first(sock, backend):
    """Answers the first request of a connection with keep-alive, then reads the next one and
    closes without answering (a backend that dropped an idle keep-alive connection)."""
    req = read_request(sock)
    if req is None:
        return
    body = req[3]
    backend.record(("ok", req[0], body))
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    nxt = read_request(sock, req[4])
    if nxt is not None:
        backend.record(("dropped", nxt[0], nxt[3]))


def answer_once_then_wait(sock, backend, seconds):
    """Answers one request with keep-alive, then waits up to `seconds` for more bytes. Returns
    None if no request came, b"" if the proxy closed the connection, b"timeout" if nothing
    came, or the first byte of what came next."""
    req = read_request(sock)
    if req is None:
        return None
    backend.record(req[0])
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    sock.settimeout(seconds)
    try:
        return sock.recv(1)
    except socket.timeout:
        return b"timeout"


class KeepAliveTest(UpstreamTestCase):
    def test_keepalive_requests_bounds_reuse(self):
        e = self.echoes(["a"])
        self.start_with(f"""
            server 127.0.0.1:{e['a'].port};
            keepalive 4;
            keepalive_requests 50;""")
        c = Client(self.port)
        ports = [harness.echo_json(c.get()[1])["peer_port"] for _ in range(200)]
        c.close()
        # 200 requests, 50 per connection: four backend connections, each used 50 times.
        self.assertEqual(sorted(collections.Counter(ports).values()), [50, 50, 50, 50])

    def test_http_1_0_upstream_is_never_kept_alive(self):
        def handler(sock, backend):
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                data += chunk
            head = data.split(b"\r\n\r\n")[0].decode().split("\r\n")
            conn = [h.split(":", 1)[1].strip() for h in head if h.lower().startswith("connection:")]
            backend.record((head[0], conn))
            sock.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")

        backend = ScriptedBackend(handler)
        self.addCleanup(backend.stop)
        self.start_with(f"server 127.0.0.1:{backend.port}; keepalive 4;",
                        location_extra="proxy_http_version 1.0;")
        c = Client(self.port)
        for _ in range(5):
            self.assertEqual(c.get(), (200, b"ok"))
        # A chunked body cannot be framed for HTTP/1.0 without buffering it.
        c.sock.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"2\r\nhi\r\n0\r\n\r\n")
        self.assertEqual(harness.read_response(c.sock)[0], 411)
        c.close()
        self.assertEqual(backend.requests, [("GET / HTTP/1.0", ["close"])] * 5)
        self.assertEqual(backend.connections, 5)

    def test_reused_connection_closed_by_the_backend_is_retried_on_a_fresh_one(self):
        backend = ScriptedBackend(closing_after_first)
        self.addCleanup(backend.stop)
        self.start_with(f"server 127.0.0.1:{backend.port} max_fails=1; keepalive 4;")
        c = Client(self.port)
        for method, body in (("GET", b""), ("PUT", b"put-body"), ("GET", b""),
                             ("POST", b"")):
            status, data = c.get(method=method, body=body)
            self.assertEqual((status, data), (200, body), method)
        # A POST with a body is not idempotent: never sent twice, the client gets the 502.
        status, _ = c.get(method="POST", body=b"once")
        self.assertEqual(status, 502)
        c.close()
        dropped = [r for r in backend.requests if r[0] == "dropped"]
        answered = [r for r in backend.requests if r[0] == "ok"]
        self.assertEqual([r[1] for r in answered], ["GET", "PUT", "GET", "POST"])
        self.assertEqual(answered[1][2], b"put-body")
        # Each request after the first met a stale pooled connection first.
        self.assertEqual([r[1] for r in dropped], ["PUT", "GET", "POST", "POST"])

    def test_pooled_connection_closed_while_idle_is_not_used(self):
        closed = threading.Event()

        def idle_closer(sock, backend):
            more = answer_once_then_wait(sock, backend, 0.2)
            if more is None:
                return
            if more not in (b"", b"timeout"):
                backend.record("used-after-idle")
            sock.close()
            closed.set()

        backend = ScriptedBackend(idle_closer)
        self.addCleanup(backend.stop)
        self.start_with(f"server 127.0.0.1:{backend.port}; keepalive 4;")
        c = Client(self.port)
        for _ in range(3):
            closed.clear()
            self.assertEqual(c.get(), (200, b"ok"))
            self.assertTrue(closed.wait(10))
        c.close()
        self.assertNotIn("used-after-idle", backend.requests)
        self.assertEqual(backend.connections, 3)

    def test_idle_pooled_connection_is_closed_after_keepalive_timeout(self):
        closed = threading.Event()

        def wait_for_close(sock, backend):
            more = answer_once_then_wait(sock, backend, 30)
            if more is None:
                return
            backend.record("proxy closed" if more == b"" else "unexpected")
            closed.set()

        backend = ScriptedBackend(wait_for_close)
        self.addCleanup(backend.stop)
        self.start_with(f"server 127.0.0.1:{backend.port}; keepalive 4; keepalive_timeout 1s;")
        c = Client(self.port)
        self.assertEqual(c.get(), (200, b"ok"))
        # The pool closes the idle connection once keepalive_timeout passed, with no request
        # coming to notice it.
        self.assertTrue(closed.wait(20))
        closed.clear()
        self.assertEqual(c.get(), (200, b"ok"))
        c.close()
        self.assertEqual(backend.requests[:2], ["GET", "proxy closed"])
        self.assertEqual(backend.connections, 2)

    def test_keepalive_timeout_lowered_by_a_reload_applies_behind_an_older_idle_connection(self):
        # Found reading the pool during the chaos soak: its sweep stopped at the first idle
        # connection that had not expired, taking the oldest to expire first. After a reload
        # that lowers keepalive_timeout, a connection returned under the new value sits behind
        # one returned under the old one and stayed open as long as that one.
        both_arrived = threading.Barrier(2, timeout=20)
        closed = []

        def serve(sock, backend):
            rest, first = b"", True
            while True:
                req = read_request(sock, rest)
                if req is None:
                    with backend.lock:
                        closed.append(sock.getpeername()[1])
                    return
                rest = req[4]
                gen = dict((k.lower(), v) for k, v in req[2]).get("x-gen")
                backend.record((gen, sock.getpeername()[1]))
                if first:
                    both_arrived.wait()  # two requests in flight: two pooled connections
                    first = False
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

        backend = ScriptedBackend(serve)
        self.addCleanup(backend.stop)
        upstream = f"server 127.0.0.1:{backend.port}; keepalive 4; keepalive_timeout {{}};"
        proxy = self.start_with(upstream.format("1h"), location_extra="proxy_set_header X-Gen one;")
        answers = []

        def one_request():
            c = Client(self.port)
            answers.append(c.get())
            c.close()

        threads = [threading.Thread(target=one_request) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(answers, [(200, b"ok")] * 2)
        self.assertEqual(backend.connections, 2)
        proxy.reload([("keepalive_timeout 1h", "keepalive_timeout 1s"),
                      ("X-Gen one", "X-Gen two")])

        def served_by_the_new_configuration():
            c = Client(self.port)
            self.assertEqual(c.get(), (200, b"ok"))
            c.close()
            with backend.lock:
                return [port for gen, port in backend.requests if gen == "two"]

        used = harness.wait_until(served_by_the_new_configuration, "a request under the reload")
        # That connection went back to the pool with keepalive_timeout 1s, the other one with
        # 1h: the proxy closes the first (the wait is a generous bound, far below an hour).
        harness.wait_until(lambda: used[-1] in closed, "the pool to close the idle connection")
        self.assertEqual(backend.connections, 2)
        self.assertEqual(len(closed), 1)

class NextUpstreamTest(UpstreamTestCase):
    def status_backend(self, status):
        def handler(sock, backend):
            while True:
                req = read_request(sock)
                if req is None:
                    return
                backend.record(req[0])
                sock.sendall(b"HTTP/1.1 %d X\r\nContent-Length: 3\r\n\r\nbad" % status)

        b = ScriptedBackend(handler)
        self.addCleanup(b.stop)
        return b

    def test_listed_status_goes_to_the_next_peer(self):
        bad = self.status_backend(503)
        good = self.start_echo(name="good")
        self.start_with(f"server 127.0.0.1:{bad.port}; server 127.0.0.1:{good.port};",
                        location_extra="proxy_next_upstream error timeout http_503;")
        c = Client(self.port)
        names = [harness.echo_json(c.get()[1])["server"] for _ in range(4)]
        self.assertEqual(names, ["good"] * 4)
        # Not idempotent: a POST that reached the backend is not sent again.
        status, data = c.get(method="POST", body=b"x")
        self.assertIn(status, (200, 503))
        if status == 503:
            self.assertEqual(data, b"bad")
        c.close()

    def test_unlisted_status_and_off_pass_the_response_on(self):
        bad = self.status_backend(503)
        good = self.start_echo(name="good")
        for directive in ("proxy_next_upstream error timeout;", "proxy_next_upstream off;"):
            with self.subTest(directive=directive):
                p = self.start_with(
                    f"server 127.0.0.1:{bad.port}; server 127.0.0.1:{good.port};",
                    location_extra=directive)
                c = Client(self.port)
                statuses = sorted(c.get()[0] for _ in range(4))
                c.close()
                self.assertEqual(statuses, [200, 200, 503, 503])
                p.stop()

    def test_timeout_moves_on_and_non_idempotent_only_when_listed(self):
        release = threading.Event()
        self.addCleanup(release.set)

        def silent(sock, backend):
            if read_request(sock) is not None:
                backend.record(1)
                release.wait(60)

        slow = ScriptedBackend(silent)
        self.addCleanup(slow.stop)
        good = self.start_echo(name="good")
        for listed, post_status in (("", 504), ("non_idempotent", 200)):
            with self.subTest(listed=listed):
                p = self.start_with(
                    f"server 127.0.0.1:{slow.port} max_fails=0; "
                    f"server 127.0.0.1:{good.port} max_fails=0;",
                    location_extra=f"proxy_read_timeout 1s; "
                                   f"proxy_next_upstream error timeout {listed};")
                c = Client(self.port)
                # Round-robin: of two requests, one meets the silent peer first.
                for _ in range(2):
                    status, body = c.get()
                    self.assertEqual(status, 200)
                    self.assertEqual(harness.echo_json(body)["server"], "good")
                c.close()
                statuses = []
                for _ in range(2):  # an error answer closes the connection: one each
                    c = Client(self.port)
                    statuses.append(c.get(method="POST", body=b"p")[0])
                    c.close()
                statuses.sort()
                p.stop()
                self.assertEqual(statuses, sorted([200, post_status]))

    def test_access_log_lists_every_attempt(self):
        """$upstream_status and the three times have one entry per attempt, aligned with
        $upstream_addr, "-" for what an attempt did not reach (nginx's rules): a refused
        connection has no connect or header time, a 502 answer has all three."""
        bad = self.status_backend(502)
        good = self.start_echo(name="good")
        dead = harness.free_port()
        log = os.path.join(self.workdir, "access.log")
        metrics_port = harness.free_port()
        self.start_with(
            f"server 127.0.0.1:{dead} max_fails=0; server 127.0.0.1:{bad.port} max_fails=0; "
            f"server 127.0.0.1:{good.port} max_fails=0;",
            location_extra="proxy_next_upstream error http_502;",
            http_extra=f"""
  log_format up '$upstream_addr|$upstream_status|$upstream_connect_time|'
                '$upstream_header_time|$upstream_response_time';
  access_log {log} up buffer=0;
  server {{ listen 127.0.0.1:{metrics_port}; access_log off; location / {{ metrics; }} }}""")
        # Round-robin over three peers: each request starts at another one, so one of three
        # meets the refused port first, and one the 502.
        for _ in range(3):
            c = Client(self.port)
            self.assertEqual(c.get()[0], 200)
            c.close()
        lines = wait_for_lines(log, 3)
        kinds = {f"127.0.0.1:{dead}": "refused", f"127.0.0.1:{bad.port}": "502",
                 f"127.0.0.1:{good.port}": "good"}
        time_re = r"\d+\.\d{3}"
        seen = set()
        for line in lines:
            fields = [f.split(", ") for f in line.split("|")]
            addrs, statuses, connect, header, response = fields
            for field in fields[1:]:
                self.assertEqual(len(field), len(addrs), line)
            for i, addr in enumerate(addrs):
                kind = kinds[addr]
                seen.add(kind)
                self.assertRegex(response[i], time_re, line)
                if kind == "refused":
                    self.assertEqual((statuses[i], connect[i], header[i]), ("502", "-", "-"), line)
                else:
                    self.assertEqual(statuses[i], "200" if kind == "good" else "502", line)
                    self.assertRegex(connect[i], time_re, line)
                    self.assertRegex(header[i], time_re, line)
            self.assertEqual(kinds[addrs[-1]], "good", line)
        self.assertEqual(seen, {"refused", "502", "good"})
        self.assertTrue(any(", " in line for line in lines), lines)
        # realip_upstream_requests_total counts every response head under the peer that sent
        # it, the 502s that were retried too, never under the list of peers tried.
        metrics = harness.http_request(
            metrics_port, b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
        series = [l for l in metrics.decode().splitlines()
                  if l.startswith("realip_upstream_requests_total{")]
        self.assertTrue(series, metrics)
        self.assertIn(f'realip_upstream_requests_total{{upstream="app",'
                      f'peer="127.0.0.1:{good.port}",code="200"}} 3', series)
        retried = sum(line.split("|")[0].split(", ").count(f"127.0.0.1:{bad.port}")
                      for line in lines)
        self.assertGreater(retried, 0)
        self.assertIn(f'realip_upstream_requests_total{{upstream="app",'
                      f'peer="127.0.0.1:{bad.port}",code="502"}} {retried}', series)
        self.assertFalse([l for l in series if ", " in l], series)

    def test_request_bodies_are_sent_again_in_full(self):
        bad = self.status_backend(503)
        good = self.start_echo(name="good")
        dead = harness.free_port()
        self.start_with(f"server 127.0.0.1:{bad.port} max_fails=0; "
                        f"server 127.0.0.1:{dead} max_fails=0; "
                        f"server 127.0.0.1:{good.port} max_fails=0;",
                        location_extra="proxy_next_upstream error http_503;")
        c = Client(self.port)
        # A small body is kept: after a 503 or a refused connection it goes out again whole.
        for _ in range(3):
            status, body = c.get(method="PUT", body=b"x" * 10000)
            self.assertEqual(status, 200)
            doc = harness.echo_json(body)
            self.assertEqual((doc["server"], doc["body_bytes"]), ("good", 10000))
        c.close()

    def test_large_body_moves_on_only_while_none_of_it_was_written(self):
        bad = self.status_backend(503)
        good = self.start_echo(name="good")
        dead = harness.free_port()
        for servers, want in (((dead, good.port), {200}), ((bad.port, good.port), {200, 503})):
            with self.subTest(servers=servers):
                p = self.start_with("".join(f"server 127.0.0.1:{port} max_fails=0;"
                                            for port in servers),
                                    location_extra="proxy_next_upstream error http_503;")
                c = Client(self.port)
                seen = set()
                for _ in range(4):
                    status, body = c.get(method="PUT", body=b"y" * 300000)
                    if status == 200:
                        doc = harness.echo_json(body)
                        self.assertEqual((doc["server"], doc["body_bytes"]), ("good", 300000))
                    else:
                        # Beyond the 64 KiB replay copy: once read by the backend, its answer
                        # is passed on instead of being retried.
                        self.assertEqual((status, body), (503, b"bad"))
                    seen.add(status)
                c.close()
                p.stop()
                self.assertEqual(seen, want)

    def test_tries_limit_and_the_last_answer(self):
        bads = [self.status_backend(502) for _ in range(3)]
        self.start_with("".join(f"server 127.0.0.1:{b.port} max_fails=0;" for b in bads),
                        location_extra="proxy_next_upstream http_502; "
                                       "proxy_next_upstream_tries 2;")
        c = Client(self.port)
        status, data = c.get()
        c.close()
        self.assertEqual((status, data), (502, b"bad"))
        self.assertEqual(sum(len(b.requests) for b in bads), 2)


class ProxyToBackendTest(UpstreamTestCase):
    def check_clients(self):
        # Alternating clients over one client connection: each backend connection's PROXY
        # header names one client, so the backend must see them alternate exactly.
        c = Client(self.port)
        ips = ["203.0.113.7", "198.51.100.23", "203.0.113.7", "2001:db8::5", "198.51.100.23"]
        seen = [c.get(headers=(("X-Forwarded-For", ip),))[1].decode() for ip in ips]
        c.close()
        self.assertEqual(seen, ips)

    @unittest.skipUnless(shutil.which("nginx"), "nginx not installed")
    def test_nginx_sees_the_resolved_client_v1_and_v2(self):
        for version in (1, 2):
            with self.subTest(version=version):
                nport = harness.free_port()
                nginx = self.run_nginx(f"""
error_log stderr;
events {{ worker_connections 64; }}
http {{
  access_log off;
  server {{
    listen 127.0.0.1:{nport} proxy_protocol;
    location / {{ return 200 "$proxy_protocol_addr"; }}
  }}
}}
""")
                harness.wait_for_port("127.0.0.1", nport, nginx.proc)
                p = self.start_with(f"server 127.0.0.1:{nport}; keepalive 8;",
                                    location_extra=f"proxy_protocol on; "
                                                   f"proxy_protocol_version {version};")
                self.check_clients()
                p.stop()
                nginx.stop()

    @unittest.skipUnless(shutil.which("haproxy"), "haproxy not installed")
    def test_haproxy_sees_the_resolved_client_v2(self):
        hport = harness.free_port()
        cfg = f"""
global
  maxconn 100
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:{hport} accept-proxy
  http-request return status 200 content-type text/plain lf-string "%[src]"
"""
        path = self.write_config(cfg, "haproxy.cfg")
        h = self.spawn(["haproxy", "-db", "-f", path], "haproxy")
        harness.wait_for_port("127.0.0.1", hport, h.proc)
        self.start_with(f"server 127.0.0.1:{hport}; keepalive 8;",
                        location_extra="proxy_protocol on; proxy_protocol_version 2;")
        self.check_clients()


if __name__ == "__main__":
    unittest.main()
