#!/usr/bin/env python3
"""Side-by-side benchmark: realip-proxy against nginx and HAProxy, same machine, same run.

One shared backend (nginx, one worker, `return 200` with a small body) sits behind each proxy in
turn; each proxy has one worker thread and is configured to do the same work (trust 127.0.0.0/8,
take the client from X-Forwarded-For or the PROXY header, send X-Real-IP and X-Forwarded-For,
keep-alive to the backend). The tools run alternately, several times, and the table reports
medians, because these machines are shared and noisy.

Scenarios:
  A   keep-alive, 64 connections, GET with a 3-hop X-Forwarded-For (wrk -t1 -c64): peak req/s
  A-nometrics  A for realip-proxy alone, started with `metrics_collection off;`; its ratios are
      against nginx and HAProxy of A, and a line after the table gives the cost of metrics
      (on/off). When it follows A, the two run interleaved, run by run.
  A-log A's load with an access log on in every tool, one line per request to a file in the
      work directory, nginx's "combined" fields: realip-proxy `access_log FILE combined;` (its
      default buffering, 64 KiB / 1 s), nginx the same with `buffer=64k flush=1s` (its default
      writes each line at once), HAProxy (which cannot write a file) `log stdout` with a
      log-format giving the same fields, one write per line. After each run the log must hold
      a line per request (at least 90% of what wrk counted, warm-up included, at most that plus
      one per connection), each for the client 198.51.100.2, or the bench stops; the file is
      then deleted. Its ratios are against nginx and HAProxy of A-log; a line after the
      table gives each tool's A-log / A.
  A50 the same, open loop at half of nginx's peak (realip-loadgen --rate): p50/p99 from schedule
  B   one request per connection, each opened with a PROXY v2 header (realip-loadgen)
  C   the same with PROXY v1
  D   9,000 idle keep-alive client connections after one request each: RSS bytes per connection
      (9,000, not 10,000: this sandbox's hard limit is 20,000 descriptors and HAProxy reserves
      two per maxconn; --idle changes it)
  E   1 MiB downloads and uploads (wrk): MB/s and peak RSS
  F   TLS 1.3 on a listener of its own (self-signed EC P-256 certificate made with openssl, each
      tool's TLS listener doing the plain listener's work, session resumption off):
      F-keepalive  A over https: req/s, p50/p99, CPU per 100k requests
      F-handshake  every request on a new connection (wrk -H "Connection: close"): full
                   handshakes/s. wrk resumes its sessions when the server lets it, hence the
                   listeners' `ssl_session_tickets off; ssl_session_cache off;` and HAProxy's
                   `no-tls-tickets` and `tune.ssl.cachesize 0`.
  S   not in the default list (strace slows the tools down): keep-alive load like A (16
      connections, 2 s) under `strace -c -f -p PID` attached to the process doing the work,
      then a second table of system calls per request, in total and for the main ones

In A, B and C a fourth tool runs too, "floor": realip-floor-relay, a one-thread relay that reads
and writes on each side, keeps backend connections alive, drops the PROXY header and does no other
work (no header rewriting, no client IP, no logs, no metrics). Its rate is the most a one-thread
proxy making the same system calls could reach in that run; a line after the table gives
realip-proxy / floor. `--tools realip-proxy,nginx,haproxy` leaves it out.

After the main table, a "CPU budget" table for the throughput scenarios (A, A-nometrics, A-log,
B, C, E, F): CPU per 100k requests of the proxy, of the driver (wrk or realip-loadgen) and of the
backend's worker, how busy the machine was, and the ceiling: the rate at which the driver and
the backend alone would fill all the cores, the most any proxy could reach in that run.

Usage: integration/bench/run.py [--build build] [--runs 3] [--duration 5] [--deferred]
                                [--multi-accept]
                                [--scenarios A,A-nometrics,A-log,A50,B,C,D,E-down,
                                             E-up,F-keepalive,F-handshake]  (S: add it by name)
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
XFF = "203.0.113.7, 198.51.100.2, 127.0.0.5"
TOOLS = ("realip-proxy", "nginx", "haproxy", "floor")
# The floor (realip-floor-relay, floor_relay.cc) is a reference, not a peer: a relay making the
# system calls a proxy must make and doing nothing else. It runs in these scenarios only.
FLOOR_SCENARIOS = ("A", "B", "C")
# Scenarios that only realip-proxy runs, with the scenario whose peers they are compared with.
REALIP_ONLY = {"A-nometrics": "A"}
DEFAULT_SCENARIOS = "A,A-nometrics,A-log,A50,B,C,D,E-down,E-up,F-keepalive,F-handshake"
S_SECONDS = 2  # scenario S: keep-alive load under strace, this long whatever --duration says
# Scenario A-log: the line every tool must write for each request of the load, nginx's
# "combined" format with the client resolved from XFF and wrk's headers (no Referer, no
# User-Agent); status and body bytes are 200 and 23 (the backend's body) for a request served,
# something else for one in flight when wrk closed its connection (nginx: 499 0).
ACCESS_LINE = re.compile(rb'198\.51\.100\.2 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d '
                         rb'[+-]\d{4}\] "GET / HTTP/1\.1" (-?\d+ [\d-]+) "-" "-"\n')
# HAProxy 2.6's log-format for the same fields: %ci is the client after `set-src`, %trl the
# request's local time as nginx's $time_local. Its log-format has no count of body bytes (%B
# includes the head), so the response's Content-Length is kept in a variable (the backend's
# responses all have one); Referer and User-Agent are captured when the request arrives, as
# its headers are gone when the line is written. A missing value prints "-", as in nginx.
# `dontlognull`: a connection closed before sending a byte (the bench's readiness probe) is not
# logged, as in nginx; HAProxy logs it as a 400 "<BADREQ>" otherwise.
HAPROXY_LOG = ("  log stdout format raw local0\n"
               "  option dontlognull\n"
               '  log-format "%ci - - [%trl] %{+Q}r %ST %[var(txn.body_bytes)] '
               '\\"%[capture.req.hdr(0)]\\" \\"%[capture.req.hdr(1)]\\""\n'
               "  http-request capture req.hdr(Referer) len 256\n"
               "  http-request capture req.hdr(User-Agent) len 256\n"
               "  http-response set-var(txn.body_bytes) res.hdr(Content-Length)\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_ticks():
    """(busy, total) clock ticks of all CPUs since boot, from the first line of /proc/stat.
    iowait counts as idle; guest time is left out, as it is already in user time."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = (
            int(x) for x in f.readline().split()[1:9])
    total = user + nice + system + idle + iowait + irq + softirq + steal
    return total - idle - iowait, total


