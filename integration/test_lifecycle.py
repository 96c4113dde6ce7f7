"""Process lifecycle against the real binary: the readiness handler and the graceful drain
(shutdown_delay, worker_shutdown_timeout), reloads that keep, open and close listeners without
refusing a connection, log reopening, the pid file, worker_rlimit_nofile, reuseport and running
as a non-root user."""
import os
import re
import signal
import socket
import stat
import subprocess
import threading
import time
import unittest

import harness
from test_engine_backends import held_backend, read_all, serve_requests
from test_engine_headers import EngineTestCase, connect

# ASan/UBSan check memory with pipe(); a process out of descriptors gets false reports.
def _sanitized():
    try:
        with open(harness.PROXY_BIN, "rb") as binary:
            return b"__asan_init" in binary.read()
    except OSError:
        return False


SANITIZED = _sanitized()

GET = b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"


def get(port, path=b"/"):
    """(status, body) of one request on a new connection."""
    reply = harness.http_request(port, GET % path)
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def serves(port, expected):
    try:
        return get(port) == expected
    except OSError:
        return False


def wait_until(predicate, timeout=30.0):
    """Polls `predicate` until it holds; a generous bound, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def refused(port):
    """Whether nothing accepts on 127.0.0.1:`port`. The kernel may pick `port` itself as the
    connecting socket's local port (the test's ports come from the same ephemeral range), and a
    socket connected to itself is not a listener: that counts as refused too."""
    with socket.socket() as s:
        s.settimeout(10)
        if s.connect_ex(("127.0.0.1", port)) != 0:
            return True
        return s.getsockname() == s.getpeername()


def read(path):
    with open(path) as f:
        return f.read()


def listening_sockets(port):
    """Listening TCP sockets on 127.0.0.1:`port` (one line each in /proc/net/tcp)."""
    local = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        return sum(1 for line in f if line.split()[1] == local and line.split()[3] == "0A")


class LifecycleTestCase(EngineTestCase):
    def conf(self, body, main="", workers=2):
        return f"""
