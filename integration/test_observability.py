"""Observability end to end: /metrics scraped from a separate server and parsed line by line as
Prometheus text after known traffic (PROXY v1/v2, X-Forwarded-For, a spoof attempt, an upstream
that refuses connections, a reload), access logs in combined and JSON formats, SIGUSR1 log
reopening after a rename, the realip_echo document, and the startup lines per listener."""
import json
import math
import os
import re
import signal
import unittest

import harness
from test_engine_backends import read_all
from test_engine_headers import TRUSTED, UNTRUSTED, EngineTestCase, connect
from test_engine_proxy_protocol import tlv, v2_header

FAMILIES = {
    "realip_http_requests_total": "counter",
    "realip_http_request_duration_seconds": "histogram",
    "realip_upstream_requests_total": "counter",
    "realip_upstream_response_seconds": "histogram",
    "realip_upstream_failures_total": "counter",
    "realip_upstream_peer_up": "gauge",
    "realip_connections_active": "gauge",
    "realip_connections_accepted_total": "counter",
    "realip_connections_rejected_total": "counter",
    "realip_connections_reused_total": "counter",
    "realip_client_ip_source_total": "counter",
    "realip_untrusted_forwarded_headers_total": "counter",
    "realip_proxy_protocol_errors_total": "counter",
    "realip_proxy_protocol_total": "counter",
    "realip_bytes_received_total": "counter",
    "realip_bytes_sent_total": "counter",
    "realip_config_reloads_total": "counter",
    "realip_build_info": "gauge",
}

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{((?:{_LABEL})(?:,{_LABEL})*)?,?\}})? (\S+)(?: -?\d+)?$")
_HELP = re.compile(rf"^# HELP ({_NAME}) .*$")
_TYPE = re.compile(rf"^# TYPE ({_NAME}) (counter|gauge|histogram|summary|untyped)$")


