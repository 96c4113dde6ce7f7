"""PROXY protocol in front of the engine: curl --haproxy-protocol, raw v1/v2 headers, haproxy
in TCP mode with send-proxy / send-proxy-v2 (+ crc32c, unique-id, authority), and the trust
rules of required and optional listeners."""
import shutil
import socket
import struct
import subprocess
import unittest

import harness
from test_engine_headers import TRUSTED, UNTRUSTED, EngineTestCase, connect


def v2_header(src, dst, sport, dport, tlvs=b""):
    addr = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    body = addr + tlvs
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) +
            body)


def tlv(kind, value):
    return bytes([kind]) + struct.pack("!H", len(value)) + value


def start_haproxy_tcp(test, target_port, server_options):
    """Starts haproxy in TCP mode in front of 127.0.0.1:target_port; returns its port."""
    hport = harness.free_port()
    cfg = f"""
global
  maxconn 100
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:{hport}
  unique-id-format %{{+X}}o%ci:%cp
  default_backend be
backend be
  server s1 127.0.0.1:{target_port} {server_options}
"""
    path = test.write_config(cfg, "haproxy.cfg")
    p = test.spawn(["haproxy", "-db", "-f", path], "haproxy")
    harness.wait_for_port("127.0.0.1", hport, p.proc)
    return hport


