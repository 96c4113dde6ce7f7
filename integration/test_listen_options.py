"""nginx's listen options deferred, so_keepalive, rcvbuf and sndbuf on the real binary: a deferred
listener does not accept a connection until it sends (then reads it at once, PROXY header and
TLS handshake included, whole or split), the accepted sockets carry the keepalive timer, the
listening socket the buffer sizes, and a reload changes them on the kept socket. What the kernel
does is read with ss(8). Also the events block's multi_accept, which decides how a listener's
readable report is taken."""
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import unittest

import harness
import test_tls
from test_engine_headers import connect
from test_engine_proxy_protocol import v2_header
from test_observability import parse_prometheus, value

GET_KEEPALIVE = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
GET_CLOSE = b"GET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"


def setUpModule():
    test_tls.setUpModule()


def tearDownModule():
    test_tls.tearDownModule()


def ss(*args):
    """ss(8) sockets without the header, one line each (-m details come on a line of their
    own), e.g. ss("-ltnm", "sport", "=", ":80")."""
    r = subprocess.run(["ss", "-H", *args], capture_output=True, text=True, timeout=30,
                       check=True)
    lines = []
    for line in r.stdout.splitlines():
        if line[:1].isspace() and lines:
            lines[-1] += " " + line.strip()
        elif line.strip():
            lines.append(line)
    return lines


