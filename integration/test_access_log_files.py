"""Access-log files across reloads: a file opens with the configuration that names it, stays open
while a connection on an older configuration or a worker's buffered lines need it, and closes
after that, its lines all written; a file that cannot be opened refuses the start or the reload;
SIGUSR1 reopens files that only an old configuration still names."""
import os
import re
import signal

import harness
from test_engine_headers import EngineTestCase, connect

FORMAT = "log_format main '$request_uri';"


def read_lines(path):
    """The file's lines but those of the probes that wait for a reload to reach the worker."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return [line for line in f.read().decode("utf-8").splitlines() if line != "/probe"]


def keepalive_get(sock, target):
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % target.encode())
    status, _, body, _ = harness.read_response(sock)
    return status


class AccessLogFilesTest(EngineTestCase):
    def start_logging(self, params=""):
        """Starts the proxy (one worker) logging to a.log; returns the paths of a.log and
        b.log."""
        a = os.path.join(self.workdir, "a.log")
        self.start(f"""
            access_log {a} main {params};
            location / {{ return 200 "old"; }}""", http_extra=FORMAT, workers=1)
        return a, os.path.join(self.workdir, "b.log")

    def switch(self, old, new):
        """Reloads with `new` instead of `old` as the access-log file, and waits until the
        worker serves new connections with it (it learns of a reload a moment after the main
        thread logs it)."""
        self.proxy.reload([(f"access_log {old} main", f"access_log {new} main"),
                           ('return 200 "old"', 'return 200 "new"')])

        def answered_new():
            reply = self.request(b"GET /probe HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            return reply.endswith(b"\r\n\r\nnew")

        harness.wait_until(answered_new, "the new configuration")

    def open_fds(self, path):
        """How many of the proxy's descriptors point at `path`."""
        fd_dir = f"/proc/{self.proxy.proc.pid}/fd"
        n = 0
        for name in os.listdir(fd_dir):
            try:
                if os.readlink(os.path.join(fd_dir, name)) == path:
                    n += 1
            except FileNotFoundError:
                pass  # closed while listing
        return n

    def close_request(self, target):
        reply = self.request(b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                             % target.encode())
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:200])

    def wait_closed(self, path):
        harness.wait_until(lambda: self.open_fds(path) == 0, f"{path} closed")

    def test_a_reload_that_stops_naming_a_file_closes_it(self):
        a, b = self.start_logging()
        self.assertEqual(self.open_fds(a), 1)  # opened at start, before any request
        for i in range(3):
            self.close_request(f"/a{i}")
        self.switch(a, b)
        self.close_request("/b0")
        self.wait_closed(a)
        self.assertEqual(sorted(read_lines(a)), ["/a0", "/a1", "/a2"])
        harness.wait_until(lambda: read_lines(b) == ["/b0"], "the new file's line")
        self.assertEqual(self.open_fds(b), 1)

    def test_an_old_keepalive_connection_keeps_its_file_until_it_closes(self):
        a, b = self.start_logging()
        old = connect(self.port)
        self.assertEqual(keepalive_get(old, "/old0"), 200)
        self.switch(a, b)
        self.close_request("/new0")
        self.assertEqual(keepalive_get(old, "/old1"), 200)
        harness.wait_until(lambda: read_lines(a) == ["/old0", "/old1"], "the old lines")
        harness.wait_until(lambda: read_lines(b) == ["/new0"], "the new line")
        # Still named by the old connection's configuration.
        self.assertEqual(self.open_fds(a), 1)
        old.close()
        self.wait_closed(a)
        self.assertEqual(read_lines(a), ["/old0", "/old1"])
        self.assertEqual(read_lines(b), ["/new0"])

    def test_held_lines_are_written_before_their_file_closes(self):
        # flush=1m: nothing but the close of the last connection that uses the old file
        # (and then the stop) writes the lines early.
        a, b = self.start_logging("buffer=64k flush=1m")
        old = connect(self.port)
        for i in range(2):
            self.assertEqual(keepalive_get(old, f"/old{i}"), 200)
        self.close_request("/a-closed")
        self.switch(a, b)
        self.close_request("/new0")
        self.assertEqual(keepalive_get(old, "/old2"), 200)
        old.close()
        self.wait_closed(a)
        self.assertEqual(sorted(read_lines(a)), ["/a-closed", "/old0", "/old1", "/old2"])
        # The new file's line is still held; the stop writes it, and nothing else, there.
        self.assertEqual(self.proxy.stop(signal.SIGTERM, timeout=30), 0)
        self.assertEqual(read_lines(b), ["/new0"])
        self.assertEqual(len(read_lines(a)), 4)

    def refused_open(self, path, conf):
        """The message for `path` named by the access_log line of `conf` that mentions it."""
        with open(conf) as f:
            line = next(i for i, text in enumerate(f.read().splitlines(), 1)
                        if f"access_log {path}" in text)
        return (f'open() "{path}" failed (2: No such file or directory) '
                f"in {conf}:{line}")

    def test_a_file_that_cannot_be_opened_fails_the_start_and_t(self):
        # A folder that does not exist (tests may run as root, which a mode would not stop).
        bad = os.path.join(self.workdir, "missing", "a.log")
        port = harness.free_port()
        conf = self.write_config(f"""
worker_processes 1;
error_log stderr info;
events {{ }}
http {{
  {FORMAT}
  server {{
    listen 127.0.0.1:{port};
    access_log {bad} main;
    location / {{ return 200 "ok\\n"; }}
  }}
}}
""")
        want = self.refused_open(bad, conf)
        proxy = self.spawn([harness.PROXY_BIN, "-c", conf], "refused")
        self.assertEqual(proxy.proc.wait(timeout=30), 1)
        self.assertIn("[emerg] ", proxy.output())
        self.assertIn(want, proxy.output())
        self.assertNotIn("started", proxy.output())
        checked = self.run_proxy("-t", "-c", conf)
        self.assertEqual(checked.returncode, 1, checked.stderr)
        self.assertIn(f"realip-proxy: [emerg] {want}\n", checked.stderr)
        self.assertIn(f"configuration file {conf} test failed", checked.stderr)

    def test_t_creates_a_missing_file_as_nginx_does(self):
        log = os.path.join(self.workdir, "created.log")
        conf = self.write_config(f"""
events {{ }}
http {{ server {{ listen 127.0.0.1:{harness.free_port()}; access_log {log}; }} }}
""")
        checked = self.run_proxy("-t", "-c", conf)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertTrue(os.path.exists(log))

    def test_a_file_that_cannot_be_opened_refuses_the_reload(self):
        a, new = self.start_logging()
        bad = os.path.join(self.workdir, "missing", "a.log")
        self.close_request("/before")
        conf = self.proxy.proc.args[self.proxy.proc.args.index("-c") + 1]
        self.proxy.reload([(f"access_log {a} main",
                            f"access_log {new} main;\n access_log {bad} main")],
                          expect=r"reload failed")
        want = self.refused_open(bad, conf)
        self.assertIn("reload failed, keeping the running configuration: " + want,
                      self.proxy.output())
        self.close_request("/after")
        harness.wait_until(lambda: sorted(read_lines(a)) == ["/after", "/before"],
                           "both lines in the running configuration's file")
        self.assertEqual(self.open_fds(a), 1)
        # The file the refused configuration opened first is closed again.
        self.assertEqual(self.open_fds(new), 0)
        self.assertEqual(read_lines(new), [])

    def test_sigusr1_reopens_a_file_only_an_old_connection_names(self):
        a, b = self.start_logging()
        old = connect(self.port)
        self.assertEqual(keepalive_get(old, "/old0"), 200)
        harness.wait_until(lambda: read_lines(a) == ["/old0"], "the first line")
        self.switch(a, b)
        os.rename(a, a + ".1")
        self.proxy.proc.send_signal(signal.SIGUSR1)
        harness.wait_until(lambda: os.path.exists(a), "the reopened file")
        self.assertEqual(keepalive_get(old, "/old1"), 200)
        harness.wait_until(lambda: read_lines(a) == ["/old1"], "the line in the new file")
        self.assertEqual(read_lines(a + ".1"), ["/old0"])
        self.assertEqual(self.open_fds(a + ".1"), 0)
        old.close()
        self.wait_closed(a)
        self.assertEqual(read_lines(a), ["/old1"])