class ProxyProtocolBase(EngineTestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.start_echo()

    def start_pp(self, mode="proxy_protocol", realip="real_ip_header proxy_protocol;"):
        self.start(f"""
            set_real_ip_from 127.0.0.1;
            set_real_ip_from {TRUSTED};
            {realip}
            location / {{
              proxy_set_header X-PP-Addr $proxy_protocol_addr;
              proxy_set_header X-PP-Authority $proxy_protocol_tlv_authority;
              proxy_set_header X-PP-Unique-Id $proxy_protocol_tlv_unique_id;
              proxy_pass http://127.0.0.1:{self.echo.port};
            }}""", listen_flags=mode)

    def headers_seen(self, raw, source=None):
        doc = self.backend_doc(raw, source=source)
        return {k.lower(): v for k, v in doc["header_list"]}


class ProxyProtocolTest(ProxyProtocolBase):
    def test_v1_header_sets_the_client_address(self):
        self.start_pp()
        h = self.headers_seen(b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n"
                              b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 9.9.9.9\r\n"
                              b"Connection: close\r\n\r\n")
        self.assertEqual(h["x-real-ip"], "203.0.113.7")
        self.assertEqual(h["x-pp-addr"], "203.0.113.7")
        # The chain starts at the PROXY source; the forged XFF entry is gone.
        self.assertEqual(h["x-forwarded-for"].split(",")[0], "203.0.113.7")
        self.assertNotIn("9.9.9.9", h["x-forwarded-for"])

    def test_v2_header_with_tlvs(self):
        self.start_pp()
        raw = v2_header("198.51.100.9", "127.0.0.1", 40000, 80,
                        tlv(0x02, b"example.test") + tlv(0x05, b"id-123"))
        h = self.headers_seen(raw + b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        self.assertEqual(h["x-real-ip"], "198.51.100.9")
        self.assertEqual(h["x-pp-authority"], "example.test")
        self.assertEqual(h["x-pp-unique-id"], "id-123")

    def test_line_ends_in_a_tlv_never_end_a_header_line(self):
        # A TLV is bytes the sender chose (an authority TLV often carries the client's TLS
        # server name). Where a variable puts it in a header line, NUL, CR and LF become
        # spaces: towards the backend (proxy_set_header), in add_header, and in a Location.
        record, heads = harness.head_recorder(
            b"HTTP/1.1 302 Found\r\nLocation: http://in/x\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n")

        b = self.scripted(record)
        self.start(f"""
            location / {{
              proxy_pass http://127.0.0.1:{b.port};
              proxy_set_header X-Auth "[$proxy_protocol_tlv_authority]";
              add_header X-Auth "[$proxy_protocol_tlv_authority]";
              proxy_redirect http://in/ "http://$proxy_protocol_tlv_authority/";
            }}
            location /r {{ return 302 "http://$proxy_protocol_tlv_authority/"; }}""",
                   listen_flags="proxy_protocol")
        pp = v2_header("198.51.100.9", "127.0.0.1", 40000, 80,
                       tlv(0x02, b"a\r\nInjected: 1\x00b"))
        reply = self.request(pp + b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        head = reply.partition(b"\r\n\r\n")[0] + b"\r\n"
        self.assertEqual(len(heads), 1)
        self.assertIn(b"\r\nX-Auth: [a  Injected: 1 b]\r\n", heads[0] + b"\r\n")
        self.assertNotIn(b"\nInjected", heads[0])
        self.assertIn(b"\r\nX-Auth: [a  Injected: 1 b]\r\n", head)
        self.assertIn(b"\r\nLocation: http://a  Injected: 1 b/x\r\n", head)
        self.assertNotIn(b"\nInjected", head)
        reply = self.request(pp + b"GET /r HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        head = reply.partition(b"\r\n\r\n")[0] + b"\r\n"
        self.assertIn(b"\r\nLocation: http://a  Injected: 1 b/\r\n", head)
        self.assertNotIn(b"\nInjected", head)

    def test_the_proxy_result_applies_to_every_request_on_the_connection(self):
        self.start_pp()
        s = connect(self.port)
        s.sendall(b"PROXY TCP6 2001:db8::7 ::1 5555 80\r\n")
        rest = b""
        for i in range(2):
            s.sendall(f"GET /{i} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
            status, _, body, rest = harness.read_response(s, rest)
            self.assertEqual(status, 200)
            self.assertEqual(harness.echo_json(body)["headers"]["x-real-ip"], "2001:db8::7")
        s.close()

    def test_required_listener_closes_without_header(self):
        self.start_pp()
        reply = self.request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(reply, b"")
        reply = self.request(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 extra\r\nGET / HTTP/1.1\r\n\r\n")
        self.assertEqual(reply, b"")

    def test_optional_listener_honours_only_trusted_peers(self):
        self.start_pp(mode="proxy_protocol=optional")
        pp = b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n"
        req = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        self.assertEqual(self.headers_seen(pp + req, source=TRUSTED)["x-real-ip"],
                         "203.0.113.7")
        # A trusted peer may also speak plain HTTP on an optional listener.
        self.assertEqual(self.headers_seen(req, source=TRUSTED)["x-real-ip"], TRUSTED)
        # From an untrusted peer the header is never honoured: it is bad HTTP.
        reply = self.request(pp + req, source=UNTRUSTED)
        self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply[:100])
        self.assertEqual(self.headers_seen(req, source=UNTRUSTED)["x-real-ip"], UNTRUSTED)

    def test_curl_haproxy_protocol(self):
        self.start_pp()
        out = subprocess.run(["curl", "-sS", "--haproxy-protocol", "--interface", UNTRUSTED,
                              f"http://127.0.0.1:{self.port}/"],
                             capture_output=True, timeout=30, check=True)
        doc = harness.echo_json(out.stdout)
        self.assertEqual(doc["headers"]["x-real-ip"], UNTRUSTED)
        self.assertEqual(doc["headers"]["x-pp-addr"], UNTRUSTED)


@unittest.skipUnless(shutil.which("haproxy"), "haproxy not installed")
class HaproxyInFrontTest(ProxyProtocolBase):
    def start_haproxy(self, server_options):
        self.hport = start_haproxy_tcp(self, self.port, server_options)

    def through_haproxy(self, source):
        reply = harness.http_request(
            self.hport, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            source=source)
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:200])
        doc = harness.echo_json(reply.partition(b"\r\n\r\n")[2])
        return doc["headers"]

    def test_send_proxy(self):
        self.start_pp()
        self.start_haproxy("send-proxy")
        h = self.through_haproxy(UNTRUSTED)
        self.assertEqual(h["x-real-ip"], UNTRUSTED)

    def test_send_proxy_v2_with_options(self):
        self.start_pp()
        self.start_haproxy("send-proxy-v2 proxy-v2-options crc32c,unique-id,authority")
        h = self.through_haproxy(UNTRUSTED)
        self.assertEqual(h["x-real-ip"], UNTRUSTED)
        self.assertTrue(h.get("x-pp-unique-id", "").startswith("7F000003:"),
                        h.get("x-pp-unique-id"))


if __name__ == "__main__":
    unittest.main()