worker_processes {workers};
error_log stderr info;
{main}
events {{ worker_connections 256; }}
http {{
{body}
}}
"""

    def run_conf(self, text, ports):
        self.proxy = self.start_proxy(text, wait=tuple(("127.0.0.1", p) for p in ports))
        return self.proxy

    def reload(self, text, expect=r"reconfiguring"):
        """Rewrites the configuration, sends SIGHUP and waits for one more `expect` line."""
        before = len(re.findall(expect, self.proxy.output()))
        self.write_config(text)
        self.proxy.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(
            lambda: len(re.findall(expect, self.proxy.output())) > before), self.proxy.output())


class DrainTest(LifecycleTestCase):
    def test_readiness_flips_to_503_while_a_slow_request_completes(self):
        backend, arrived, release = held_backend(self)
        port = harness.free_port()
        self.run_conf(self.conf(f"""
  server {{
    listen 127.0.0.1:{port};
    location = /ready {{ readiness; }}
    location = /ok {{ return 200 "ok"; }}
    location / {{ proxy_pass http://127.0.0.1:{backend.port}; }}
  }}""", main="shutdown_delay 5s; worker_shutdown_timeout 60s;"), [port])
        self.assertEqual(get(port, b"/ready"), (200, b"ready\n"))
        slow = connect(port)
        self.addCleanup(slow.close)
        slow.sendall(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertTrue(arrived.wait(30))
        self.proxy.proc.send_signal(signal.SIGTERM)
        self.proxy.wait_for_line(r"readiness reports 503")
        # During shutdown_delay the listener still accepts: readiness is 503, traffic served.
        self.assertEqual(get(port, b"/ready"), (503, b"shutting down\n"))
        self.assertEqual(get(port, b"/ok"), (200, b"ok"))
        # Then the listener closes while the slow request is still in flight.
        self.assertTrue(wait_until(lambda: refused(port)))
        self.assertIsNone(self.proxy.proc.poll())
        release.set()
        status, headers, body, _ = harness.read_response(slow)
        self.assertEqual((status, body), (200, b"done"))
        self.assertIn(("Connection", "close"), headers)
        self.assertEqual(self.proxy.proc.wait(timeout=60), 0)

    def test_readiness_without_delay_and_idle_keepalive_closed(self):
        port = harness.free_port()
        self.run_conf(self.conf(f"""
  server {{
    listen 127.0.0.1:{port};
    location = /ready {{ readiness; }}
  }}"""), [port])
        idle = connect(port)
        self.addCleanup(idle.close)
        idle.sendall(b"GET /ready HTTP/1.1\r\nHost: a\r\n\r\n")
        status, _, body, _ = harness.read_response(idle)
        self.assertEqual((status, body), (200, b"ready\n"))
        self.proxy.proc.send_signal(signal.SIGQUIT)
        self.assertEqual(read_all(idle), b"")
        self.assertEqual(self.proxy.proc.wait(timeout=60), 0)

    def test_sigint_during_shutdown_delay_stops_at_once(self):
        port = harness.free_port()
        self.run_conf(self.conf(f"""
  server {{ listen 127.0.0.1:{port}; location = /ready {{ readiness; }} }}""",
                                main="shutdown_delay 1h;"), [port])
        self.proxy.proc.send_signal(signal.SIGTERM)
        self.proxy.wait_for_line(r"readiness reports 503")
        self.proxy.proc.send_signal(signal.SIGHUP)  # ignored while stopping
        self.proxy.wait_for_line(r"SIGHUP\) ignored")
        self.assertEqual(get(port, b"/ready"), (503, b"shutting down\n"))
        self.proxy.proc.send_signal(signal.SIGINT)
        self.assertEqual(self.proxy.proc.wait(timeout=60), 0)

    def test_a_stuck_request_is_cut_by_sigint_or_the_shutdown_timeout(self):
        # The upstream never answers; either way the process exits 0 and the client sees EOF.
        for sig, main in ((signal.SIGINT, ""), (signal.SIGTERM, "worker_shutdown_timeout 1s;")):
            with self.subTest(signal=sig.name):
                backend, arrived, _ = held_backend(self)
                port = harness.free_port()
                self.run_conf(self.conf(f"""
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://127.0.0.1:{backend.port}; }}
  }}""", main=main), [port])
                stuck = connect(port)
                self.addCleanup(stuck.close)
                stuck.settimeout(60)
                stuck.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                self.assertTrue(arrived.wait(30))
                self.proxy.proc.send_signal(sig)
                self.assertEqual(self.proxy.proc.wait(timeout=60), 0)
                self.assertEqual(read_all(stuck), b"")


class ReloadTest(LifecycleTestCase):
    def two_backends(self):
        def named(name):
            def respond(method, target, headers, body):
                gen = dict((k.lower(), v) for k, v in headers).get("x-gen", "")
                text = f"{name}:{gen}".encode()
                return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text)
            return self.scripted(serve_requests(respond))
        return named("A"), named("B")

    def test_new_connections_use_the_new_config_old_keepalive_keeps_the_old(self):
        a, b = self.two_backends()
        port = harness.free_port()

        def text(backend, gen):
            return self.conf(f"""
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_set_header X-Gen {gen};
      proxy_pass http://127.0.0.1:{backend.port};
    }}
  }}""")
        self.run_conf(text(a, "one"), [port])
        old = connect(port)
        self.addCleanup(old.close)
        old.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(harness.read_response(old)[2], b"A:one")
        self.reload(text(b, "two"))
        # A new connection is accepted by whichever worker; each picks the config up on wake.
        self.assertTrue(wait_until(lambda: get(port) == (200, b"B:two")))
        for _ in range(3):
            old.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            self.assertEqual(harness.read_response(old)[2], b"A:one")

    def test_reload_opens_added_and_closes_removed_listeners(self):
        p1, p2, p3 = (harness.free_port() for _ in range(3))

        def text(*ports):
            return self.conf("\n".join(f"""
  server {{ listen 127.0.0.1:{p}; location / {{ return 200 "{p}"; }} }}""" for p in ports))
        self.run_conf(text(p1, p2), [p1, p2])
        self.assertEqual(get(p2), (200, str(p2).encode()))
        self.assertTrue(refused(p3))
        self.reload(text(p1, p3))
        self.assertTrue(wait_until(lambda: refused(p2)))
        self.assertEqual(get(p3), (200, str(p3).encode()))
        self.assertEqual(get(p1), (200, str(p1).encode()))

    def test_client_loop_across_five_reloads_sees_no_failure(self):
        for flags in ("", "reuseport"):
            with self.subTest(listen=flags or "shared"):
                port = harness.free_port()

                def text(n):
                    return self.conf(f"""
  server {{ listen 127.0.0.1:{port} {flags}; location / {{ return 200 "gen{n}"; }} }}""")
                self.run_conf(text(0), [port])
                stop = threading.Event()
                results = {"ok": 0, "failed": []}

                def loop():
                    while not stop.is_set():
                        try:
                            status, body = get(port)
                            if status == 200 and body.startswith(b"gen"):
                                results["ok"] += 1
                            else:
                                results["failed"].append((status, body))
                        except OSError as e:
                            results["failed"].append(repr(e))

                clients = [threading.Thread(target=loop) for _ in range(2)]
                for c in clients:
                    c.start()
                try:
                    for n in range(1, 6):
                        self.reload(text(n))
                        self.assertTrue(wait_until(lambda: get(port)[1] == b"gen%d" % n))
                finally:
                    stop.set()
                    for c in clients:
                        c.join(60)
                self.assertEqual(results["failed"], [])
                self.assertGreater(results["ok"], 0)
                self.assertEqual(self.proxy.stop(), 0)

    def test_bad_config_is_logged_and_the_old_one_keeps_serving(self):
        port, taken = harness.free_port(), socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        good = self.conf(f"""
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "old"; }} }}""")
        self.run_conf(good, [port])
        for bad, message in (
                (good.replace("return 200", "retrun 200"), r'unknown directive "retrun"'),
                (good + f"""http {{ }}""", r'"http" directive is duplicate'),
                # A header line the configuration would break: refused, as at start.
                (good.replace('return 200 "old";',
                              'add_header X-A "a\\r\\nInjected: x"; return 200 "old";'),
                 r'control byte 0x0D in "add_header" value: a header line cannot carry CR, LF, '
                 r'NUL or other control bytes but tab in \S+:8'),
                (good.replace("}\n}", f"""}}
  server {{ listen 127.0.0.1:{taken.getsockname()[1]}; }}
}}"""), r"bind\(\) to 127.0.0.1:\d+ failed \(98: Address already in use\)")):
            with self.subTest(message=message):
                self.reload(bad, expect=r"reload failed, keeping the running configuration: ")
                self.assertRegex(self.proxy.output(),
                                 r"reload failed, keeping the running configuration: .*" + message)
                self.assertEqual(get(port), (200, b"old"))
        self.assertEqual(self.proxy.stop(), 0)


class EarlySignalTest(LifecycleTestCase):
    """The listeners accept (into the backlog) a moment before the signal watchers exist. A
    signal sent as soon as the port answers, as a supervisor or a test might, is held until
    they do: SIGHUP reloads and SIGTERM stops gracefully, neither kills the process."""

    def start_and_signal(self, sig):
        port = harness.free_port()
        path = self.write_config(self.conf(f"""
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "up"; }} }}""", workers=4))
        proxy = self.spawn([harness.PROXY_BIN, "-c", path], f"early{len(self.processes)}")
        while True:
            self.assertIsNone(proxy.proc.poll(), proxy.output())
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
        proxy.proc.send_signal(sig)
        return proxy, port

    def test_sighup_right_after_the_port_answers_is_a_reload(self):
        for _ in range(5):
            proxy, port = self.start_and_signal(signal.SIGHUP)
            proxy.wait_for_line(r"reconfiguring")
            self.assertEqual(get(port), (200, b"up"))
            self.assertEqual(proxy.stop(), 0)

    def test_sigterm_right_after_the_port_answers_is_a_graceful_stop(self):
        for _ in range(5):
            proxy, _ = self.start_and_signal(signal.SIGTERM)
            self.assertEqual(proxy.proc.wait(timeout=30), 0, proxy.output())
            self.assertIn("signal 15 (SIGTERM) received, shutting down gracefully",
                          proxy.output())


class ProcessTest(LifecycleTestCase):
    def test_sigusr1_reopens_a_renamed_error_log(self):
        port = harness.free_port()
        log = os.path.join(self.workdir, "error.log")
        self.run_conf(self.conf(f"""
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "x"; }} }}""").replace(
            "error_log stderr info;", f"error_log {log} info;"), [port])
        self.assertTrue(wait_until(lambda: "started" in read(log)))
        os.rename(log, log + ".1")
        self.proxy.proc.send_signal(signal.SIGUSR1)
        self.assertTrue(wait_until(lambda: os.path.exists(log)))
        self.proxy.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "reconfiguring" in read(log)))
        self.assertNotIn("reconfiguring", read(log + ".1"))

    def test_pid_file_daemon_on_and_rlimit(self):
        port = harness.free_port()
        pid = os.path.join(self.workdir, "run", "proxy.pid")
        os.mkdir(os.path.dirname(pid))
        self.run_conf(self.conf(f"""
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "x"; }} }}""", main=f"""
pid {pid};
daemon on;
worker_rlimit_nofile 4000;"""), [port])
        self.assertEqual(read(pid), f"{self.proxy.proc.pid}\n")
        with open(f"/proc/{self.proxy.proc.pid}/limits") as f:
            limit = [line for line in f if line.startswith("Max open files")][0].split()
        self.assertEqual(limit[3], "4000")
        self.proxy.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proxy.proc.wait(timeout=60), 0)
        self.assertFalse(os.path.exists(pid))

    def test_rlimit_above_what_the_kernel_allows_is_a_warning(self):
        with open("/proc/sys/fs/nr_open") as f:
            too_many = int(f.read()) + 1
        port = harness.free_port()
        self.run_conf(self.conf(f"""
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "x"; }} }}""",
                                main=f"worker_rlimit_nofile {too_many};"), [port])
        self.proxy.wait_for_line(
            rf"\[warn\] .*setrlimit\(RLIMIT_NOFILE, {too_many}\) failed \(1: .*\), using the "
            r"hard limit \d+")
        self.assertEqual(get(port), (200, b"x"))

    @unittest.skipIf(SANITIZED, "sanitizer runtimes need spare descriptors to check pointers")
    def test_out_of_descriptors_pauses_accepting_then_recovers(self):
        port = harness.free_port()
        self.run_conf(self.conf(f"""
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "x"; }} }}""",
                                main="worker_rlimit_nofile 64;", workers=1), [port])
        # More idle connections than descriptors: the rest wait in the backlog.
        idle = []
        for _ in range(80):
            s = connect(port)
            self.addCleanup(s.close)
            idle.append(s)
        self.proxy.wait_for_line(r"accept4\(\) failed \(24: Too many open files\)")
        time.sleep(2)  # a busy loop would log the error thousands of times meanwhile
        self.assertLess(self.proxy.output().count("Too many open files"), 100)
        for s in idle:
            s.close()
        # Once descriptors are free, queued and new connections are served.
        self.assertTrue(wait_until(lambda: serves(port, (200, b"x"))))
        self.assertEqual(self.proxy.stop(), 0)

    def test_reuseport_opens_one_socket_per_worker(self):
        for flags, sockets in (("", 1), ("reuseport", 3)):
            with self.subTest(listen=flags or "shared"):
                port = harness.free_port()
                self.run_conf(self.conf(f"""
  server {{ listen 127.0.0.1:{port} {flags}; location / {{ return 200 "x"; }} }}""",
                                        workers=3), [port])
                self.assertEqual(listening_sockets(port), sockets)
                for _ in range(6):
                    self.assertEqual(get(port), (200, b"x"))
                self.assertEqual(self.proxy.stop(), 0)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to switch to another user")
    def test_runs_as_a_non_root_user_on_a_high_port(self):
        # The Docker image runs as uid 10001; nothing the proxy needs is root-only.
        os.chmod(self.workdir, os.stat(self.workdir).st_mode | stat.S_IROTH | stat.S_IXOTH)
        port = harness.free_port()
        path = self.write_config(self.conf(f"""
  server {{ listen 127.0.0.1:{port}; location = /ready {{ readiness; }} }}"""))
        os.chmod(path, 0o644)
        proc = subprocess.Popen([harness.PROXY_BIN, "-c", path], user=10001, group=10001,
                                extra_groups=[], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            harness.wait_for_port("127.0.0.1", port, proc)
            with open(f"/proc/{proc.pid}/status") as f:
                uids = [line for line in f if line.startswith("Uid:")][0].split()[1:]
            self.assertEqual(set(uids), {"10001"})
            self.assertEqual(get(port, b"/ready"), (200, b"ready\n"))
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=60), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()


if __name__ == "__main__":
    unittest.main()
