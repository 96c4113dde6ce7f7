"""map blocks end to end: the usual WebSocket snippet, a header mapped for the backend, hostnames
masks on $host, values with variables, a map as a limit_req key and in a log line, cycles, and
the same acceptance and refusals as Debian's nginx."""
import os
import socket
import unittest

import harness
from test_engine_backends import read_all, read_head
from test_engine_headers import EngineTestCase, connect
from test_engine_streaming import WEBSOCKET_UPGRADE, websocket_echo

WEBSOCKET_MAP = """
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
"""

MAPS = """
    map $http_x_tenant $tenant {
        default   "$scheme-$host";
        acme      acme-id;
        include   tenants.map;
    }
    map $host $site {
        hostnames;
        default          none;
        example.com      exact;
        *.example.com    wild;
        *.a.example.com  wild-a;
        www.example.*    tail;
    }
    map $tenant $tier {
        acme-id  gold;
        default  "tier-$site";
    }
"""


class MapTest(EngineTestCase):
    def setUp(self):
        super().setUp()
        with open(os.path.join(self.workdir, "tenants.map"), "w") as f:
            f.write("beta beta-id;\n")

    def test_websocket_snippet_loads_and_the_upgrade_reaches_the_backend(self):
        backend = self.scripted(websocket_echo)
        self.start(f"""
            location / {{
              proxy_http_version 1.1;
              proxy_set_header Upgrade $http_upgrade;
              proxy_set_header Connection $connection_upgrade;
              proxy_pass http://127.0.0.1:{backend.port};
            }}""", http_extra=WEBSOCKET_MAP)
        s = connect(self.port)
        s.sendall(WEBSOCKET_UPGRADE)
        head, rest = read_head(s)
        self.assertTrue(head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), head)
        seen = {k.lower(): v for k, v in backend.requests[0]}
        self.assertEqual(seen["upgrade"], "websocket")
        self.assertEqual(seen["connection"].lower(), "upgrade")
        s.sendall(b"\x81\x05hello")
        echoed = rest
        while len(echoed) < 7:
            echoed += s.recv(65536)
        self.assertEqual(echoed, b"\x81\x05hello")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(read_all(s), b"")
        s.close()

    def start_maps(self, extra_location=""):
        self.echo = self.start_echo()
        self.start(f"""
            location / {{
              proxy_set_header X-Tenant $tenant;
              proxy_set_header X-Site $site;
              proxy_set_header X-Tier $tier;
              {extra_location}
              proxy_pass http://127.0.0.1:{self.echo.port};
            }}""", http_extra=MAPS)

    def sent(self, host, tenant=None):
        """The X-Tenant, X-Site and X-Tier lines the echo backend received."""
        extra = f"X-Tenant: {tenant}\r\n" if tenant is not None else ""
        doc = self.backend_doc(f"GET / HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode())
        h = {k.lower(): v for k, v in doc["header_list"]}
        return h["x-tenant"], h["x-site"], h["x-tier"]

    def test_header_mapped_for_the_backend(self):
        self.start_maps()
        self.assertEqual(self.sent("a", "acme")[0], "acme-id")
        self.assertEqual(self.sent("a", "ACME")[0], "acme-id")  # keys ignore case
        self.assertEqual(self.sent("a", "beta")[0], "beta-id")  # from the included file
        # Unknown or absent: the default, whose value has variables.
        self.assertEqual(self.sent("Web.Example.org:8080", "gamma")[0], "http-web.example.org")
        self.assertEqual(self.sent("b")[0], "http-b")

    def test_hostnames_on_host(self):
        self.start_maps()
        self.assertEqual(self.sent("example.com")[1], "exact")
        self.assertEqual(self.sent("EXAMPLE.com.")[1], "exact")
        self.assertEqual(self.sent("x.example.com")[1], "wild")
        self.assertEqual(self.sent("x.a.example.com:81")[1], "wild-a")
        self.assertEqual(self.sent("www.example.de")[1], "tail")
        self.assertEqual(self.sent("example.de")[1], "none")

    def test_a_map_of_a_map(self):
        self.start_maps()
        self.assertEqual(self.sent("x.example.com", "acme")[2], "gold")
        self.assertEqual(self.sent("x.example.com", "other")[2], "tier-wild")

    def test_limit_req_key_and_log_format(self):
        log = os.path.join(self.workdir, "access.log")
        self.echo = self.start_echo()
        self.start(f"""
            access_log {log} tenants;
            location / {{
              limit_req zone=pertenant;
              proxy_pass http://127.0.0.1:{self.echo.port};
            }}""", http_extra=MAPS + """
            log_format tenants "$tenant $site $status";
            limit_req_zone $tenant zone=pertenant:1m rate=1r/m;
            """)

        def status(host, tenant):
            reply = self.request(
                f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Tenant: {tenant}\r\n\r\n".encode())
            return int(reply.split(b" ", 2)[1])

        self.assertEqual(status("a", "acme"), 200)
        self.assertEqual(status("b", "acme"), 503)  # the same key: one request a minute
        self.assertEqual(status("a", "beta"), 200)  # another key
        harness.wait_until(lambda: os.path.exists(log) and
                           len(open(log).read().splitlines()) == 3, "three log lines")
        # Each worker writes its own lines: the order in the file is not the requests'.
        with open(log) as f:
            self.assertEqual(sorted(f.read().splitlines()),
                             ["acme-id none 200", "acme-id none 503", "beta-id none 200"])

    def test_cycle_is_logged_and_empty(self):
        self.start("""
            location / {
              add_header X-B "[$b]" always;
              add_header X-A "[$a]" always;
              return 200 "ok";
            }""", http_extra="""
            map $http_x_loop $b { default $c; stop b; }
            map $b $c { default $b; }
            map $a $a { default x; }
            """)
        reply = self.request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertIn(b"\r\nX-B: []\r\n", reply)
        self.assertIn(b"\r\nX-A: [x]\r\n", reply)
        self.proxy.wait_for_line(r'\[error\].*cycle while evaluating variable "b"')
        reply = self.request(b"GET / HTTP/1.1\r\nHost: a\r\nX-Loop: stop\r\n\r\n")
        self.assertIn(b"\r\nX-B: [b]\r\n", reply)

    def test_later_geo_or_map_block_replaces_an_earlier_one(self):
        self.start("""
            location / {
              add_header X-Vars "$g $gm $mg" always;
              add_header X-Loop "[$lg] [$self]" always;
              return 200 "ok";
            }""", http_extra="""
            geo $g { default first; }
            geo $G { default second; }
            geo $gm { default geo; }
            map $host $gm { default map; }
            map $host $mg { default map; }
            geo $mg { default geo; }
            map $http_x_direct $addr { default $lg; yes 10.1.2.3; }
            geo $addr $lg { default none; 10.0.0.0/8 ten; }
            geo $self $self { default d; }
            """)
        reply = self.request(b"GET / HTTP/1.1\r\nHost: a\r\nX-Direct: yes\r\n\r\n")
        self.assertIn(b"\r\nX-Vars: second map geo\r\n", reply)
        self.assertIn(b"\r\nX-Loop: [ten] [d]\r\n", reply)
        # The geo's address comes back to the geo through the map: that inner occurrence is
        # empty, so the address is no address and the geo gives its default.
        reply = self.request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertIn(b"\r\nX-Loop: [none] [d]\r\n", reply)
        self.proxy.wait_for_line(r'\[error\].*cycle while evaluating variable "lg"')
        self.proxy.wait_for_line(r'\[error\].*cycle while evaluating variable "self"')


class MapCheckTest(harness.TestCase):
    """`realip-proxy -t` and `nginx -t` on the same files."""

    def check(self, http_body):
        path = self.write_config(f"events {{ }}\nhttp {{\n{http_body}\n}}\n")
        return path

    def test_accepted_by_both(self):
        with open(os.path.join(self.workdir, "tenants.map"), "w") as f:
            f.write("beta beta-id;\n")
        path = self.check(WEBSOCKET_MAP + MAPS + """
            map $a $a { default x; volatile; }
            geo $g { default first; }
            geo $G { default second; }
            map $host $g { default map; }
            geo $self $self { default d; }
            server {
              listen 127.0.0.1:8080;
              location / { add_header X-A $a; proxy_set_header X-T "$tenant/$tier"; }
            }""")
        self.assert_both_accept(path)

    def test_refused_by_both_with_the_same_message(self):
        cases = [
            "map $http_a $b {\n a x;\n A y;\n}",
            "map $http_a $b {\n hostnames;\n .a.com x;\n *.a.com y;\n}",
            "map $http_a $b {\n hostnames;\n *a.com x;\n}",
            "map $http_a $b {\n default x;\n default y;\n}",
            "map $http_a $b {\n a x y;\n}",
            "map $http_a $b {\n a;\n}",
            "map $http_a $b {\n a {}\n}",
            "map $http_a b { }",
            "map $http_a $host { }",
            "server {\n map $http_a $b { }\n}",
        ]
        for body in cases:
            with self.subTest(body=body):
                self.assert_same_t_error(self.check(body))

    def test_regular_expressions_are_refused(self):
        ours = self.run_proxy("-t", "-c", self.check("map $http_a $b {\n ~^a x;\n}"))
        self.assertEqual(ours.returncode, 1)
        self.assertIn('regular expressions in "map" are not supported: "~^a" in ', ours.stderr)


if __name__ == "__main__":
    unittest.main()
