"""Shared helpers for the integration tests: start the real binaries on free loopback ports,
wait for readiness without sleeping blindly, and talk to them with raw sockets.

Binaries come from the environment (CTest sets them): REALIP_PROXY_BIN, REALIP_ECHO_BIN.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

PROXY_BIN = os.environ.get("REALIP_PROXY_BIN", "build/proxy/realip-proxy")
ECHO_BIN = os.environ.get("REALIP_ECHO_BIN", "build/proxy/echo/realip-echo")
SOURCE_DIR = os.environ.get(
    "REALIP_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Generous bounds for waiting on readiness; they are limits, not timing assertions.
READY_TIMEOUT = 30.0


def wait_until(predicate, what, timeout=READY_TIMEOUT):
    """Polls `predicate` until it returns something true, and returns that; fails the test
    with `what` after `timeout` seconds (a generous bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def free_port(host="127.0.0.1"):
    """Returns a TCP port that was free on `host` a moment ago."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(host, port, proc=None, timeout=READY_TIMEOUT):
    """Polls until something accepts on host:port; fails early if `proc` exits."""
    deadline = time.monotonic() + timeout
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                s.connect((host, port))
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {host}:{port}")


class Process:
    """A child process whose stdout/stderr go to a file that tests can read."""

    def __init__(self, args, workdir, name):
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_for_line(self, pattern, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            m = regex.search(self.output())
            if m:
                return m
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}: {self.output()}")
            time.sleep(0.02)
        raise TimeoutError(f"no line matching {pattern!r} in: {self.output()}")

    def reload(self, edits, expect=r"reconfiguring"):
        """For a realip-proxy started with `-c FILE`: applies the (old, new) text `edits` to
        FILE (each old text must be there), sends SIGHUP and waits for one more line matching
        `expect` than there was before."""
        path = self.proc.args[self.proc.args.index("-c") + 1]
        with open(path) as f:
            text = f.read()
        for old, new in edits:
            if old not in text:
                raise AssertionError(f"{old!r} is not in {path}")
            text = text.replace(old, new)
        with open(path, "w") as f:
            f.write(text)
        before = len(re.findall(expect, self.output()))
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + READY_TIMEOUT
        while len(re.findall(expect, self.output())) == before:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no new line matching {expect!r} in: {self.output()}")
            time.sleep(0.02)

    def stop(self, sig=None, timeout=10):
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class TestCase(unittest.TestCase):
    """Base class: a temp dir per test, processes stopped on teardown (also on failure)."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="realip-it-")
        self.processes = []

    def tearDown(self):
        for p in reversed(self.processes):
            p.stop()
        if getattr(self, "_outcome", None) is not None and not self._failed():
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            for p in self.processes:
                print(f"--- {p.log_path}\n{p.output()}")

    def _failed(self):
        result = self._outcome.result
        errors = getattr(result, "errors", []) + getattr(result, "failures", [])
        return any(test is self for test, _ in errors)

    def spawn(self, args, name):
        p = Process(args, self.workdir, name)
        self.processes.append(p)
        return p

    def start_echo(self, host="127.0.0.1", name=""):
        args = [ECHO_BIN, "-l", host, "-p", "0"]
        if name:
            args += ["-n", name]
        p = self.spawn(args, f"echo{len(self.processes)}")
        m = p.wait_for_line(r"listening on \S+:(\d+)")
        p.port = int(m.group(1))
        return p

    def refused_port(self, host="127.0.0.1"):
        """A port on `host` where connections are refused for the whole test: bound but not
        listening, so no other test running in parallel can take it (a port that free_port()
        found free may be listened on by another test a moment later)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((host, 0))
        self.addCleanup(s.close)
        return s.getsockname()[1]

    def write_config(self, text, name="realip-proxy.conf"):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start_proxy(self, config_text, wait=(("127.0.0.1", None),)):
        """Starts realip-proxy with `config_text`; waits for each (host, port) in `wait`."""
        path = self.write_config(config_text)
        p = self.spawn([PROXY_BIN, "-c", path], f"proxy{len(self.processes)}")
        for host, port in wait:
            if port is not None:
                wait_for_port(host, port, p.proc)
        return p

    def run_nginx(self, text):
        """Starts Debian's nginx in the foreground with `text` as its configuration, under a
        prefix in the test's directory (logs and pid there, no root needed)."""
        prefix = os.path.join(self.workdir, "nginx")
        os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
        os.chmod(self.workdir, 0o755)
        os.chmod(prefix, 0o777)
        path = self.write_config(text, "nginx.conf")
        pid = os.path.join(prefix, "nginx.pid")
        return self.spawn(["nginx", "-p", prefix, "-c", path, "-g", f"daemon off; pid {pid};"],
                          "nginx")

    def run_proxy(self, *args, timeout=30):
        return subprocess.run([PROXY_BIN, *args], capture_output=True, text=True,
                              timeout=timeout)

    def nginx_t(self, path):
        """`nginx -t` on the configuration at `path`, with the test's folder as its prefix."""
        return subprocess.run(["nginx", "-t", "-c", path, "-p", self.workdir + "/",
                               "-e", "stderr"], capture_output=True, text=True, timeout=30)

    def assert_both_accept(self, path):
        """`realip-proxy -t` and `nginx -t` both accept the configuration at `path`."""
        ours = self.run_proxy("-t", "-c", path)
        self.assertEqual(ours.returncode, 0, ours.stderr)
        nginx = self.nginx_t(path)
        self.assertEqual(nginx.returncode, 0, nginx.stderr)

    def start_proxy_and_nginx(self, http_body):
        """Starts realip-proxy and Debian's nginx, each on a free port of its own, with the
        same configuration: `http_body(port)` is the text inside `http { }` (after
        `access_log off;`). Returns {"proxy": port, "nginx": port} once both listen."""
        ports = {}
        for kind in ("proxy", "nginx"):
            port = free_port()
            text = ("error_log stderr info;\nevents { worker_connections 64; }\nhttp {\n"
                    "  access_log off;\n" + http_body(port) + "}\n")
            if kind == "proxy":
                self.start_proxy(text, wait=(("127.0.0.1", port),))
            else:
                p = self.run_nginx(text)
                wait_for_port("127.0.0.1", port, p.proc)
            ports[kind] = port
        return ports

    def assert_same_location_t_errors(self, cases):
        """assert_same_t_error for each {name: body}, `body` the lines of `location /` in a
        server listening on 127.0.0.1:1."""
        for name, body in cases.items():
            with self.subTest(name=name):
                path = self.write_config(
                    "events {}\nhttp {\n  server {\n    listen 127.0.0.1:1;\n"
                    f"    location / {{\n      {body}\n    }}\n  }}\n}}\n", f"{name}.conf")
                self.assert_same_t_error(path)

    def assert_proxy_t_error(self, text, name, message):
        """`realip-proxy -t` refuses configuration `text` (written to `name`) with the line
        `[emerg] MESSAGE in PATH:LINE`; `message` holds "{path}" for PATH."""
        path = self.write_config(text, name)
        r = self.run_proxy("-t", "-c", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("[emerg] " + message.format(path=path), r.stderr)

    def assert_same_t_error(self, path):
        """`realip-proxy -t` and `nginx -t` both refuse the configuration at `path`, with the
        same message and location."""
        ours = self.run_proxy("-t", "-c", path)
        nginx = self.nginx_t(path)
        self.assertEqual(ours.returncode, 1, ours.stderr)
        self.assertEqual(nginx.returncode, 1, nginx.stderr)
        emerg = re.compile(r"\[emerg\] (?:\d+#\d+: )?(.*)")
        self.assertEqual(emerg.search(ours.stderr).group(1), emerg.search(nginx.stderr).group(1),
                         nginx.stderr)


def http_request(port, raw, host="127.0.0.1", source=None, timeout=10.0, read_all=True):
    """Sends raw bytes to host:port (optionally from `source` address) and returns the reply
    bytes, read until the peer closes (read_all) or until one full response arrived."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        if source is not None:
            s.bind((source, 0))
        s.connect((host, port))
        s.sendall(raw)
        if read_all:
            s.shutdown(socket.SHUT_WR)
        return read_response(s) if not read_all else _read_until_close(s)


def _read_until_close(s):
    chunks = []
    while True:
        try:
            data = s.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def head_recorder(response):
    """A ScriptedBackend handler that keeps the head of each request it reads and answers it
    with the bytes `response`. Returns (handler, the list the heads go to)."""
    heads = []

    def record(sock, backend):
        got = recv_head(sock)
        if got is not None:
            heads.append(got[0])
            sock.sendall(response)

    return record, heads


def recv_head(sock, buffered=b""):
    """Reads from `sock` until the bytes hold a whole message head; returns (head, the bytes
    after its blank line), or None if the peer closes first."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def read_response(s, buffered=b""):
    """Reads one HTTP/1.1 response (Content-Length or chunked or close-delimited) from s.
    Returns (status, headers list, body, leftover bytes)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the response head: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
    hmap = {k.lower(): v for k, v in headers}
    if "content-length" in hmap:
        n = int(hmap["content-length"])
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, headers, rest[:n], rest[n:]
    if hmap.get("transfer-encoding", "").lower() == "chunked":
        body, rest = read_chunked_body(s, rest)
        return status, headers, body, rest
    return status, headers, rest + _read_until_close(s), b""


def read_chunked_body(s, rest):
    """Reads a chunked body (RFC 9112 section 7.1, no trailers) that starts in `rest`, then on
    socket `s`. Returns (body, bytes after the body)."""
    body = b""
    while True:
        while b"\r\n" not in rest:
            rest += s.recv(65536)
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        while len(rest) < size + 2:
            rest += s.recv(65536)
        body += rest[:size]
        rest = rest[size + 2:]
        if size == 0:
            return body, rest


def echo_json(body):
    """Parses realip-echo's JSON answer."""
    return json.loads(body.decode())