def proc_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def nginx_worker(master):
    """The pid of the (single) worker of an nginx master, or the master's if none shows up."""
    for _ in range(100):
        kids = children(master)
        if kids:
            return kids[0]
        time.sleep(0.02)
    return master


def run_driver(args, timeout):
    """Runs a load generator to its end. Returns its standard output and the CPU seconds it
    used (user + system, all its threads), from the rusage that os.wait4 gives when it is
    reaped: exact, and nothing else runs or reads /proc while it works."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, text=True)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        with proc.stdout:
            out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        timer.cancel()
    if proc.returncode == -signal.SIGKILL:
        raise RuntimeError(f"{args[0]} still running after {timeout:g}s")
    return out, usage.ru_utime + usage.ru_stime


class Tool:
    """A proxy under test, started fresh for each measurement. `access_log`: the file its
    access log goes to (scenario A-log), or None; with `log_on_stdout`, the tool writes the
    log to its standard output, which then goes to that file (its standard error to the
    usual NAME.out)."""

    def __init__(self, name, args, workdir, port, pp_v1_port, pp_v2_port, tls_port=None,
                 access_log=None, log_on_stdout=False):
        self.name, self.args, self.workdir = name, args, workdir
        self.port, self.pp_v1_port, self.pp_v2_port = port, pp_v1_port, pp_v2_port
        self.tls_port = tls_port
        self.access_log, self.log_on_stdout = access_log, log_on_stdout
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.workdir, f"{self.name}.out"), "ab")
        self.stdout = open(self.access_log, "ab") if self.log_on_stdout else self.log
        self.proc = subprocess.Popen(self.args, stdout=self.stdout,
                                     stderr=self.log if self.log_on_stdout else subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir)
        for p in (self.port, self.pp_v1_port, self.pp_v2_port, self.tls_port):
            if p:
                wait_port(p)
        # nginx forks its worker: measure the worker, which does the work.
        self.pid = nginx_worker(self.proc.pid) if self.name == "nginx" else self.proc.pid

    def stop(self):
        """Stops the tool (SIGTERM: each flushes its buffered access log as it exits); a second
        call does nothing."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.stdout.close()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def nginx_common(workdir):
    return (f"pid {workdir}/nginx-%s.pid;\nerror_log {workdir}/nginx-%s-error.log crit;\n"
            "daemon off;\nworker_rlimit_nofile 20000;\n")


