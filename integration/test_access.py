"""allow/deny, geo, limit_req and limit_conn end to end: they act on the client address after
real-IP resolution (a trusted X-Forwarded-For peer or PROXY v2 source), never on a header an
untrusted peer made up."""
import os
import re
import socket
import threading
import time
import unittest

import harness
from test_engine_backends import read_request
from test_engine_headers import TRUSTED, UNTRUSTED, EngineTestCase, connect
from test_engine_proxy_protocol import v2_header

OTHER = "127.0.0.4"


def get(path="/", xff=None, extra=""):
    lines = f"GET {path} HTTP/1.1\r\nHost: a\r\n"
    if xff:
        lines += f"X-Forwarded-For: {xff}\r\n"
    return (lines + extra + "Connection: close\r\n\r\n").encode()


def status_of(reply):
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else None


class AccessTestCase(EngineTestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.start_echo()
        self.log = os.path.join(self.workdir, "access.log")

    def start_access(self, location_body, http_extra="", server_extra="", listen_flags=""):
        self.start(f"""
            set_real_ip_from {TRUSTED};
            real_ip_header X-Forwarded-For;
            access_log {self.log} acc buffer=0;  # each line at once, in request order
            {server_extra}
            location / {{
              {location_body}
              proxy_pass http://127.0.0.1:{self.echo.port};
            }}""", http_extra=self.http_block(http_extra), listen_flags=listen_flags)

    @staticmethod
    def http_block(extra):
        # geo defines its variable before the log format that uses it is compiled.
        default_geo = "" if "geo $geo_region" in extra else "geo $geo_region { default unknown; }\n"
        return (default_geo + extra +
                "log_format acc '$remote_addr $geo_region [$limit_req_status] $status';\n")

    def status(self, raw, source=None):
        return status_of(self.request(raw, source=source))

    def log_lines(self, count):
        """The access log once it holds `count` lines (lines are written after responses)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if os.path.exists(self.log):
                with open(self.log) as f:
                    lines = f.read().splitlines()
                if len(lines) >= count:
                    return lines
            time.sleep(0.05)
        self.fail(f"access log did not reach {count} lines")


class AllowDenyTest(AccessTestCase):
    def test_spoofed_forwarded_for_from_untrusted_peer_does_not_pass_deny(self):
        self.start_access(f"deny {UNTRUSTED}; deny 203.0.113.0/24; allow all;")
        # The untrusted peer is the client whatever it claims.
        self.assertEqual(self.status(get(xff="198.51.100.1"), source=UNTRUSTED), 403)
        self.assertEqual(self.status(get(xff=f"198.51.100.1, {TRUSTED}"), source=UNTRUSTED), 403)
        # A trusted peer vouches for the address that allow/deny then see.
        self.assertEqual(self.status(get(xff="198.51.100.1"), source=TRUSTED), 200)
        self.assertEqual(self.status(get(xff="203.0.113.9"), source=TRUSTED), 403)
        self.assertEqual(self.status(get(), source=OTHER), 200)
        lines = self.log_lines(5)
        self.assertEqual(lines[0].split()[0], UNTRUSTED)
        self.assertTrue(lines[0].endswith(" 403"), lines[0])
        self.assertEqual(lines[3].split()[0], "203.0.113.9")

    def test_location_rules_replace_the_server_list_and_inherit_when_absent(self):
        self.start(f"""
            deny {UNTRUSTED};
            location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}
            location /own/ {{ allow {UNTRUSTED}; deny all;
                              proxy_pass http://127.0.0.1:{self.echo.port}; }}""")
        self.assertEqual(self.status(get("/x"), source=UNTRUSTED), 403)
        self.assertEqual(self.status(get("/x"), source=OTHER), 200)
        self.assertEqual(self.status(get("/own/x"), source=UNTRUSTED), 200)
        self.assertEqual(self.status(get("/own/x"), source=OTHER), 403)

    def test_denied_request_with_body_keeps_the_connection(self):
        self.start_access(f"deny {UNTRUSTED};")
        s = connect(self.port, source=UNTRUSTED)
        s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                  b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        rest = b""
        for _ in range(2):
            status, _, _, rest = harness.read_response(s, rest)
            self.assertEqual(status, 403)
        s.close()


class ProxyProtocolAccessTest(AccessTestCase):
    def test_trusted_proxy_v2_source_is_what_allow_deny_see(self):
        self.start(f"""
            set_real_ip_from 127.0.0.1;
            real_ip_header proxy_protocol;
            location / {{
              allow 198.51.100.0/24;
              deny all;
              proxy_pass http://127.0.0.1:{self.echo.port};
            }}""", listen_flags="proxy_protocol")
        ok = v2_header("198.51.100.9", "127.0.0.1", 40000, 80) + get(xff="203.0.113.1")
        self.assertEqual(self.status(ok), 200)
        # A forwarded header behind the PROXY header does not change the client.
        bad = v2_header("203.0.113.9", "127.0.0.1", 40000, 80) + get(xff="198.51.100.9")
        self.assertEqual(self.status(bad), 403)


class LimitReqTest(AccessTestCase):
    ZONE = "limit_req_zone $binary_remote_addr zone=perip:1m rate=10r/s;\n"

    def burst(self, count, source, path="/", xff=None):
        """`count` pipelined requests on one connection; their statuses and the seconds the
        burst took from the first byte sent to the last response read."""
        s = connect(self.port, source=source)
        raw = b""
        for i in range(count):
            lines = f"GET {path}?i={i} HTTP/1.1\r\nHost: a\r\n"
            if xff:
                lines += f"X-Forwarded-For: {xff}{i}\r\n"
            raw += (lines + "\r\n").encode()
        start = time.monotonic()
        s.sendall(raw)
        statuses, rest = [], b""
        for _ in range(count):
            status, _, _, rest = harness.read_response(s, rest)
            statuses.append(status)
        elapsed = time.monotonic() - start
        s.close()
        return statuses, elapsed

    def assert_burst(self, statuses, elapsed, passed=6, limited=429):
        # 10r/s: one more request may pass for every 100 ms the burst took; on an idle machine
        # the burst takes a few ms and exactly 1 + burst pass.
        extra = int(elapsed / 0.1) + (1 if elapsed >= 0.1 else 0)
        ok = statuses.count(200)
        self.assertGreaterEqual(ok, passed, statuses)
        self.assertLessEqual(ok, passed + extra, (statuses, elapsed))
        self.assertEqual(statuses[:passed], [200] * passed)
        self.assertEqual(ok + statuses.count(limited), len(statuses), statuses)

    def wait_until_admitted(self, source):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.status(get(), source=source) == 200:
                return
            time.sleep(0.05)
        self.fail("the bucket never drained")

    def test_burst_with_nodelay_admits_one_plus_burst_then_429(self):
        self.start_access("limit_req zone=perip burst=5 nodelay; limit_req_status 429;",
                          http_extra=self.ZONE)
        statuses, elapsed = self.burst(12, UNTRUSTED)
        self.assert_burst(statuses, elapsed)
        # Another client has its own bucket.
        self.assertEqual(self.status(get(), source=OTHER), 200)
        # The bucket drains at 10r/s: requests pass again.
        self.wait_until_admitted(UNTRUSTED)
        lines = self.log_lines(len(statuses) + 2)
        self.assertIn("[PASSED] 200", lines[0])
        self.assertTrue(any("[REJECTED] 429" in line for line in lines), lines)

    def test_spoofed_forwarded_for_does_not_reset_the_bucket(self):
        self.start_access("limit_req zone=perip burst=5 nodelay; limit_req_status 429;",
                          http_extra=self.ZONE)
        # Each request claims another address; the untrusted peer stays one client.
        statuses, elapsed = self.burst(12, UNTRUSTED, xff="198.51.100.")
        self.assert_burst(statuses, elapsed)
        # Through the trusted peer, the forwarded addresses are distinct clients.
        statuses, _ = self.burst(12, TRUSTED, xff="198.51.100.")
        self.assertEqual(statuses, [200] * 12)

    def test_default_status_is_503(self):
        self.start_access("limit_req zone=perip burst=5 nodelay;", http_extra=self.ZONE)
        statuses, elapsed = self.burst(12, UNTRUSTED)
        self.assert_burst(statuses, elapsed, limited=503)

    def test_delayed_requests_wait_and_then_reach_the_backend_with_their_body(self):
        self.start_access("limit_req zone=perip burst=5;", http_extra=self.ZONE)
        s = connect(self.port, source=UNTRUSTED)
        raw = b""
        for i in range(4):
            body = f"body-{i}".encode()
            raw += (f"POST /d{i} HTTP/1.1\r\nHost: a\r\nContent-Length: {len(body)}\r\n\r\n"
                    .encode() + body)
        s.sendall(raw)
        rest = b""
        for i in range(4):
            status, _, body, rest = harness.read_response(s, rest)
            self.assertEqual(status, 200)
            doc = harness.echo_json(body)
            self.assertEqual((doc["uri"], doc["body_bytes"]), (f"/d{i}", 6))
        s.close()
        lines = self.log_lines(4)
        self.assertIn("[PASSED]", lines[0])
        self.assertTrue(all("[DELAYED] 200" in line for line in lines[1:4]), lines)

    def test_dry_run_lets_requests_through_and_logs_the_verdict(self):
        self.start_access(
            "limit_req zone=perip; limit_req_dry_run on; limit_req_status 429;",
            http_extra="limit_req_zone $binary_remote_addr zone=perip:1m rate=1r/m;\n")
        statuses, _ = self.burst(4, UNTRUSTED)
        self.assertEqual(statuses, [200] * 4)
        lines = self.log_lines(4)
        self.assertIn("[PASSED] 200", lines[0])
        self.assertEqual(sum("[REJECTED_DRY_RUN] 200" in line for line in lines), 3, lines)


class ZoneReloadTest(AccessTestCase):
    """A reload keeps a zone's state when its name, key and size stay; one that changes the key
    of a zone that keeps its name and size is refused, as nginx refuses it."""
    burst = LimitReqTest.burst
    ZONES = ("limit_req_zone $binary_remote_addr zone=perip:1m rate=1r/m;\n"
             "limit_conn_zone $binary_remote_addr zone=addr:1m;\n")

    def setUp(self):
        super().setUp()
        # 1r/m: the bucket does not drain noticeably while the test runs.
        self.start_access("limit_req zone=perip burst=2 nodelay; limit_req_status 429;"
                          " limit_conn addr 10;", http_extra=self.ZONES)
        statuses, _ = self.burst(4, UNTRUSTED)
        self.assertEqual(statuses, [200, 200, 200, 429])

    def test_a_new_key_is_refused_and_the_zone_keeps_limiting(self):
        self.proxy.reload([("$binary_remote_addr zone=perip", "$realip_remote_addr zone=perip"),
                           ("limit_req_status 429", "limit_req_status 503")],
                          re.escape('reload failed, keeping the running configuration: '
                                    'limit_req "perip" uses the "$realip_remote_addr" key '
                                    'while previously it used the "$binary_remote_addr" key '
                                    'in '))
        # Still the old configuration (429), and the burst already used stays used.
        self.assertEqual(self.status(get(), source=UNTRUSTED), 429)
        self.assertEqual(self.status(get(), source=OTHER), 200)
        # The same for limit_conn_zone (the limit_req key back as it was).
        self.proxy.reload([("$realip_remote_addr zone=perip", "$binary_remote_addr zone=perip"),
                           ("$binary_remote_addr zone=addr", "$remote_addr zone=addr")],
                          re.escape('limit_conn_zone "addr" uses the "$remote_addr" key while '
                                    'previously it used the "$binary_remote_addr" key in '))
        self.assertEqual(self.status(get(), source=UNTRUSTED), 429)

    def test_the_same_key_keeps_the_state(self):
        self.proxy.reload([("limit_req_status 429", "limit_req_status 503")], r"reconfiguring")
        # Workers take the new configuration on their next loop iteration: wait for its 503.
        # Until then the old one answers 429; the bucket never lets the client through.
        deadline = time.monotonic() + 20
        while True:
            status = self.status(get(), source=UNTRUSTED)
            self.assertIn(status, (429, 503))
            if status == 503:
                break
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        self.assertEqual(self.status(get(), source=OTHER), 200)


class ZoneRateReloadTest(AccessTestCase):
    """A reload that changes only a limit_req_zone's rate keeps its states, as nginx does; the
    new rate applies from then on. A resized zone starts empty."""
    ZONE = "limit_req_zone $binary_remote_addr zone=perip:1m rate=1r/m;\n"

    def status_once_reloaded(self, want, meanwhile):
        """Requests until one is answered `want` (workers take the new configuration on their
        next loop iteration); until then each answer must be one of `meanwhile`."""
        deadline = time.monotonic() + 20
        while True:
            status = self.status(get(), source=UNTRUSTED)
            if status == want:
                return
            self.assertIn(status, meanwhile)
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)

    def test_a_new_rate_keeps_the_state_and_a_new_size_does_not(self):
        self.start_access("limit_req zone=perip;", http_extra=self.ZONE)
        self.assertEqual(self.status(get(), source=UNTRUSTED), 200)
        self.assertEqual(self.status(get(), source=UNTRUSTED), 503)
        # 2r/m drains the first request's 1000 units in 30 s, far longer than this test: the
        # bucket kept over the reload still refuses. An emptied zone would answer 200. The new
        # status tells the new configuration's answers from the old one's.
        self.proxy.reload([("rate=1r/m", "rate=2r/m"),
                           ("limit_req zone=perip;",
                            "limit_req zone=perip; limit_req_status 429;")], r"reconfiguring")
        self.status_once_reloaded(429, (503,))
        self.assertEqual(self.status(get(), source=OTHER), 200)
        # Another size is another zone (nginx: another shared memory zone): it starts empty.
        self.proxy.reload([("zone=perip:1m", "zone=perip:2m"),
                           ("limit_req_status 429;", "limit_req_status 503;")], r"reconfiguring")
        # Meanwhile a worker that has not taken a configuration yet answers from an older one:
        # 429 from the first reload's, 503 from the start's.
        self.status_once_reloaded(200, (429, 503))
        # The worker that answered 200 has the new zone; another may answer from the old
        # configuration (429) until its loop takes the new one.
        self.status_once_reloaded(503, (429,))


class LimitConnTest(AccessTestCase):
    def test_the_n_plus_first_concurrent_request_is_refused(self):
        release = threading.Event()
        held = []
        lock = threading.Lock()

        def handler(sock, backend):
            req = read_request(sock)
            if req is None:
                return
            if req[1].startswith("/slow"):
                with lock:
                    held.append(req[1])
                release.wait(60)
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

        backend = self.scripted(handler)
        self.start(f"""
            limit_conn addr 2;
            limit_conn_status 429;
            location / {{ proxy_pass http://127.0.0.1:{backend.port}; }}
            location /dry/ {{ limit_conn_dry_run on;
                              proxy_pass http://127.0.0.1:{backend.port}; }}""",
                   http_extra="limit_conn_zone $binary_remote_addr zone=addr:1m;")
        slow = [connect(self.port, source=UNTRUSTED) for _ in range(2)]
        for i, s in enumerate(slow):
            s.sendall(f"GET /slow{i} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        deadline = time.monotonic() + 30
        while len(held) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(len(held), 2)
        self.assertEqual(self.status(get("/fast"), source=UNTRUSTED), 429)
        self.assertEqual(self.status(get("/fast", xff="198.51.100.1"), source=UNTRUSTED), 429)
        self.assertEqual(self.status(get("/fast"), source=OTHER), 200)
        self.assertEqual(self.status(get("/dry/fast"), source=UNTRUSTED), 200)
        release.set()
        for s in slow:
            status, _, body, _ = harness.read_response(s)
            self.assertEqual((status, body), (200, b"ok"))
            s.close()
        # The slots were returned when the responses finished.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.status(get("/fast"), source=UNTRUSTED) == 200:
                break
            time.sleep(0.05)
        else:
            self.fail("limit_conn slots were not released")


class GeoTest(AccessTestCase):
    def test_geo_values_reach_the_backend_and_the_access_log(self):
        include = os.path.join(self.workdir, "regions.conf")
        with open(include, "w") as f:
            f.write("# generated\n192.0.2.0/24 doc-net;\n2001:db8::/32 doc6;\n")
        geo = (f"geo $geo_region {{\n default unknown;\n 127.0.0.0/8 loopback;\n"
               f" {UNTRUSTED} eu-test;\n include {include};\n}}\n"
               f"geo $http_x_test_addr $geo_by_header {{ default none; 10.0.0.0/8 ten; }}\n")
        self.start_access("proxy_set_header X-Client-Region $geo_region;\n"
                          "proxy_set_header X-By-Header $geo_by_header;", http_extra=geo)
        cases = [
            (UNTRUSTED, "192.0.2.7", "eu-test"),   # a spoofed header is not the client
            (TRUSTED, "192.0.2.7", "doc-net"),     # the trusted peer's forwarded address
            (TRUSTED, "2001:db8::1", "doc6"),
            (TRUSTED, "198.51.100.1", "unknown"),
            (OTHER, None, "loopback"),
        ]
        for source, xff, region in cases:
            doc = self.backend_doc(get(xff=xff, extra="X-Test-Addr: 10.9.8.7\r\n"),
                                   source=source)
            self.assertEqual(doc["headers"]["x-client-region"], region, (source, xff))
            self.assertEqual(doc["headers"]["x-by-header"], "ten")
        lines = self.log_lines(len(cases))
        self.assertEqual([line.split()[1] for line in lines], [c[2] for c in cases])
        self.assertEqual(lines[1].split()[0], "192.0.2.7")

    def test_geo_value_as_rate_limit_key(self):
        geo = ("geo $limited { default \"\"; " + UNTRUSTED + " untrusted-net; }\n"
               "limit_req_zone $limited zone=bynet:1m rate=1r/m;\n")
        self.start_access("limit_req zone=bynet; limit_req_status 429;", http_extra=geo)
        self.assertEqual(self.status(get(), source=UNTRUSTED), 200)
        self.assertEqual(self.status(get(), source=UNTRUSTED), 429)
        # An empty key is never limited.
        for _ in range(3):
            self.assertEqual(self.status(get(), source=OTHER), 200)


class ConfigCheckTest(harness.TestCase):
    def check(self, text):
        path = self.write_config(text)
        return self.run_proxy("-t", "-c", path)

    def test_unknown_zone_and_bad_status_fail_the_check(self):
        r = self.check("http { server { location / { limit_req zone=nope; } } }\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('unknown limit_req_zone "nope"', r.stderr)
        r = self.check("http { limit_req_status 200; }\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("value must be between 400 and 599", r.stderr)
        r = self.check("http { geo $g { 10.0.0.300/8 x; } }\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('invalid network "10.0.0.300/8"', r.stderr)


if __name__ == "__main__":
    unittest.main()
