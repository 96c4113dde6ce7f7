"""The host a request names, through realip-proxy and nginx 1.22 with the same configuration:
an absolute-form request-target's host picks the server block and is $host, over the Host
header; $host drops the port and a trailing dot and is lower case; without any host, $host is
the server's name."""
import shutil
import unittest

import harness

CASES = [
    b"GET http://B.Test/x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
    b"GET http://b.test:81/x?y HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: B.TEST.:8080\r\nConnection: close\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
    b"GET /x HTTP/1.0\r\n\r\n",
]


def config(port):
    return f"""events {{ worker_connections 64; }}
http {{
  access_log off;
  server {{
    listen 127.0.0.1:{port};
    server_name a.test;
    location / {{ return 200 "a $host\\n"; }}
  }}
  server {{
    listen 127.0.0.1:{port};
    server_name b.test;
    location / {{ return 200 "b $host\\n"; }}
  }}
}}
"""


class RequestHostTest(harness.TestCase):
    def answers(self, port):
        out = []
        for raw in CASES:
            reply = harness.http_request(port, raw, read_all=False)
            status, _, body, _ = reply
            out.append((status, body))
        return out

    def test_server_and_host_variable(self):
        port = harness.free_port()
        self.start_proxy(config(port), wait=(("127.0.0.1", port),))
        ours = self.answers(port)
        self.assertEqual(ours, [(200, b"b b.test\n"), (200, b"b b.test\n"),
                                (200, b"b b.test\n"), (200, b"a a.test\n"),
                                (200, b"a a.test\n")])
        if shutil.which("nginx"):
            nginx_port = harness.free_port()
            p = self.run_nginx(config(nginx_port))
            harness.wait_for_port("127.0.0.1", nginx_port, p.proc)
            self.assertEqual(self.answers(nginx_port), ours)


if __name__ == "__main__":
    unittest.main()