def make_backend(workdir):
    port = free_port()
    with open(os.path.join(workdir, "1m.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
    os.chmod(os.path.join(workdir, "1m.bin"), 0o644)
    conf = write(os.path.join(workdir, "backend.conf"), (nginx_common(workdir) % ("b", "b")) + f"""
worker_processes 1;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/b_body;
  proxy_temp_path {workdir}/b_proxy;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    client_max_body_size 2m;
    location / {{ return 200 "hello from the backend\\n"; }}
    location = /1m {{ alias {workdir}/1m.bin; }}
    location = /upload {{ return 200 "uploaded\\n"; }}
  }}
}}
""")
    proc = subprocess.Popen(["nginx", "-p", workdir, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def make_tls(workdir):
    """A self-signed certificate for 127.0.0.1 with an EC P-256 key (so that a handshake costs
    what the protocol costs, not an RSA signature); returns the certificate, the key and both in
    one file (HAProxy's `crt`)."""
    crt, key = os.path.join(workdir, "tls.crt"), os.path.join(workdir, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "30", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    with open(crt) as c, open(key) as k:
        pem = write(os.path.join(workdir, "tls.pem"), c.read() + k.read())
    return {"crt": crt, "key": key, "pem": pem}


def make_tools(build, workdir, backend_port, metrics_collection=True, tls=None, deferred=False,
               multi_accept=False, access_log=False):
    """The proxies under test; with metrics_collection false, realip-proxy alone, configured
    with `metrics_collection off;`. With `tls` (from make_tls), each also gets a TLS listener
    doing the plain listener's work, TLS 1.3 only, with session resumption off (wrk would resume
    every session otherwise, and scenario F-handshake counts full handshakes). With
    `access_log` (scenario A-log), each proxy but the floor writes a line per request, nginx's
    "combined" fields, to a file in `workdir` (Tool.access_log)."""
    tools = {}
    # --deferred: every client listener defers accepting until data arrives (nginx and
    # realip-proxy `listen ... deferred`, HAProxy `defer-accept`); the floor does not, and is
    # left out.
    nginx_defer, haproxy_defer = (" deferred", " defer-accept") if deferred else ("", "")
    # --multi-accept: nginx takes every queued connection per listener wakeup, as realip-proxy
    # does by default and HAProxy does (tune.maxaccept); nginx's default takes one.
    events_extra = " multi_accept on;" if multi_accept else ""
    for name in TOOLS if metrics_collection else ("realip-proxy",):
        if deferred and name == "floor":
            continue
        port, v1, v2 = free_port(), free_port(), free_port()
        tls_port = free_port() if tls else None
        log_path = os.path.join(workdir, f"{name.split('-')[0]}-access.log")
        if name in ("realip-proxy", "nginx"):
            extra = ("" if name == "realip-proxy" else
                     "    proxy_set_header X-Real-IP $remote_addr;\n"
                     "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                     f"    client_body_temp_path {workdir}/n_body;\n"
                     f"    proxy_temp_path {workdir}/n_proxy;\n")
            head = (nginx_common(workdir) % ("n", "n")) if name == "nginx" else ""
            # The same proxying in every server block: plain, PROXY protocol and TLS.
            location = ("    location / {\n"
                        "      proxy_pass http://backend;\n"
                        "      proxy_http_version 1.1;\n"
                        "      proxy_set_header Connection \"\";\n"
                        f"{extra}    }}\n")
            switch = "" if metrics_collection else "  metrics_collection off;\n"
            conf_name = name if metrics_collection else f"{name}-nometrics"
            # A-log: realip-proxy buffers by default (64 KiB / 1 s); nginx is given the same
            # buffering, as it writes each line at once by default.
            log = "  access_log off;\n"
            if access_log:
                conf_name += "-alog"
                log = (f"  access_log {log_path} combined;\n" if name == "realip-proxy" else
                       f"  access_log {log_path} combined buffer=64k flush=1s;\n")
            tls_server = ""
            if tls:
                conf_name += "-tls"
                tls_server = f"""  server {{
    listen 127.0.0.1:{tls_port} ssl backlog=4096{nginx_defer};
    ssl_certificate {tls["crt"]};
    ssl_certificate_key {tls["key"]};
    ssl_protocols TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
{location}  }}
"""
            conf = write(os.path.join(workdir, f"{conf_name}.conf"), head + f"""
worker_processes 1;
events {{ worker_connections 20000;{events_extra} }}
http {{
{switch}{log}  client_max_body_size 2m;
  keepalive_requests 1000000;
  set_real_ip_from 127.0.0.0/8;
  upstream backend {{ server 127.0.0.1:{backend_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port} backlog=4096{nginx_defer};
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
{location}  }}
  server {{
    listen 127.0.0.1:{v1} proxy_protocol backlog=4096{nginx_defer};
    listen 127.0.0.1:{v2} proxy_protocol backlog=4096{nginx_defer};
    real_ip_header proxy_protocol;
{location}  }}
{tls_server}}}
""")
            args = ([os.path.join(build, "proxy", "realip-proxy"), "-c", conf]
                    if name == "realip-proxy" else ["nginx", "-p", workdir, "-c", conf])
        elif name == "floor":
            if not metrics_collection or tls or access_log:
                continue
            args = [os.path.join(build, "integration", "bench", "realip-floor-relay"),
                    str(backend_port), str(port), str(v1), str(v2)]
        else:
            tls_global = tls_frontend = ""
            # HAProxy 2.6 has no recursive real-IP walk: one rule per hop of the bench's header,
            # each taking the next address from the right while the current one is trusted
            # (nginx's `real_ip_recursive on`). The client is then 198.51.100.2, as in the
            # other tools; a single rule stopped at 127.0.0.5.
            haproxy_realip = "".join(
                f"  http-request set-src hdr_ip(X-Forwarded-For,-{i}) if {{ src 127.0.0.0/8 }}\n"
                for i in range(1, len(XFF.split(",")) + 1))
            # A-log: HAProxy 2.6 cannot write a file; it logs to its standard output, which the
            # bench sends to the log file (Tool.start), each line with its own write.
            haproxy_log = HAPROXY_LOG if access_log else ""
            if tls:
                tls_global = "  tune.ssl.cachesize 0\n"
                tls_frontend = f"""frontend tls
  bind 127.0.0.1:{tls_port} ssl crt {tls["pem"]} ssl-min-ver TLSv1.3 no-tls-tickets{haproxy_defer}
{haproxy_log}{haproxy_realip}  option forwardfor
  http-request set-header X-Real-IP %[src]
  default_backend be
"""
            conf_name = "haproxy" + ("-tls" if tls else "") + ("-alog" if access_log else "")
            conf = write(os.path.join(workdir, f"{conf_name}.cfg"), f"""
global
  nbthread 1
  maxconn 9900
{tls_global}defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend plain
  bind 127.0.0.1:{port}{haproxy_defer}
{haproxy_log}{haproxy_realip}  option forwardfor
  http-request set-header X-Real-IP %[src]
  default_backend be
frontend pp
  bind 127.0.0.1:{v1} accept-proxy{haproxy_defer}
  bind 127.0.0.1:{v2} accept-proxy{haproxy_defer}
{haproxy_log}  option forwardfor
  http-request set-header X-Real-IP %[src]
  default_backend be
{tls_frontend}backend be
  server s1 127.0.0.1:{backend_port} maxconn 1000
""")
            args = ["haproxy", "-f", conf]
        tools[name] = Tool(name, args, workdir, port, v1, v2, tls_port,
                           access_log=log_path if access_log else None,
                           log_on_stdout=access_log and name == "haproxy")
    return tools


def run_wrk(port, duration, path="/", connections=64, script=None, scheme="http", headers=()):
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
            "-H", f"X-Forwarded-For: {XFF}"]
    for h in headers:
        args += ["-H", h]
    if script:
        args += ["-s", script]
    out, driver_cpu = run_driver(args + [f"{scheme}://127.0.0.1:{port}{path}"], duration + 60)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not m:
            return 0.0
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        return float(m.group(1)) * scale
    return {"rps": rps, "requests": total, "errors": errors, "p50_ms": pct(50), "p99_ms": pct(99),
            "driver_cpu_s": driver_cpu}


def run_loadgen(loadgen, port, duration, **kw):
    args = [loadgen, "--port", str(port), "--duration", str(duration)]
    for k, v in kw.items():
        args += [f"--{k}", str(v)]
    out, driver_cpu = run_driver(args, duration + 60)
    r = json.loads(out)
    r["driver_cpu_s"] = driver_cpu
    return r


def idle_connections(port, count):
    """Opens `count` keep-alive connections, one request each; returns them still open."""
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(f"GET / HTTP/1.1\r\nHost: bench\r\nX-Forwarded-For: {XFF}\r\n\r\n".encode())
        socks.append(s)
    for s in socks:
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("closed during the idle-connection test")
            data += chunk
    return socks


STRACE_GROUPS = (("read", ("read", "readv", "recvfrom", "recvmsg")),
                 ("write", ("write", "writev", "sendto", "sendmsg")),
                 ("epoll_wait", ("epoll_wait", "epoll_pwait", "epoll_pwait2")),
                 ("epoll_ctl", ("epoll_ctl",)))


def parse_strace_summary(text):
    """{syscall: calls} from `strace -c -U name,calls,errors` output, without the total row."""
    calls = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1].isdigit() and fields[0] not in ("total", "syscall"):
            calls[fields[0]] = calls.get(fields[0], 0) + int(fields[1])
    return calls


def count_syscalls(tool, duration, connections=16):
    """Keep-alive load like A under `strace -c -f` attached to the process doing the work (all
    its threads); returns the wrk result with the per-syscall counts."""
    out = os.path.join(tool.workdir, f"strace-{tool.name}.txt")
    strace = subprocess.Popen(["strace", "-c", "-f", "-U", "name,calls,errors", "-o", out,
                               "-p", str(tool.pid)], stderr=subprocess.PIPE, text=True)
    try:
        line = strace.stderr.readline()  # "strace: Process N attached ...": tracing from here
        if "attached" not in line:
            raise RuntimeError(f"strace did not attach to {tool.name}: {line.strip()}")
        r = run_wrk(tool.port, duration, connections=connections)
    finally:
        strace.send_signal(signal.SIGINT)  # detaches and writes the summary
        strace.communicate(timeout=30)
    with open(out) as f:
        r["syscalls"] = parse_strace_summary(f.read())
    return r


def check_access_log(tool, requests, in_flight):
    """Scenario A-log, after the tool has stopped: its log must hold a line per request, each
    an ACCESS_LINE. `requests`: what the drivers counted, warm-up included; `in_flight`: how
    many more the tool may have logged after a driver stopped counting (one per connection),
    served or not (those alone may show another status than 200 and 23 bytes). A stopped tool
    has flushed its buffer, but a tenth of the lines may be missing before this calls it a
    failure. Deletes the file (it grows by ~100k lines a second) and returns its line count;
    raises RuntimeError on a wrong line or count."""
    lines, unserved, bad = 0, 0, None
    try:
        with open(tool.access_log, "rb") as f:
            for line in f:
                lines += 1
                m = ACCESS_LINE.fullmatch(line)
                if m and m.group(1) != b"200 23":
                    unserved += 1
                if bad is None and (not m or unserved > in_flight):
                    bad = (lines, line)
    except FileNotFoundError:
        pass
    finally:
        if os.path.exists(tool.access_log):
            os.remove(tool.access_log)
    if bad:
        raise RuntimeError(f"A-log: {tool.name}'s access log, line {bad[0]}: {bad[1]!r} is not "
                           "a combined line for 198.51.100.2, GET / (200, 23 bytes, but for "
                           f"{in_flight} requests in flight)")
    if not 0.9 * requests <= lines <= requests + in_flight:
        raise RuntimeError(f"A-log: {tool.name}'s access log has {lines} lines for {requests} "
                           f"requests (wanted {int(0.9 * requests + 0.999)} to "
                           f"{requests + in_flight})")
    return lines


def measure(tool, scenario, args, loadgen, nginx_peak, backend):
    tool.start()
    try:
        # Warm-up: a short run so that pools and caches are filled before measuring.
        if scenario.startswith("F"):
            warm = run_wrk(tool.tls_port, 1, connections=8, scheme="https")
        else:
            warm = run_wrk(tool.port, 1, connections=8)
        # The window: /proc is read just before the load starts and just after it ends.
        backend_pid = nginx_worker(backend.pid)
        backend0 = proc_cpu_seconds(backend_pid)
        busy0, total0 = machine_cpu_ticks()
        wall0 = time.monotonic()
        cpu0 = proc_cpu_seconds(tool.pid)
        if scenario in ("A", "A-nometrics", "A-log"):
            r = run_wrk(tool.port, args.duration)
        elif scenario == "A50":
            rate = max(1000, int(nginx_peak / 2)) if nginx_peak else 10000
            r = run_loadgen(loadgen, tool.port, args.duration, connections=64, rate=rate,
                            xff=XFF)
            r["rate"] = rate
        elif scenario in ("B", "C"):
            port = tool.pp_v2_port if scenario == "B" else tool.pp_v1_port
            r = run_loadgen(loadgen, port, args.duration, connections=32, mode="close",
                            proxy="v2" if scenario == "B" else "v1")
        elif scenario == "D":
            before = proc_status_kb(tool.pid, "VmRSS")
            socks = idle_connections(tool.port, args.idle)
            # Let the proxies settle: realip-proxy returns a burst's memory once it has been
            # quiet for half a second.
            time.sleep(2)
            after = proc_status_kb(tool.pid, "VmRSS")
            for s in socks:
                s.close()
            r = {"bytes_per_conn": (after - before) * 1024 / args.idle, "requests": args.idle,
                 "rps": 0, "p50_ms": 0, "p99_ms": 0}
        elif scenario == "E-down":
            r = run_wrk(tool.port, args.duration, path="/1m", connections=8)
            r["mb_s"] = r["rps"]  # 1 MiB per request
        elif scenario == "E-up":
            script = write(os.path.join(tool.workdir, "upload.lua"),
                           'wrk.method = "POST"\nwrk.body = string.rep("x", 1048576)\n')
            r = run_wrk(tool.port, args.duration, path="/upload", connections=8, script=script)
            r["mb_s"] = r["rps"]
        elif scenario == "F-keepalive":
            r = run_wrk(tool.tls_port, args.duration, scheme="https")
        elif scenario == "F-handshake":
            # Every request on a new connection, each a full TLS 1.3 handshake (the listener
            # refuses resumption; wrk would otherwise resume its sessions).
            r = run_wrk(tool.tls_port, args.duration, scheme="https",
                        headers=("Connection: close",))
        elif scenario == "S":
            r = count_syscalls(tool, S_SECONDS)
        cpu = proc_cpu_seconds(tool.pid) - cpu0
        wall = time.monotonic() - wall0
        busy1, total1 = machine_cpu_ticks()
        backend_cpu = proc_cpu_seconds(backend_pid) - backend0
        r["cpu_per_100k"] = cpu / r["requests"] * 100000 if r.get("requests") else 0
        r["peak_rss_kb"] = proc_status_kb(tool.pid, "VmHWM")
        add_budget(r, cpu, wall, backend_cpu,
                   (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0)
        if tool.access_log:
            # Stopped first, so that the buffered lines reach the file; the warm-up's 8
            # connections and the load's 64 may each have had a request in flight.
            tool.stop()
            r["log_lines"] = check_access_log(tool, warm["requests"] + r["requests"], 8 + 64)
        return r
    finally:
        tool.stop()


def add_budget(r, cpu, wall, backend_cpu, busy):
    """Adds the CPU budget of a run to its result: CPU seconds of the proxy, the backend's
    worker and the driver (wrk or realip-loadgen; none in D), the machine's busy fraction over
    the window and, per unit (request, or connection in B and C), the ceiling: the rate at which
    the driver and the backend alone would fill all the cores."""
    r.update({"cpu_s": cpu, "wall_s": wall, "proxy_core_share": cpu / wall if wall else 0,
              "backend_cpu_s": backend_cpu, "machine_busy": busy})
    n = r.get("requests")
    if "driver_cpu_s" not in r or not n:
        return
    ncores = os.cpu_count() or 1
    # The three processes of the run as a share of all cores: a machine busier than that was
    # running something else too.
    r["run_busy"] = (cpu + r["driver_cpu_s"] + backend_cpu) / (wall * ncores) if wall else 0
    r["driver_per_100k"] = r["driver_cpu_s"] / n * 100000
    r["backend_per_100k"] = backend_cpu / n * 100000
    others = (r["driver_cpu_s"] + backend_cpu) / n
    r["ceiling_rps"] = ncores / others if others else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(SOURCE, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--idle", type=int, default=9000)
    ap.add_argument("--scenarios", default=DEFAULT_SCENARIOS)
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--deferred", action="store_true",
                    help="client listeners defer accepting until data arrives (nginx `deferred`, "
                         "HAProxy `defer-accept`); the floor is left out")
    ap.add_argument("--multi-accept", action="store_true",
                    help="nginx gets `multi_accept on` (realip-proxy's default; HAProxy accepts "
                         "several connections per wakeup by default)")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)  # the tools run with the work dir as cwd
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    scenarios = args.scenarios.split(",")
    known = DEFAULT_SCENARIOS.split(",") + ["S"]
    for scenario in scenarios:
        if scenario not in known:
            sys.exit(f"bench: unknown scenario {scenario!r} (known: {','.join(known)})")
    needed = ["nginx", "haproxy", "wrk"]
    needed += ["openssl"] if any(s.startswith("F") for s in scenarios) else []
    needed += ["strace"] if "S" in scenarios else []
    for prog in needed:
        if not shutil.which(prog):
            sys.exit(f"bench: {prog} is missing: run scripts/deps.sh all")
    loadgen = os.path.join(args.build, "integration", "bench", "realip-loadgen")

    workdir = tempfile.mkdtemp(prefix="realip-bench-")
    os.chmod(workdir, 0o755)  # nginx workers run as an unprivileged user
    backend, backend_port = make_backend(workdir)
    tools = make_tools(args.build, workdir, backend_port, deferred=args.deferred,
                       multi_accept=args.multi_accept)
    nometrics = make_tools(args.build, workdir, backend_port, metrics_collection=False,
                           deferred=args.deferred, multi_accept=args.multi_accept)
    # TLS listeners only in the F configurations, so that the others stay as they were.
    tls_tools = (make_tools(args.build, workdir, backend_port, tls=make_tls(workdir),
                            deferred=args.deferred, multi_accept=args.multi_accept)
                 if any(s.startswith("F") for s in scenarios) else {})
    # Access logs on only in A-log's configurations.
    alog_tools = (make_tools(args.build, workdir, backend_port, deferred=args.deferred,
                             multi_accept=args.multi_accept, access_log=True)
                  if "A-log" in scenarios else {})
    names = [t for t in args.tools.split(",") if t in tools]
    # A realip-only scenario right after its peer scenario runs interleaved with it, run by
    # run, so that both see the same machine (these machines are shared and drift).
    groups = []
    for scenario in scenarios:
        if groups and REALIP_ONLY.get(scenario) == groups[-1][-1]:
            groups[-1].append(scenario)
        else:
            groups.append([scenario])
    results = {}  # (scenario, tool) -> list of runs
    try:
        for group in groups:
            for run in range(args.runs):
                for scenario in group:
                    if scenario in REALIP_ONLY:
                        scenario_names = [n for n in names if n == "realip-proxy"]
                        scenario_tools = nometrics
                    elif scenario == "A-log":
                        scenario_names = [n for n in names if n in alog_tools]
                        scenario_tools = alog_tools
                    else:
                        scenario_names = [n for n in names
                                          if n != "floor" or scenario in FLOOR_SCENARIOS]
                        scenario_tools = tls_tools if scenario.startswith("F") else tools
                    if not scenario_names:
                        continue
                    k = run % len(scenario_names)
                    order = scenario_names[k:] + scenario_names[:k]  # alternate
                    for name in order:
                        nginx_runs = results.get(("A", "nginx"), [])
                        nginx_peak = (statistics.median(r["rps"] for r in nginx_runs)
                                      if nginx_runs else 0)
                        r = measure(scenario_tools[name], scenario, args, loadgen, nginx_peak,
                                    backend)
                        results.setdefault((scenario, name), []).append(r)
                        print(f"# {scenario} run {run + 1} {name}: {json.dumps(r)}",
                              file=sys.stderr)
    finally:
        backend.terminate()
        backend.wait()
    print_table(results, args)
    print_budget(results)
    print_syscalls(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{s}/{t}": v for (s, t), v in results.items()}, f, indent=1)
    shutil.rmtree(workdir, ignore_errors=True)


def med(runs, key):
    return statistics.median(r.get(key, 0) for r in runs)


def print_table(results, args):
    print(f"\nmedians of {args.runs} alternating runs, {args.duration:g}s each")
    print(f"{'scenario':11} {'tool':13} {'req/s':>10} {'MB/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'cpu s/100k':>10} {'peak RSS':>10} {'B/conn':>8} {'vs nginx':>9} {'vs haproxy':>10}")
    for scenario in dict.fromkeys(s for s, _ in results if s != "S"):
        peers_of = REALIP_ONLY.get(scenario, scenario)
        base = {t: results.get((peers_of, t)) for t in ("nginx", "haproxy")}
        for tool in TOOLS:
            runs = results.get((scenario, tool))
            if not runs:
                continue
            # The footnote printed below says which of these are better lower.
            if scenario == "D":
                key = "bytes_per_conn"
            elif scenario.startswith("E"):
                key = "mb_s"
            elif scenario == "A50":
                key = "p99_ms"
            else:
                key = "rps"
            ratios = []
            for b in ("nginx", "haproxy"):
                if base[b] and med(base[b], key):
                    ratios.append(f"{med(runs, key) / med(base[b], key):.2f}x")
                else:
                    ratios.append("-")
            print(f"{scenario:11} {tool:13} {med(runs, 'rps'):10.0f} {med(runs, 'mb_s'):8.1f} "
                  f"{med(runs, 'p50_ms'):8.3f} {med(runs, 'p99_ms'):8.3f} "
                  f"{med(runs, 'cpu_per_100k'):10.2f} {med(runs, 'peak_rss_kb') / 1024:8.1f}MB "
                  f"{med(runs, 'bytes_per_conn'):8.0f} {ratios[0]:>9} {ratios[1]:>10}")
    print("ratios: realip-proxy / peer of the scenario's key figure (req/s; A50: p99, lower is "
          "better; D: bytes per idle connection, lower is better; E: MB/s; F-handshake: req/s = "
          "full TLS handshakes/s); A-nometrics against the peers of A, A-log against its own")
    on, off = results.get(("A", "realip-proxy")), results.get(("A-nometrics", "realip-proxy"))
    if on and off:
        rps = med(on, "rps") / med(off, "rps") if med(off, "rps") else float("nan")
        cpu = (med(on, "cpu_per_100k") / med(off, "cpu_per_100k") if med(off, "cpu_per_100k")
               else float("nan"))
        print(f"metrics cost in A: on/off req/s = {rps:.2f}x, cpu s/100k on/off = {cpu:.2f}x")
    logged = []
    for tool in TOOLS:
        on, off = results.get(("A-log", tool)), results.get(("A", tool))
        if on and off and med(off, "rps") and med(off, "cpu_per_100k"):
            logged.append(f"{tool} {med(on, 'rps') / med(off, 'rps'):.2f}x "
                          f"(cpu {med(on, 'cpu_per_100k') / med(off, 'cpu_per_100k'):.2f}x)")
    if logged:
        print("access-log cost, A-log / A, req/s (cpu s/100k): " + ", ".join(logged))
    floor = []
    for scenario in FLOOR_SCENARIOS:
        ours, relay = results.get((scenario, "realip-proxy")), results.get((scenario, "floor"))
        if ours and relay and med(relay, "rps"):
            floor.append(f"{scenario} {med(ours, 'rps') / med(relay, 'rps'):.2f}x "
                         f"(cpu {med(ours, 'cpu_per_100k') / med(relay, 'cpu_per_100k'):.2f}x)")
    if floor:
        print("realip-proxy / floor, req/s (cpu s/100k): " + ", ".join(floor))


def is_throughput(scenario):
    return scenario in ("A", "A-nometrics", "A-log", "B", "C") or scenario[0] in "EF"


def print_budget(results):
    """The CPU budget of the throughput scenarios: where the cores went, and how much CPU per
    request a proxy could use and still reach 1.25x nginx's rate (the issue's target)."""
    scenarios = [s for s in dict.fromkeys(s for s, _ in results) if is_throughput(s)]
    if not scenarios:
        return
    ncores = os.cpu_count() or 1
    print(f"\nCPU budget: medians, CPU seconds per 100k requests (B, C: connections), {ncores} "
          f"cores")
    print(f"{'scenario':11} {'tool':13} {'proxy':>7} {'driver':>7} {'backend':>7} "
          f"{'busy %':>7} {'run %':>6} {'proxy core':>10} {'ceiling/s':>10} {'at 1.25x':>9}")
    for scenario in scenarios:
        nginx = results.get((REALIP_ONLY.get(scenario, scenario), "nginx"))
        target = 1.25 * med(nginx, "rps") if nginx else 0
        for tool in TOOLS:
            runs = [r for r in results.get((scenario, tool), ()) if "ceiling_rps" in r]
            if not runs:
                continue
            others = (med(runs, "driver_per_100k") + med(runs, "backend_per_100k")) / 100000
            budget = "-"
            if target:
                # One thread: at most one core; and the cores shared with driver and backend.
                allowed = min(1 / target, ncores / target - others) * 100000
                budget = f"{allowed:9.2f}" if allowed > 0 else "     none"
            print(f"{scenario:11} {tool:13} {med(runs, 'cpu_per_100k'):7.2f} "
                  f"{med(runs, 'driver_per_100k'):7.2f} {med(runs, 'backend_per_100k'):7.2f} "
                  f"{med(runs, 'machine_busy') * 100:7.1f} {med(runs, 'run_busy') * 100:6.1f} "
                  f"{med(runs, 'proxy_core_share') * 100:9.1f}% {med(runs, 'ceiling_rps'):10.0f} "
                  f"{budget:>9}")
    print("driver: wrk or realip-loadgen (its rusage at exit); backend: the backend's nginx "
          "worker; busy: all cores, from /proc/stat; run: proxy + driver + backend as a share of "
          "all cores (busy well above run: something else ran); proxy core: proxy CPU / wall time")
    print(f"ceiling = {ncores} cores / (driver + backend CPU per request): what those two alone "
          "allow, a proxy costing nothing; at 1.25x: the most proxy CPU per 100k requests that "
          f"would still reach 1.25x nginx's req/s here, min(1 core, {ncores} cores - driver - "
          "backend) / (1.25 x nginx's rate); compare it with the proxy column "
          "(E: 1 MiB per request, req/s = MB/s)")


def print_syscalls(results):
    """Scenario S: system calls per keep-alive request, from strace -c -f over the run."""
    rows = [(t, results[("S", t)]) for t in TOOLS if ("S", t) in results]
    if not rows:
        return
    groups = [g for g, _ in STRACE_GROUPS]
    print(f"\nsyscalls per request under keep-alive load (scenario S, strace -c -f, "
          f"{S_SECONDS}s, median of the runs' per-request counts)")
    print(f"{'tool':13} {'requests':>9} {'total':>7} " + " ".join(f"{g:>10}" for g in groups)
          + f" {'others':>7}  top others")
    for tool, runs in rows:
        per = []  # per run: {group or syscall: calls per request}
        for r in runs:
            n = max(1, r["requests"])
            calls = dict(r["syscalls"])
            row = {"total": sum(calls.values()) / n}
            for g, names in STRACE_GROUPS:
                row[g] = sum(calls.pop(x, 0) for x in names) / n
            row["others"] = sum(calls.values()) / n
            row.update({f"+{k}": v / n for k, v in calls.items()})
            per.append(row)

        def m(k):
            return statistics.median(p.get(k, 0) for p in per)
        others = sorted({k for p in per for k in p if k.startswith("+")}, key=m, reverse=True)
        top = ", ".join(f"{k[1:]} {m(k):.2f}" for k in others[:4] if m(k) >= 0.005)
        print(f"{tool:13} {statistics.median(r['requests'] for r in runs):9.0f} "
              f"{m('total'):7.2f} " + " ".join(f"{m(g):10.2f}" for g in groups)
              + f" {m('others'):7.2f}  {top}")
    print("read = read/readv/recvfrom/recvmsg, write = write/writev/sendto/sendmsg, "
          "epoll_wait includes epoll_pwait; both sides (client and backend) counted per client "
          "request")


if __name__ == "__main__":
    main()
