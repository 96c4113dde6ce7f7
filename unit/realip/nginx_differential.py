"""Differential test: Resolve() against Debian's nginx realip module, on loopback.

nginx runs with set_real_ip_from 127.0.0.1 and 10.0.0.0/8 and answers
"$remote_addr|$remote_port" for real_ip_header X-Forwarded-For / X-Real-IP with
real_ip_recursive on / off. Random requests (several header lines, ports, invalid entries,
mapped addresses, odd separators) go to nginx and, as text, to resolve_driver; the answers must
agree apart from the deliberate differences listed in docs/client-ip.md.
"""
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DRIVER = os.environ.get("REALIP_RESOLVE_DRIVER", "")
TRUSTED = ["127.0.0.1/32", "10.0.0.0/8"]
COMBOS = [(True, "X-Forwarded-For"), (False, "X-Forwarded-For"), (True, "X-Real-IP"),
          (False, "X-Real-IP")]
# Entries on which we agree with nginx 1.22; see KNOWN_DIFFERENCES for the others.
TOKENS = ["1.1.1.1", "2.2.2.2", "10.0.0.2", "10.0.0.3", "127.0.0.1", "bogus", "1.1.1.1:8080",
          "10.0.0.4:80", "[2001:db8::1]:80", "2001:db8::1", "::ffff:10.0.0.9", "::ffff:1.2.3.4",
          "1.1.1.1:0", "1.1.1.1:65536", "1.1.1.1:065535", "unknown", '"1.1.1.1"',
          "fe80::1%eth0", "1.1.1", "[10.0.0.7]:81", "\t2.2.2.2", "[::1]x", "1.1.1.1:",
          "2001:db8::1:80", "[::ffff:10.0.0.1]:99"]
SEPARATORS = [", ", ",", " ", ",,", " , ", ",  "]
# (entry, what nginx 1.22 answers, what we answer) for "1.1.1.1, <entry>", recursive.
KNOWN_DIFFERENCES = [("[2001:db8::1]", "PEER", "2001:db8::1|"),
                     ("01.1.1.1", "1.1.1.1|", "PEER"),
                     ("1..1.1", "1.0.1.1|", "PEER")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("nginx exited with %d" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nginx did not listen on %d" % port)


def generate(rng):
    lines = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        value = rng.choice(TOKENS)
        for _ in range(rng.randint(0, 3)):
            value += rng.choice(SEPARATORS) + rng.choice(TOKENS)
        if rng.random() < 0.1:
            value = rng.choice([",", ", ", " ,"]) + value
        if rng.random() < 0.1:
            value += rng.choice([",", ", ", " ,"])
        lines.append(value)
    return lines


@unittest.skipUnless(os.path.exists(NGINX) and DRIVER, "needs nginx and resolve_driver")
class NginxDifferentialTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="realip-nginx-diff-")
        cls.ports = {combo: free_port() for combo in COMBOS}
        servers = "".join(
            "  server { listen 127.0.0.1:%d; real_ip_header %s; real_ip_recursive %s;\n"
            "    location / { return 200 \"$remote_addr|$remote_port\\n\"; } }\n"
            % (port, name, "on" if rec else "off") for (rec, name), port in cls.ports.items())
        d = cls.dir
        conf = (
            "daemon off; worker_processes 1; error_log %s/error.log warn; pid %s/nginx.pid;\n"
            "events { worker_connections 64; }\n"
            "http { access_log off; client_body_temp_path %s; proxy_temp_path %s;\n"
            "  fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;\n"
            "%s%s}\n" % (d, d, d, d, d, d, d,
                         "".join("  set_real_ip_from %s;\n" % t for t in TRUSTED), servers))
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(conf)
        cls.nginx = subprocess.Popen([NGINX, "-c", os.path.join(d, "nginx.conf"), "-p", d],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for port in cls.ports.values():
            wait_for_port(port, cls.nginx)

    @classmethod
    def tearDownClass(cls):
        cls.nginx.terminate()
        cls.nginx.wait(timeout=10)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def ask_nginx(self, combo, lines):
        name = combo[1]
        with socket.create_connection(("127.0.0.1", self.ports[combo]), timeout=10) as s:
            request = "GET / HTTP/1.1\r\nHost: x\r\n" + "".join(
                "%s: %s\r\n" % (name, line) for line in lines) + "Connection: close\r\n\r\n"
            s.sendall(request.encode())
            src_port = s.getsockname()[1]
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        addr, port = data.split(b"\r\n\r\n", 1)[1].decode().strip().split("|")
        if addr == "127.0.0.1" and port == str(src_port):
            return "PEER"
        # Deliberate difference 3: IPv4-mapped addresses are reported as IPv4.
        if addr.startswith("::ffff:") and "." in addr:
            addr = addr[len("::ffff:"):]
        return addr + "|" + port

    def ask_driver(self, cases):
        # nginx trims spaces (not tabs) around header values; the engine does the same.
        text = "".join("%d\x1f%s\x1f%s\n" % (rec, name, "\x1f".join(l.strip(" ") for l in lines))
                       for (rec, name), lines in cases)
        out = subprocess.run([DRIVER] + TRUSTED, input=text.encode(), capture_output=True,
                             check=True).stdout.decode().splitlines()
        return ["PEER" if o.endswith("|PEER") else o for o in out]

    def test_random_requests_agree(self):
        rng = random.Random(20261126)
        cases = [(rng.choice(COMBOS), generate(rng)) for _ in range(2000)]
        ours = self.ask_driver(cases)
        mismatches = [(c, o, self.ask_nginx(*c)) for c, o in zip(cases, ours)]
        mismatches = [m for m in mismatches if m[1] != m[2]]
        self.assertEqual(mismatches[:10], [], "%d of %d differ" % (len(mismatches), len(cases)))

    def test_known_differences_are_exactly_these(self):
        combo = (True, "X-Forwarded-For")
        for entry, nginx_answer, our_answer in KNOWN_DIFFERENCES:
            lines = ["1.1.1.1, " + entry]
            self.assertEqual(self.ask_nginx(combo, lines), nginx_answer, entry)
            self.assertEqual(self.ask_driver([(combo, lines)]), [our_answer], entry)


if __name__ == "__main__":
    unittest.main()
