"""realip-echo, the demo and test backend, reports exactly what it received."""
import signal
import unittest

import harness


class EchoBackendTest(harness.TestCase):
    def test_reports_method_uri_peer_and_headers_in_order(self):
        echo = self.start_echo()
        raw = (b"GET /a/b?x=1 HTTP/1.1\r\nHost: example.test\r\n"
               b"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 198.51.100.1\r\n"
               b"Connection: close\r\n\r\n")
        reply = harness.http_request(echo.port, raw)
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        doc = harness.echo_json(body)
        self.assertEqual(doc["method"], "GET")
        self.assertEqual(doc["uri"], "/a/b?x=1")
        self.assertEqual(doc["peer"], "127.0.0.1")
        self.assertEqual(doc["header_list"], [
            ["Host", "example.test"], ["X-Forwarded-For", "203.0.113.7"],
            ["X-Forwarded-For", "198.51.100.1"], ["Connection", "close"]])
        self.assertEqual(doc["headers"]["host"], "example.test")

    def test_sees_the_source_address_the_client_bound(self):
        echo = self.start_echo()
        reply = harness.http_request(
            echo.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            source="127.0.0.3")
        doc = harness.echo_json(reply.partition(b"\r\n\r\n")[2])
        self.assertEqual(doc["peer"], "127.0.0.3")

    def test_counts_body_and_names_itself(self):
        echo = self.start_echo(name="backend-a")
        reply = harness.http_request(
            echo.port, b"POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                       b"Connection: close\r\n\r\nhello")
        doc = harness.echo_json(reply.partition(b"\r\n\r\n")[2])
        self.assertEqual(doc["server"], "backend-a")
        self.assertEqual(doc["body_bytes"], 5)

    def test_listens_on_ipv6_loopback(self):
        echo = self.start_echo(host="::1")
        reply = harness.http_request(
            echo.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", host="::1")
        self.assertEqual(harness.echo_json(reply.partition(b"\r\n\r\n")[2])["peer"], "::1")

    def test_exits_zero_on_sigterm(self):
        echo = self.start_echo()
        self.assertEqual(echo.stop(signal.SIGTERM), 0)


if __name__ == "__main__":
    unittest.main()
