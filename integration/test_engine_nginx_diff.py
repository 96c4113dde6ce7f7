"""Differential test: the same nginx configuration text, given to Debian's nginx and to
realip-proxy, must make the backend see the same X-Real-IP for the same inputs.

Cases are generated from a fixed seed over trust sets, real_ip_header, real_ip_recursive,
client source addresses and X-Forwarded-For / X-Real-IP values. Inputs where nginx is
deliberately not followed are left out (see docs/engine.md): lax IPv4 forms such as
"01.1.1.1" or "1..1.1", which nginx's ngx_inet_addr accepts and our strict parser rejects, and
IPv4-mapped IPv6 entries ("::ffff:10.0.0.9"), which nginx prints as sent and our address type
prints as IPv4 ("10.0.0.9").
"""
import random
import shutil
import socket
import unittest

import harness

SOURCES = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
ENTRIES = ["203.0.113.7", "198.51.100.1", "10.1.2.3", "10.9.9.9", "127.0.0.2", "127.0.0.3",
           "2001:db8::1", "1.1.1.1:8080", "[2001:db8::2]:443", "bogus", "unknown", "",
           "2001:DB8::a:1", "192.0.2.1"]
CONFIGS = [
    ("X-Forwarded-For", "off", ["127.0.0.2"]),
    ("X-Forwarded-For", "on", ["127.0.0.2", "10.0.0.0/8"]),
    ("X-Real-IP", "off", ["127.0.0.0/29"]),
    ("X-Forwarded-For", "on", ["127.0.0.0/8", "10.1.2.3"]),
]


def config_text(port, echo_port, header, recursive, trusted):
    trust = "\n".join(f"    set_real_ip_from {t};" for t in trusted)
    return f"""worker_processes 1;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  server {{
    listen 127.0.0.1:{port};
{trust}
    real_ip_header {header};
    real_ip_recursive {recursive};
    location / {{
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header Connection close;
      proxy_pass http://127.0.0.1:{echo_port};
    }}
  }}
}}
"""


def generate_requests(rng, count):
    cases = []
    for _ in range(count):
        source = rng.choice(SOURCES)
        lines = []
        for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
            n = rng.randint(1, 4)
            sep = rng.choice([", ", ",", " "])
            lines.append(("X-Forwarded-For", sep.join(rng.choice(ENTRIES) for _ in range(n))))
        if rng.random() < 0.4:
            lines.append(("X-Real-IP", rng.choice(ENTRIES)))
        cases.append((source, [(k, v.strip()) for k, v in lines]))
    return cases


@unittest.skipUnless(shutil.which("nginx"), "nginx not installed")
class NginxDifferentialTest(harness.TestCase):
    def seen_x_real_ip(self, port, source, lines):
        head = "".join(f"{k}: {v}\r\n" for k, v in lines)
        raw = f"GET / HTTP/1.1\r\nHost: diff.test\r\n{head}Connection: close\r\n\r\n".encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10,
                                      source_address=(source, 0)) as s:
            s.sendall(raw)
            status, _, body, _ = harness.read_response(s)
        if status != 200:
            return f"status {status}"
        return harness.echo_json(body)["headers"].get("x-real-ip")

    def test_same_config_same_x_real_ip(self):
        echo = self.start_echo()
        rng = random.Random(20261126)
        mismatches = []
        total = 0
        for header, recursive, trusted in CONFIGS:
            port = harness.free_port()
            text = config_text(port, echo.port, header, recursive, trusted)
            cases = generate_requests(rng, 100)

            nginx = self.run_nginx(text)
            harness.wait_for_port("127.0.0.1", port, nginx.proc)
            want = [self.seen_x_real_ip(port, s, lines) for s, lines in cases]
            nginx.stop()

            proxy = self.start_proxy(text, wait=(("127.0.0.1", port),))
            got = [self.seen_x_real_ip(port, s, lines) for s, lines in cases]
            proxy.stop()

            for (source, lines), w, g in zip(cases, want, got):
                total += 1
                if w != g:
                    mismatches.append(f"{header} recursive={recursive} trusted={trusted} "
                                      f"from {source} {lines}: nginx {w!r}, ours {g!r}")
        self.assertEqual(total, 4 * 100)
        self.assertEqual(mismatches, [], "\n".join(mismatches))

    def test_invalid_header_names_dropped_as_nginx(self):
        """ignore_invalid_headers / underscores_in_headers: the same header lines reach the
        backend, and the same X-Real-IP comes out, from nginx and from us."""
        echo = self.start_echo()
        lines = [("X_Forwarded_For", "6.6.6.6"), ("X-Real_IP", "7.7.7.7"),
                 ("X.Forwarded-For", "8.8.8.8"), ("X-Forwarded-For", "203.0.113.7"),
                 ("X_Custom", "a"), ("X-Custom-2", "b")]
        head = "".join(f"{k}: {v}\r\n" for k, v in lines)
        raw = f"GET / HTTP/1.1\r\nHost: diff.test\r\n{head}Connection: close\r\n\r\n".encode()
        for settings in ("", "underscores_in_headers on;", "ignore_invalid_headers off;",
                         "ignore_invalid_headers off; underscores_in_headers on;"):
            with self.subTest(settings=settings):
                port = harness.free_port()
                text = config_text(port, echo.port, "X-Forwarded-For", "on", ["127.0.0.0/8"])
                text = text.replace("    real_ip_header", f"    {settings}\n    real_ip_header")
                seen = []
                for start in (self.run_nginx, self.start_proxy):
                    p = start(text)
                    harness.wait_for_port("127.0.0.1", port, p.proc)
                    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                        c.sendall(raw)
                        status, _, body, _ = harness.read_response(c)
                    self.assertEqual(status, 200)
                    doc = harness.echo_json(body)
                    # Which names arrive; not their order, nor our own X-Forwarded-Proto
                    # (realip-proxy's default proxy_set_header lines come first).
                    names = sorted({k.lower() for k, _ in doc["header_list"]} -
                                   {"host", "connection", "x-forwarded-proto"})
                    seen.append((names, doc["headers"].get("x-real-ip")))
                    p.stop()
                self.assertEqual(seen[1], seen[0])
                if not settings:
                    self.assertEqual(seen[1], (["x-custom-2", "x-forwarded-for", "x-real-ip"],
                                               "203.0.113.7"))


if __name__ == "__main__":
    unittest.main()