class ListenOptionsTestCase(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.start_echo()

    def start(self, listens, server_extra="", events_extra=""):
        """`listens`: {name: listen flags}; each gets a port in self.ports[name]. A metrics
        server is added; only its port is waited for, so that no probe connects to the others
        (both open before any worker starts)."""
        self.ports = {name: harness.free_port() for name in listens}
        self.metrics_port = harness.free_port()
        lines = "\n".join(f"    listen 127.0.0.1:{self.ports[name]} {flags};"
                          for name, flags in listens.items())
        self.config_text = f"""
worker_processes 2;
error_log stderr info;
events {{ worker_connections 64; {events_extra} }}
http {{
  server {{
{lines}
    server_name a a.test;
    set_real_ip_from 127.0.0.1;
    ssl_certificate {test_tls.cert('a.crt')};
    ssl_certificate_key {test_tls.cert('a.key')};
    {server_extra}
    location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}
  }}
  server {{
    listen 127.0.0.1:{self.metrics_port};
    access_log off;
    location = /metrics {{ metrics; }}
  }}
}}
"""
        self.proxy = self.start_proxy(self.config_text,
                                      wait=(("127.0.0.1", self.metrics_port),))
        return self.proxy

    def accepted(self, name):
        reply = harness.http_request(
            self.metrics_port, b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
        _, samples = parse_prometheus(reply.partition(b"\r\n\r\n")[2].decode())
        return value(samples, "realip_connections_accepted_total",
                     listener=f"127.0.0.1:{self.ports[name]}") or 0

    def wait_accepted(self, name, count):
        harness.wait_until(lambda: self.accepted(name) >= count, f"{count} accepted on {name}")
        self.assertEqual(self.accepted(name), count)

    def exchange(self, s, raw=GET_KEEPALIVE):
        s.sendall(raw)
        status, _, body, rest = harness.read_response(s)
        self.assertEqual(status, 200)
        self.assertEqual(rest, b"")
        return harness.echo_json(body)


class DeferredTest(ListenOptionsTestCase):
    def test_a_silent_client_is_not_accepted_and_is_served_once_it_sends(self):
        self.start({"deferred": "deferred", "plain": ""})
        with connect(self.ports["deferred"]) as s:
            connected = time.monotonic()
            count = self.accepted("deferred")
            # The kernel holds a connection that sent nothing for about a second (nginx's
            # TCP_DEFER_ACCEPT value, 1); only a scrape made well within it says anything.
            if time.monotonic() - connected < 0.5:
                self.assertEqual(count, 0)
            doc = self.exchange(s)
            self.assertEqual(doc["headers"]["x-real-ip"], "127.0.0.1")
            self.assertEqual(self.accepted("deferred"), 1)
            # Keep-alive requests after the first go through the usual events.
            self.exchange(s)
            self.exchange(s, GET_CLOSE)
            self.assertEqual(s.recv(1), b"")
        self.assertEqual(self.accepted("deferred"), 1)
        # Without deferred, the same silent client is accepted at once.
        with connect(self.ports["plain"]):
            self.wait_accepted("plain", 1)

    def test_a_connection_passed_on_without_data_waits_for_its_request(self):
        # Once the deferral is over, the kernel passes the connection on although it sent
        # nothing: the read at once would block, and the session waits for the event.
        self.start({"deferred": "deferred"})
        with connect(self.ports["deferred"]) as s:
            self.wait_accepted("deferred", 1)
            self.exchange(s)
            self.exchange(s, GET_CLOSE)

    def test_proxy_protocol_headers_whole_and_split(self):
        self.start({"pp": "proxy_protocol deferred"},
                   server_extra="real_ip_header proxy_protocol;")
        headers = {
            "v1": b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n",
            "v2": v2_header("203.0.113.7", "127.0.0.1", 5555, 80),
        }
        count = 0
        for version, header in headers.items():
            # Whole: header and request in one send, read at accept.
            with self.subTest(version=version, split="whole"), connect(self.ports["pp"]) as s:
                doc = self.exchange(s, header + GET_CLOSE)
                self.assertEqual(doc["headers"]["x-real-ip"], "203.0.113.7")
                count += 1
            # Split inside the header and right after it: the read at accept gets the first
            # part (the connection is accepted then), the rest comes with the next events.
            for split in (5, len(header)):
                with self.subTest(version=version, split=split), \
                        connect(self.ports["pp"]) as s:
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    s.sendall(header[:split])
                    count += 1
                    self.wait_accepted("pp", count)
                    doc = self.exchange(s, header[split:] + GET_KEEPALIVE)
                    self.assertEqual(doc["headers"]["x-real-ip"], "203.0.113.7")
                    doc = self.exchange(s, GET_CLOSE)
                    self.assertEqual(doc["headers"]["x-real-ip"], "203.0.113.7")

    def tls_client(self, raw):
        ctx = ssl.create_default_context(cafile=test_tls.cert("ca.crt"))
        return ctx.wrap_socket(raw, server_hostname="a.test")

    def test_ssl_handshake_starts_from_the_read_at_accept(self):
        self.start({"ssl": "ssl deferred", "pp": "ssl proxy_protocol deferred"},
                   server_extra="real_ip_header proxy_protocol;")
        with self.tls_client(connect(self.ports["ssl"])) as s:
            self.exchange(s)
            self.exchange(s, GET_CLOSE)
        self.assertEqual(self.accepted("ssl"), 1)
        # PROXY header first (accepted with it), then the ClientHello in later events.
        with connect(self.ports["pp"]) as raw:
            raw.sendall(b"PROXY TCP4 203.0.113.8 127.0.0.1 5555 443\r\n")
            self.wait_accepted("pp", 1)
            with self.tls_client(raw) as s:
                doc = self.exchange(s, GET_CLOSE)
                self.assertEqual(doc["headers"]["x-real-ip"], "203.0.113.8")


class KeepaliveAndBuffersTest(ListenOptionsTestCase):
    def keepalive_timer(self, port):
        """The timer column of the proxy's side of the one established connection on port."""
        def timer():
            lines = ss("-tnoe", "state", "established", "sport", "=", f":{port}")
            self.assertEqual(len(lines), 1, lines)
            m = re.search(r"timer:\((\w+),([^,]+),", lines[0])
            # Right after the response the retransmission timer may still be set.
            return m and m.group(1) != "on" and m
        if not any("timer:(" in line
                   for line in ss("-tnoe", "state", "established", "sport", "=", f":{port}")):
            return None
        m = harness.wait_until(timer, f"the keepalive timer on {port}")
        self.assertEqual(m.group(1), "keepalive")
        return m.group(2)

    def test_so_keepalive_sets_the_timer_of_accepted_connections(self):
        self.start({"timers": "so_keepalive=30m::10", "on": "so_keepalive=on", "plain": "",
                    "off": "so_keepalive=off"})
        with open("/proc/sys/net/ipv4/tcp_keepalive_time") as f:
            default_idle_min = int(f.read()) // 60
        expected = {"timers": 30, "on": default_idle_min}
        for name in ("timers", "on", "plain", "off"):
            with self.subTest(listener=name), connect(self.ports[name]) as s:
                self.exchange(s)
                left = self.keepalive_timer(self.ports[name])
                if name in expected:
                    self.assertIsNotNone(left)
                    m = re.fullmatch(r"(\d+)min", left)
                    self.assertIsNotNone(m, left)
                    self.assertIn(int(m.group(1)), (expected[name] - 1, expected[name]))
                else:
                    self.assertIsNone(left)

    def buffers(self, port, state=("-l",)):
        lines = ss(*state, "-tnm", "sport", "=", f":{port}")
        self.assertEqual(len(lines), 1, lines)
        m = re.search(r"skmem:\(r\d+,rb(\d+),t\d+,tb(\d+),", lines[0])
        self.assertIsNotNone(m, lines[0])
        return int(m.group(1)), int(m.group(2))

    def test_rcvbuf_and_sndbuf_and_their_change_on_reload(self):
        self.start({"buf": "rcvbuf=64k sndbuf=48k"})
        port = self.ports["buf"]
        # The kernel doubles what it is given (socket(7)); accepted sockets inherit it.
        self.assertEqual(self.buffers(port), (2 * 64 * 1024, 2 * 48 * 1024))
        with connect(port) as s:
            self.exchange(s)
            self.assertEqual(self.buffers(port, ("state", "established")),
                             (2 * 64 * 1024, 2 * 48 * 1024))
        # A reload keeps the socket and sets the new size; sndbuf, no longer given, stays.
        path = self.write_config(self.config_text.replace("rcvbuf=64k sndbuf=48k",
                                                            "rcvbuf=96k deferred"))
        self.assertEqual(path, self.proxy.proc.args[2])
        self.proxy.proc.send_signal(signal.SIGHUP)
        self.proxy.wait_for_line(r"reconfiguring from")
        self.assertEqual(self.buffers(port), (2 * 96 * 1024, 2 * 48 * 1024))
        self.assertIn("rcvbuf, sndbuf or so_keepalive values no longer given for "
                      f"127.0.0.1:{port} stay on its socket until a restart",
                      self.proxy.output())
        with connect(port) as s:
            self.exchange(s, GET_CLOSE)


class MultiAcceptTest(ListenOptionsTestCase):
    """`multi_accept off` takes one connection per report of the (level-triggered) listener,
    `on` what is queued; either way every connection of a burst is accepted and served, on a
    plain and on a deferred listener."""

    def burst(self, name, count=40):
        sockets = [connect(self.ports[name]) for _ in range(count)]
        try:
            for s in sockets:
                s.sendall(GET_CLOSE)
            for s in sockets:
                status, _, body, _ = harness.read_response(s)
                self.assertEqual(status, 200)
                self.assertEqual(harness.echo_json(body)["headers"]["x-real-ip"], "127.0.0.1")
        finally:
            for s in sockets:
                s.close()
        self.assertEqual(self.accepted(name), count)

    def test_off_and_on_serve_a_burst(self):
        for mode in ("off", "on"):
            with self.subTest(multi_accept=mode):
                self.start({"plain": "", "deferred": "deferred"},
                           events_extra=f"multi_accept {mode};")
                self.burst("plain")
                self.burst("deferred")
                self.proxy.stop()


if __name__ == "__main__":
    unittest.main()