def parse_prometheus(text):
    """Parses text exposition format 0.0.4 strictly; every line must be a HELP, TYPE or
    sample line, and every sample must belong to a family whose TYPE came first.
    Returns ({family: type}, {(name, frozenset(labels.items())): value})."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    types, samples = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("#"):
            m = _TYPE.match(line)
            if m:
                assert m.group(1) not in types, f"second TYPE line for {m.group(1)}"
                types[m.group(1)] = m.group(2)
                continue
            assert _HELP.match(line), f"bad comment line: {line!r}"
            continue
        m = _SAMPLE.match(line)
        assert m, f"bad sample line: {line!r}"
        name, labels_text, value = m.groups()
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                 labels_text or ""))
        family = name
        if name not in types:
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert types.get(family) == "histogram", f"sample {name} before its TYPE line"
        if family in types and types[family] == "histogram" and name != family:
            assert name.endswith(("_bucket", "_sum", "_count")), line
        try:
            parsed = float(value)  # accepts +Inf and -Inf as Prometheus writes them
        except ValueError:
            raise AssertionError(f"bad value in {line!r}") from None
        assert not math.isnan(parsed), line
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = parsed
    return types, samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def total(samples, name):
    return sum(v for (n, _), v in samples.items() if n == name)


def raw_exchange(port, data, source=None):
    s = connect(port, source=source)
    s.sendall(data)
    reply = read_all(s)
    s.close()
    return reply


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return f.read().decode("utf-8").splitlines()


class ObservabilityTest(EngineTestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.start_echo()
        self.scrapes = 0

    def start_with_metrics(self, server_body, extra_servers="", http_extra="", **kwargs):
        return super().start_with_metrics(server_body, http_extra=f"{http_extra}\n{extra_servers}",
                                          **kwargs)

    def scrape(self):
        reply = harness.http_request(self.metrics_port,
                                     b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertIn(b"\r\nContent-Type: text/plain; version=0.0.4", head)
        self.scrapes += 1
        return parse_prometheus(body.decode("utf-8"))

    def test_metrics_after_known_traffic(self):
        xff_port = harness.free_port()
        refused_port = self.refused_port()
        refused_port2 = self.refused_port()
        self.start_with_metrics(f"""
            server_name a;
            set_real_ip_from 127.0.0.1;
            real_ip_header proxy_protocol;
            location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}""",
                                listen_flags="proxy_protocol", extra_servers=f"""
            upstream down {{
              server 127.0.0.1:{refused_port};
              server 127.0.0.1:{refused_port2};
            }}
            server {{
              listen 127.0.0.1:{xff_port};
              server_name b;
              set_real_ip_from {TRUSTED};
              real_ip_header X-Forwarded-For;
              location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}
              location /missing {{ return 404; }}
              location /down {{ proxy_pass http://down; }}
            }}""")
        harness.wait_for_port("127.0.0.1", xff_port, self.proxy.proc)
        get = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        for i in range(3):
            reply = raw_exchange(self.port, v2_header("203.0.113.%d" % (i + 1), "127.0.0.1",
                                                      4000 + i, 80) + get)
            self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:200])
        reply = raw_exchange(self.port, b"PROXY TCP4 203.0.113.9 127.0.0.1 5000 80\r\n" + get)
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:200])
        # A broken PROXY header: the connection is closed without an answer.
        self.assertEqual(raw_exchange(self.port, b"PROXY TCP9 x\r\n" + get), b"")

        xff = b"GET / HTTP/1.1\r\nHost: b\r\nX-Forwarded-For: 198.51.100.1\r\nConnection: close\r\n\r\n"
        for _ in range(2):
            self.assertTrue(raw_exchange(xff_port, xff, source=TRUSTED).startswith(b"HTTP/1.1 200"))
        # The spoof attempt: an untrusted peer sends X-Forwarded-For.
        self.assertTrue(raw_exchange(xff_port, xff, source=UNTRUSTED).startswith(b"HTTP/1.1 200"))
        missing = b"GET /missing HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
        self.assertTrue(raw_exchange(xff_port, missing, source=TRUSTED).startswith(b"HTTP/1.1 404"))
        down = b"GET /down HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
        self.assertTrue(raw_exchange(xff_port, down, source=TRUSTED).startswith(b"HTTP/1.1 502"))

        # A request is counted when its response is done; the client may see the response a
        # moment before, so wait until the scrape shows all nine.
        def settled():
            types, samples = self.scrape()
            return (types, samples) if total(samples, "realip_http_requests_total") >= 9 else None
        types, samples = harness.wait_until(settled, "nine requests in realip_http_requests_total")

        for family, kind in FAMILIES.items():
            self.assertEqual(types.get(family), kind, family)
        echo_peer = f"127.0.0.1:{self.echo.port}"
        refused = [f"127.0.0.1:{refused_port}", f"127.0.0.1:{refused_port2}"]
        expect = [
            ("realip_client_ip_source_total", {"source": "proxy_protocol"}, 4),
            ("realip_client_ip_source_total", {"source": "x-forwarded-for"}, 2),
            # the spoof, /missing, /down and every scrape so far resolve to the peer
            ("realip_client_ip_source_total", {"source": "peer"}, 3 + self.scrapes),
            ("realip_untrusted_forwarded_headers_total", {"header": "x-forwarded-for"}, 1),
            ("realip_proxy_protocol_total", {"version": "2", "command": "PROXY"}, 3),
            ("realip_proxy_protocol_total", {"version": "1", "command": "PROXY"}, 1),
            ("realip_http_requests_total", {"server": "a", "code": "200"}, 4),
            ("realip_http_requests_total", {"server": "b", "code": "200"}, 3),
            ("realip_http_requests_total", {"server": "b", "code": "404"}, 1),
            ("realip_http_requests_total", {"server": "b", "code": "502"}, 1),
            ("realip_http_request_duration_seconds_count", {"server": "a"}, 4),
            ("realip_http_request_duration_seconds_bucket", {"server": "a", "le": "+Inf"}, 4),
            ("realip_upstream_requests_total",
             {"upstream": echo_peer, "peer": echo_peer, "code": "200"}, 7),
            ("realip_upstream_response_seconds_count", {"upstream": echo_peer}, 7),
            # Both peers of `down` refuse: each is tried once and marked down (max_fails=1).
            ("realip_upstream_failures_total",
             {"upstream": "down", "peer": refused[0], "reason": "connect"}, 1),
            ("realip_upstream_failures_total",
             {"upstream": "down", "peer": refused[1], "reason": "connect"}, 1),
            ("realip_upstream_peer_up", {"upstream": "down", "peer": refused[0]}, 0),
            ("realip_upstream_peer_up", {"upstream": "down", "peer": refused[1]}, 0),
            ("realip_upstream_peer_up", {"upstream": echo_peer, "peer": echo_peer}, 1),
            # + 1 each: the readiness probe of wait_for_port
            ("realip_connections_accepted_total", {"listener": f"127.0.0.1:{self.port}"}, 6),
            ("realip_connections_accepted_total", {"listener": f"127.0.0.1:{xff_port}"}, 6),
            ("realip_build_info", {"version": "0.1.0"}, 1),
        ]
        for name, labels, want in expect:
            self.assertEqual(value(samples, name, **labels), want, f"{name}{labels}")
        self.assertEqual(total(samples, "realip_proxy_protocol_errors_total"), 1)
        self.assertGreaterEqual(value(samples, "realip_connections_active"), 1)  # the scrape
        self.assertGreater(value(samples, "realip_bytes_received_total"), 9 * len(get))
        self.assertGreater(value(samples, "realip_bytes_sent_total"), 0)
        # Histograms: cumulative buckets, +Inf equal to the count.
        buckets = sorted((float(dict(labels)["le"]), v) for (n, labels), v in samples.items()
                         if n == "realip_upstream_response_seconds_bucket")
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets))
        # No label carries a client address.
        for (name, labels), _ in samples.items():
            for _, label_value in labels:
                self.assertNotIn("203.0.113.", label_value, name)
                self.assertNotIn("198.51.100.", label_value, name)

        # Reloads: one that works, one that does not.
        self.proxy.proc.send_signal(signal.SIGHUP)
        self.proxy.wait_for_line(r"reconfiguring from")
        config_path = os.path.join(self.workdir, "realip-proxy.conf")
        with open(config_path, "a") as f:
            f.write("\nbroken;\n")
        self.proxy.proc.send_signal(signal.SIGHUP)
        self.proxy.wait_for_line(r"reload failed")
        _, samples = self.scrape()
        self.assertEqual(value(samples, "realip_config_reloads_total", result="success"), 1)
        self.assertEqual(value(samples, "realip_config_reloads_total", result="failure"), 1)

    def test_metrics_collection_off_then_on_by_reload(self):
        # One worker: once a probe request is counted after the reload, every later one is.
        self.start_with_metrics(f"""
            server_name a;
            location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}""",
                                http_extra="metrics_collection off;", workers=1)
        get = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        for _ in range(3):
            self.assertTrue(self.request(get).startswith(b"HTTP/1.1 200"))
        types, samples = self.scrape()
        # Off: the families are all there, but no worker counted anything.
        for family, kind in FAMILIES.items():
            self.assertEqual(types.get(family), kind, family)
        for family in ("realip_http_requests_total", "realip_http_request_duration_seconds_count",
                       "realip_upstream_requests_total", "realip_client_ip_source_total",
                       "realip_connections_accepted_total", "realip_upstream_peer_up"):
            self.assertEqual(total(samples, family), 0, family)
        self.assertEqual(value(samples, "realip_bytes_sent_total"), 0)
        self.assertEqual(value(samples, "realip_build_info", version="0.1.0"), 1)
        # A level, not a count: kept right whatever the switch says (once the proxy has closed
        # the earlier connections, only the scrape's own is open).
        self.assertEqual(self.active_connections(), 1)

        self.proxy.reload([("metrics_collection off;", "metrics_collection on;")],
                          r"reconfiguring from")

        def counted():
            self.assertTrue(self.request(get).startswith(b"HTTP/1.1 200"))
            _, samples = self.scrape()
            return value(samples, "realip_http_requests_total", server="a", code="200")
        before = harness.wait_until(counted, "a request counted after metrics_collection on")
        for _ in range(3):
            self.assertTrue(self.request(get).startswith(b"HTTP/1.1 200"))
        want = before + 3

        def all_counted():
            _, samples = self.scrape()
            done = value(samples, "realip_http_requests_total", server="a", code="200") == want
            return samples if done else None
        samples = harness.wait_until(all_counted, f"{want} requests counted")
        self.assertEqual(value(samples, "realip_http_request_duration_seconds_count", server="a"),
                         want)
        echo_peer = f"127.0.0.1:{self.echo.port}"
        self.assertEqual(value(samples, "realip_upstream_requests_total", upstream=echo_peer,
                               peer=echo_peer, code="200"), want)
        self.assertEqual(value(samples, "realip_upstream_peer_up", upstream=echo_peer,
                               peer=echo_peer), 1)
        self.assertGreater(value(samples, "realip_bytes_sent_total"), 0)
        self.assertEqual(value(samples, "realip_config_reloads_total", result="success"), 1)
        # Connections opened while off and closed while on leave the level right.
        self.assertEqual(self.active_connections(), 1)

    def test_counts_survive_a_reload_that_renames_the_server(self):
        # Workers keep the series they count into by configuration object; a reload that
        # renames the server must count new connections under the new name, a connection still
        # on the old configuration under the old one, and lose nothing.
        self.start_with_metrics(f"""
            server_name a;
            location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}
            location /missing {{ return 404; }}""", workers=1)
        keep = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        get = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        old = connect(self.port)
        self.addCleanup(old.close)
        rest = b""
        for _ in range(3):
            old.sendall(keep)
            status, _, _, rest = harness.read_response(old, rest)
            self.assertEqual(status, 200)

        self.proxy.reload([("server_name a;", "server_name b;")], r"reconfiguring from")
        old.sendall(keep)
        status, _, _, rest = harness.read_response(old, rest)
        self.assertEqual(status, 200)
        proxied = 4
        # New connections use the new configuration once the worker has taken it.
        probes = []

        def renamed():
            probes.append(1)
            self.assertTrue(self.request(get).startswith(b"HTTP/1.1 200"))
            _, samples = self.scrape()
            return value(samples, "realip_http_requests_total", server="b", code="200")
        harness.wait_until(renamed, "a request counted under the new server name")
        proxied += len(probes)
        for _ in range(3):
            self.assertTrue(self.request(get).startswith(b"HTTP/1.1 200"))
        proxied += 3
        missing = b"GET /missing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        self.assertTrue(self.request(missing).startswith(b"HTTP/1.1 404"))
        old.sendall(keep)
        status, _, _, rest = harness.read_response(old, rest)
        self.assertEqual(status, 200)
        proxied += 1

        def settled():
            _, samples = self.scrape()
            a = value(samples, "realip_http_requests_total", server="a", code="200") or 0
            b = value(samples, "realip_http_requests_total", server="b", code="200") or 0
            return samples if a + b == proxied else None
        samples = harness.wait_until(settled, f"{proxied} proxied requests counted")
        a = value(samples, "realip_http_requests_total", server="a", code="200")
        b = value(samples, "realip_http_requests_total", server="b", code="200")
        self.assertGreaterEqual(a, 5)  # the old connection's five, and probes sent too early
        self.assertGreaterEqual(b, 4)
        self.assertEqual(value(samples, "realip_http_requests_total", server="b", code="404"), 1)
        self.assertIsNone(value(samples, "realip_http_requests_total", server="a", code="404"))
        self.assertEqual(value(samples, "realip_http_request_duration_seconds_count", server="a"),
                         a)
        self.assertEqual(value(samples, "realip_http_request_duration_seconds_count", server="b"),
                         b + 1)
        echo_peer = f"127.0.0.1:{self.echo.port}"
        self.assertEqual(value(samples, "realip_upstream_requests_total", upstream=echo_peer,
                               peer=echo_peer, code="200"), proxied)
        self.assertEqual(value(samples, "realip_upstream_response_seconds_count",
                               upstream=echo_peer), proxied)
        self.assertEqual(value(samples, "realip_client_ip_source_total", source="peer"),
                         proxied + 1 + self.scrapes)

    def active_connections(self):
        return harness.wait_until(lambda: value(self.scrape()[1], "realip_connections_active") == 1 and 1,
                          "realip_connections_active 1")

    def test_access_log_combined_and_json(self):
        combined = os.path.join(self.workdir, "combined.log")
        as_json = os.path.join(self.workdir, "json.log")
        self.start(f"""
            set_real_ip_from {TRUSTED};
            real_ip_header X-Forwarded-For;
            access_log {combined};
            access_log {as_json} json;
            location / {{ proxy_pass http://127.0.0.1:{self.echo.port}; }}
            location /r {{ return 204; }}""", http_extra="""
            log_format json escape=json '{"remote_addr":"$remote_addr",'
                '"realip_remote_addr":"$realip_remote_addr","realip_source":"$realip_source",'
                '"proxy_protocol_addr":"$proxy_protocol_addr","request":"$request",'
                '"status":"$status","body_bytes_sent":"$body_bytes_sent",'
                '"request_length":"$request_length","upstream_addr":"$upstream_addr",'
                '"upstream_status":"$upstream_status",'
                '"upstream_response_time":"$upstream_response_time",'
                '"request_time":"$request_time","time_iso8601":"$time_iso8601",'
                '"request_id":"$request_id","connection":"$connection",'
                '"connection_requests":"$connection_requests","ua":"$http_user_agent"}';""",
                   workers=1)  # one buffer: lines in request order
        spoofed = (b"GET /x?q=1 HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.7\r\n"
                   b"User-Agent: a\"b\\c \xc3\xa9\r\nConnection: close\r\n\r\n")
        self.request(spoofed, source=TRUSTED)
        self.request(spoofed, source=UNTRUSTED)
        self.request(b"GET /r HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", source=TRUSTED)

        lines = harness.wait_until(lambda: len(read_lines(combined)) >= 3 and read_lines(combined),
                           "three combined lines")
        combined_re = re.compile(
            r'^(\S+) - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "([^"]*)" (\d{3}) '
            r'(\d+) "([^"]*)" "([^"]*)"$')
        parsed = [combined_re.match(line) for line in lines]
        self.assertTrue(all(parsed), lines)
        self.assertEqual([m.group(1) for m in parsed], ["203.0.113.7", UNTRUSTED, TRUSTED])
        self.assertEqual(parsed[0].group(2), "GET /x?q=1 HTTP/1.1")
        self.assertEqual([m.group(3) for m in parsed], ["200", "200", "204"])
        self.assertEqual(parsed[0].group(5), "-")  # no Referer
        self.assertEqual(parsed[0].group(6), "a\\x22b\\x5Cc \\xC3\\xA9")
        self.assertEqual(parsed[2].group(4), "0")

        docs = [json.loads(line) for line in
                harness.wait_until(lambda: len(read_lines(as_json)) >= 3 and read_lines(as_json),
                           "three JSON lines")]
        first, spoof, local = docs
        self.assertEqual(first["remote_addr"], "203.0.113.7")
        self.assertEqual(first["realip_remote_addr"], TRUSTED)
        self.assertEqual(first["realip_source"], "X-Forwarded-For")
        self.assertEqual(first["proxy_protocol_addr"], "")
        self.assertEqual(first["request"], "GET /x?q=1 HTTP/1.1")
        self.assertEqual(first["status"], "200")
        self.assertEqual(first["ua"], 'a"b\\c \u00e9')
        self.assertEqual(first["request_length"], str(len(spoofed)))
        self.assertEqual(first["upstream_addr"], f"127.0.0.1:{self.echo.port}")
        self.assertEqual(first["upstream_status"], "200")
        self.assertRegex(first["upstream_response_time"], r"^\d+\.\d{3}$")
        self.assertRegex(first["request_time"], r"^\d+\.\d{3}$")
        self.assertRegex(first["time_iso8601"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
        self.assertRegex(first["request_id"], r"^[0-9a-f]{32}$")
        self.assertNotEqual(first["request_id"], spoof["request_id"])
        self.assertEqual(first["connection_requests"], "1")
        self.assertGreater(int(first["body_bytes_sent"]), 0)
        self.assertEqual(spoof["remote_addr"], UNTRUSTED)
        self.assertEqual(spoof["realip_remote_addr"], UNTRUSTED)
        self.assertEqual(spoof["realip_source"], "peer")
        self.assertEqual(local["status"], "204")
        self.assertEqual(local["upstream_addr"], "")
        self.assertEqual(local["upstream_response_time"], "")

    def test_sigusr1_reopens_a_renamed_log(self):
        log = os.path.join(self.workdir, "access.log")
        self.start(f"""
            access_log {log} main;
            location / {{ return 200 "ok\\n"; }}""",
                   http_extra="log_format main '$request_uri';")
        self.request(b"GET /before HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        harness.wait_until(lambda: read_lines(log) == ["/before"], "the first line")
        os.rename(log, log + ".1")
        self.proxy.proc.send_signal(signal.SIGUSR1)
        harness.wait_until(lambda: os.path.exists(log), "the reopened log file")
        self.request(b"GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        harness.wait_until(lambda: read_lines(log) == ["/after"], "the line in the new file")
        self.assertEqual(read_lines(log + ".1"), ["/before"])

    def test_buffered_lines_are_written_at_shutdown(self):
        log = os.path.join(self.workdir, "access.log")
        self.start(f"""
            access_log {log} main buffer=1m flush=1h;
            location / {{ return 200 "ok\\n"; }}""",
                   http_extra="log_format main '$request_uri $status';")
        for i in range(3):
            self.request(b"GET /%d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % i)
        self.assertEqual(self.proxy.stop(signal.SIGTERM, timeout=30), 0)
        # Two workers: each writes its own buffer, so only the set of lines is fixed.
        self.assertEqual(sorted(read_lines(log)), ["/0 200", "/1 200", "/2 200"])

    def test_realip_echo_for_trusted_proxy_v2_and_xff(self):
        self.start("""
            set_real_ip_from 127.0.0.1;
            set_real_ip_from 10.0.0.0/8;
            real_ip_header proxy_protocol X-Forwarded-For;
            real_ip_recursive on;
            location = /whoami { realip_echo; }""", listen_flags="proxy_protocol")
        tlvs = tlv(0x05, b"req-42") + tlv(0x02, b"lb.example") + tlv(0xE0, b"\x00" * 7 + b"\x09")
        reply = raw_exchange(self.port, v2_header("10.1.2.3", "10.9.9.9", 40000, 443, tlvs) +
                             b"GET /whoami HTTP/1.1\r\nHost: a\r\n"
                             b"X-Forwarded-For: 198.51.100.9, 10.0.0.5\r\n"
                             b"Connection: close\r\n\r\n")
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertIn(b"\r\nContent-Type: application/json", head)
        doc = json.loads(body)
        self.assertEqual(doc["client"], {"address": "198.51.100.9", "port": None})
        self.assertEqual(doc["source"], "X-Forwarded-For")
        self.assertEqual(doc["tcp_peer"]["address"], "127.0.0.1")
        pp = doc["proxy_protocol"]
        self.assertEqual((pp["version"], pp["command"], pp["local"]), (2, "PROXY", False))
        self.assertEqual(pp["source"], {"address": "10.1.2.3", "port": 40000})
        self.assertEqual(pp["destination"], {"address": "10.9.9.9", "port": 443})
        by_name = {t["name"]: t for t in pp["tlvs"]}
        self.assertEqual(by_name["unique_id"]["value"], "req-42")
        self.assertEqual(by_name["unique_id"]["type"], "0x05")
        self.assertEqual(by_name["authority"]["value"], "lb.example")
        self.assertEqual(by_name["gcp_conn_id"]["value"], "9")
        self.assertIsNone(pp["ssl"])
        self.assertEqual(doc["forwarded_headers"], [{
            "name": "X-Forwarded-For",
            "value": "198.51.100.9, 10.0.0.5",
            "hops": [
                {"entry": "198.51.100.9", "address": "198.51.100.9", "trusted": False},
                {"entry": "10.0.0.5", "address": "10.0.0.5", "trusted": True},
            ],
        }])
        # The PROXY source, then the two XFF entries stepped onto.
        self.assertEqual(doc["trusted_hops"], 3)
        self.assertEqual(doc["untrusted_headers"], [])
        self.assertEqual(doc["realip_x_forwarded_for"], "198.51.100.9, 10.0.0.5, 10.1.2.3")
        self.assertEqual(doc["trust"]["trusted_networks"], 2)
        self.assertTrue(doc["trust"]["tcp_peer_trusted"])
        self.assertEqual(doc["trust"]["real_ip_header"], ["proxy_protocol", "X-Forwarded-For"])
        self.assertEqual(doc["scheme"], "http")
        self.assertEqual(doc["tls"]["listener_ssl"], False)
        # The startup line of this listener, at notice level.
        self.proxy.wait_for_line(
            rf"\[notice\] .*listening on 127\.0\.0\.1:{self.port} \(proxy_protocol\), "
            r'default server "_", 2 trusted networks, real_ip_header proxy_protocol X-Forwarded-For')

    def test_realip_echo_for_a_spoof_attempt(self):
        self.start(f"""
            set_real_ip_from {TRUSTED};
            real_ip_header X-Forwarded-For;
            location = /whoami {{ realip_echo; }}""")
        reply = self.request(b"GET /whoami HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\n"
                             b"X-Real-IP: 2.2.2.2\r\nConnection: close\r\n\r\n", source=UNTRUSTED)
        doc = json.loads(reply.partition(b"\r\n\r\n")[2])
        self.assertEqual(doc["client"]["address"], UNTRUSTED)
        self.assertEqual(doc["source"], "peer")
        self.assertIsNone(doc["proxy_protocol"])
        self.assertFalse(doc["trust"]["tcp_peer_trusted"])
        self.assertEqual(doc["trusted_hops"], 0)
        self.assertEqual(sorted(doc["untrusted_headers"]), ["x-forwarded-for", "x-real-ip"])
        self.assertEqual([h["name"] for h in doc["forwarded_headers"]],
                         ["X-Forwarded-For", "X-Real-IP"])
        self.assertEqual(doc["forwarded_headers"][0]["hops"],
                         [{"entry": "1.1.1.1", "address": "1.1.1.1", "trusted": False}])
        self.assertEqual(doc["realip_x_forwarded_for"], UNTRUSTED)


class PrometheusParserSelfTest(unittest.TestCase):
    def test_rejects_malformed_lines(self):
        for text in ["x 1 2 3\n", "# TYPE x counter\nx{a=b} 1\n", "# TYPE x counter\nx one\n",
                     "x 1\n", "# TYPE x counter\nx 1"]:
            with self.assertRaises(AssertionError, msg=text):
                parse_prometheus(text)

    def test_accepts_a_histogram(self):
        types, samples = parse_prometheus(
            '# HELP h d\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 0.5\nh_count 2\n')
        self.assertEqual(types, {"h": "histogram"})
        self.assertEqual(value(samples, "h_bucket", le="+Inf"), 2)


if __name__ == "__main__":
    unittest.main()
