"""server_tokens: the proxy's own responses name its version only when it is on (nginx)."""
import unittest

import harness


class ServerTokensTest(harness.TestCase):
    def start(self):
        port = harness.free_port()
        self.start_proxy(f"""
events {{ }}
http {{
  server {{
    listen 127.0.0.1:{port};
    location = /on {{ return 200 "on\\n"; }}
    location /off {{ server_tokens off; return 200 "off\\n"; }}
    location /quiet {{ server_tokens off; }}
  }}
}}
""", wait=(("127.0.0.1", port),))
        return port

    def head(self, port, path):
        reply = harness.http_request(
            port, f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        head, _, body = reply.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
        return headers, body

    def test_version_named_by_default_and_hidden_when_off(self):
        port = self.start()
        version = self.run_proxy("-v").stderr.strip().rsplit("/", 1)[1]
        headers, _ = self.head(port, "/on")
        self.assertEqual(headers["Server"], f"realip-proxy/{version}")
        headers, _ = self.head(port, "/off")
        self.assertEqual(headers["Server"], "realip-proxy")
        # Error pages: the default 404 page of a location without a handler.
        headers, body = self.head(port, "/quiet")
        self.assertEqual(headers["Server"], "realip-proxy")
        self.assertIn(b"<center>realip-proxy</center>", body)
        headers, body = self.head(port, "/elsewhere")
        self.assertEqual(headers["Server"], f"realip-proxy/{version}")
        self.assertIn(f"<center>realip-proxy/{version}</center>".encode(), body)


if __name__ == "__main__":
    unittest.main()
