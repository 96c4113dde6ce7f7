"""TLS termination and TLS to backends, against real peers: curl over TLS 1.2 and 1.3, SNI
between two servers, mTLS accepted and refused, session resumption seen by $ssl_session_reused
(openssl s_client -sess_out/-sess_in), ticket key rotation across a reload, plain HTTP to the
TLS port, haproxy send-proxy-v2 in front of `listen ... ssl proxy_protocol`, PROXY v2 SSL TLVs,
and nginx as a TLS backend (verification, a wrong-name certificate, session reuse).

Every certificate and key is generated at run time by the `openssl` command."""
import hashlib
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import unittest

import harness
from test_engine_backends import ScriptedBackend, serve_requests
from test_engine_headers import UNTRUSTED
from test_engine_proxy_protocol import start_haproxy_tcp, tlv, v2_header

CERTS = None


def openssl(*args, cwd):
    return subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def make_cert(cwd, name, cn, san, ca="ca", client=False):
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}/O=realip",
            cwd=cwd)
    ext = os.path.join(cwd, f"{name}.ext")
    with open(ext, "w") as f:
        usage = "clientAuth" if client else "serverAuth"
        f.write(f"extendedKeyUsage={usage}\n")
        if san:
            f.write(f"subjectAltName={san}\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", "-extfile", ext, cwd=cwd)


def make_ca(cwd, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj",
            f"/CN={name} test CA", cwd=cwd)


def setUpModule():
    global CERTS
    CERTS = tempfile.mkdtemp(prefix="realip-tls-")
    os.chmod(CERTS, 0o755)
    make_ca(CERTS, "ca")
    make_ca(CERTS, "other")
    make_cert(CERTS, "a", "a.test", "DNS:a.test")
    make_cert(CERTS, "b", "b.test", "DNS:*.b.test,DNS:b.test")
    make_cert(CERTS, "wrong", "wrong.test", "DNS:wrong.test")
    make_cert(CERTS, "client", "client one", "", client=True)
    make_cert(CERTS, "rogue", "rogue client", "", ca="other", client=True)
    # An RSA certificate for the DHE-RSA cipher suites (ssl_dhparam), the RFC 7919 group as
    # DH parameters, and a "good" OCSP response for a.crt signed by the CA (ssl_stapling_file).
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-out",
            "rsa.csr", "-subj", "/CN=a.test/O=realip", cwd=CERTS)
    with open(os.path.join(CERTS, "rsa.ext"), "w") as f:
        f.write("extendedKeyUsage=serverAuth\nsubjectAltName=DNS:a.test\n")
    openssl("x509", "-req", "-in", "rsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", "rsa.crt", "-extfile", "rsa.ext", cwd=CERTS)
    openssl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out",
            "dh.pem", cwd=CERTS)
    serial = openssl("x509", "-in", "a.crt", "-noout", "-serial", cwd=CERTS).split("=")[1].strip()
    with open(os.path.join(CERTS, "index.txt"), "w") as f:
        f.write(f"V\t301231235959Z\t\t{serial}\tunknown\t/CN=a.test/O=realip\n")
    openssl("ocsp", "-issuer", "ca.crt", "-cert", "a.crt", "-reqout", "ocsp-req.der",
            "-no_nonce", cwd=CERTS)
    openssl("ocsp", "-index", "index.txt", "-rsigner", "ca.crt", "-rkey", "ca.key", "-CA",
            "ca.crt", "-reqin", "ocsp-req.der", "-respout", "a.ocsp", "-ndays", "1", cwd=CERTS)
    for name in ("key1", "key2"):
        with open(os.path.join(CERTS, f"{name}.ticket"), "wb") as f:
            f.write(os.urandom(80 if name == "key1" else 48))
    for n in os.listdir(CERTS):
        os.chmod(os.path.join(CERTS, n), 0o644)


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


def cert(name):
    return os.path.join(CERTS, name)


class TlsTestCase(harness.TestCase):
    def start_tls(self, servers, http_extra="", listen_flags="ssl"):
        """`servers`: list of (server_name, certificate name, body) on one TLS listener."""
        self.port = harness.free_port()
        blocks = ""
        for name, crt, body in servers:
            blocks += f"""
  server {{
    listen 127.0.0.1:{self.port} {listen_flags};
    server_name {name};
    ssl_certificate {cert(crt + '.crt')};
    ssl_certificate_key {cert(crt + '.key')};
    {body}
  }}"""
        text = f"""
worker_processes 2;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
  {http_extra}
  {blocks}
}}
"""
        self.proxy = self.start_proxy(text, wait=(("127.0.0.1", self.port),))
        return self.proxy

    def curl(self, name, *args, path="/", check=True):
        cmd = ["curl", "-sS", "--max-time", "20", "--cacert", cert("ca.crt"), "--resolve",
               f"{name}:{self.port}:127.0.0.1", *args, f"https://{name}:{self.port}{path}"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def s_client(self, *args, name="a.test", request="GET / HTTP/1.0\r\nHost: a.test\r\n\r\n"):
        sni = [] if "-noservername" in args else ["-servername", name]
        cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{self.port}", *sni,
               "-CAfile", cert("ca.crt"), "-verify_return_error", "-ign_eof", *args]
        r = subprocess.run(cmd, input=request, capture_output=True, text=True, timeout=30)
        return r.stdout


class ClientSideTest(TlsTestCase):
    def test_tls12_and_tls13_with_variables(self):
        self.start_tls([("a.test", "a",
                         'return 200 "$ssl_protocol $scheme $ssl_server_name $ssl_cipher\\n";')])
        out = self.curl("a.test", "--tlsv1.2", "--tls-max", "1.2").stdout.split()
        self.assertEqual(out[:3], ["TLSv1.2", "https", "a.test"])
        self.assertIn("ECDHE", out[3])
        out = self.curl("a.test", "--tlsv1.3").stdout.split()
        self.assertEqual(out[:3], ["TLSv1.3", "https", "a.test"])
        self.assertTrue(out[3].startswith("TLS_"), out)

    def test_ssl_protocols_limits_versions(self):
        self.start_tls([("a.test", "a", 'ssl_protocols TLSv1.3; return 200 "$ssl_protocol";')])
        self.assertEqual(self.curl("a.test", "--tlsv1.3").stdout, "TLSv1.3")
        r = self.curl("a.test", "--tlsv1.2", "--tls-max", "1.2", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_sni_selects_server_and_certificate(self):
        self.start_tls([("a.test", "a", 'return 200 "server a\\n";'),
                        ("*.b.test", "b", 'return 200 "server b $ssl_server_name\\n";')])
        # --cacert verification succeeds only if the certificate for the name was sent.
        self.assertEqual(self.curl("a.test").stdout, "server a\n")
        self.assertEqual(self.curl("x.b.test").stdout, "server b x.b.test\n")
        # Unknown names get the default (first) server's certificate.
        out = self.s_client("-noservername", name="unknown.test")
        self.assertIn("CN = a.test", out)
        self.assertIn("server a", out)
        out = self.s_client(name="y.b.test", request="GET / HTTP/1.0\r\nHost: y.b.test\r\n\r\n")
        self.assertIn("CN = b.test", out)
        self.assertIn("server b y.b.test", out)
        # A name nginx's Host check refuses selects no server, even where the wildcard would
        # match it: the default server's certificate; the Host still routes the request.
        for bad in ("x/..y.b.test", "x..b.test", "x/y.b.test"):
            out = self.s_client(name=bad, request="GET / HTTP/1.0\r\nHost: y.b.test\r\n\r\n")
            self.assertIn("CN = a.test", out, bad)
            self.assertIn(f"server b {bad}", out, bad)

    def test_listen_http2_serves_http11_through_alpn(self):
        self.start_tls([("a.test", "a", 'return 200 "$server_protocol\\n";')],
                       listen_flags="ssl http2")
        r = self.curl("a.test", "--http2", "-w", "%{http_version}")
        self.assertEqual(r.stdout, "HTTP/1.1\n1.1")
        self.proxy.wait_for_line(r'\[warn\] .*"http2" of "listen 127\.0\.0\.1:\d+" is ignored')

    def test_alpn_http11(self):
        self.start_tls([("a.test", "a", 'return 200 "ok";')])
        out = self.s_client("-alpn", "h2,http/1.1")
        self.assertIn("ALPN protocol: http/1.1", out)

    def test_plain_http_to_tls_port_gets_400(self):
        self.start_tls([("a.test", "a", 'return 200 "ok";')])
        reply = harness.http_request(
            self.port, b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply[:200])
        self.assertIn(b"The plain HTTP request was sent to HTTPS port", reply)

    def test_failed_and_stalled_handshakes_cost_one_connection(self):
        self.start_tls([("a.test", "a", 'return 200 "ok";')],
                       http_extra="ssl_handshake_timeout 1s;")
        # Garbage that looks like a handshake record, then a client that never finishes.
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as s:
            s.sendall(b"\x16\x03\x01\x00\x05hello")
            self.assertEqual(s.recv(100)[:1], b"\x15")  # a TLS alert, then close
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as s:
            s.sendall(b"\x16\x03\x01")  # stalls mid-record: closed by ssl_handshake_timeout
            self.assertEqual(s.recv(100), b"")
        self.proxy.wait_for_line(r"SSL_do_handshake\(\) failed")
        self.proxy.wait_for_line(r"timed out while SSL handshaking")
        self.assertEqual(self.curl("a.test").stdout, "ok")

    def test_mtls_required(self):
        ca = cert("ca.crt")
        self.start_tls([("a.test", "a", f"""
            ssl_client_certificate {ca};
            ssl_verify_client on;
            return 200 "$ssl_client_verify $ssl_client_s_dn\\n";""")])
        out = self.curl("a.test", "--cert", cert("client.crt"), "--key", cert("client.key"))
        self.assertEqual(out.stdout, "SUCCESS O=realip,CN=client one\n")
        self.assertNotEqual(self.curl("a.test", check=False).returncode, 0)
        r = self.curl("a.test", "--cert", cert("rogue.crt"), "--key", cert("rogue.key"),
                      check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("SUCCESS", r.stdout)

    def test_mtls_optional(self):
        ca = cert("ca.crt")
        self.start_tls([("a.test", "a", f"""
            ssl_client_certificate {ca};
            ssl_verify_client optional;
            return 200 "$ssl_client_verify\\n";""")])
        self.assertEqual(self.curl("a.test").stdout, "NONE\n")
        out = self.curl("a.test", "--cert", cert("client.crt"), "--key", cert("client.key"))
        self.assertEqual(out.stdout, "SUCCESS\n")
        out = self.curl("a.test", "--cert", cert("rogue.crt"), "--key", cert("rogue.key"))
        self.assertTrue(out.stdout.startswith("FAILED:"), out.stdout)


class ServerTlsOptionsTest(TlsTestCase):
    """ssl_dhparam, ssl_ecdh_curve, ssl_trusted_certificate and ssl_stapling_file."""

    def test_dhparam_enables_the_dhe_suites(self):
        dhe = ("-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256")
        self.start_tls([("a.test", "rsa", 'return 200 "ok";')])
        out = self.s_client(*dhe)
        self.assertNotIn("Server Temp Key: DH", out)  # no parameters, no DHE: no handshake
        self.assertNotIn("\r\n\r\nok", out)
        self.proxy.stop()
        self.start_tls([("a.test", "rsa", f'ssl_dhparam {cert("dh.pem")}; return 200 "ok";')])
        out = self.s_client(*dhe)
        self.assertIn("Server Temp Key: DH, 2048 bits", out)
        self.assertIn("Cipher is DHE-RSA-AES128-GCM-SHA256", out)

    def test_ecdh_curve_limits_the_groups(self):
        self.start_tls([("a.test", "a", 'return 200 "ok";')])
        self.assertIn("Server Temp Key: X25519", self.s_client())
        self.proxy.stop()
        self.start_tls([("a.test", "a", 'ssl_ecdh_curve secp384r1; return 200 "ok";')])
        self.assertIn("Server Temp Key: ECDH, secp384r1, 384 bits", self.s_client())

    def test_trusted_certificate_verifies_without_being_named_to_the_client(self):
        self.start_tls([("a.test", "a", f"""
            ssl_client_certificate {cert("other.crt")};
            ssl_trusted_certificate {cert("ca.crt")};
            ssl_verify_client on;
            return 200 "$ssl_client_verify\\n";""")])
        out = self.curl("a.test", "--cert", cert("client.crt"), "--key", cert("client.key"))
        self.assertEqual(out.stdout, "SUCCESS\n")
        # Only ssl_client_certificate's CA is listed in the CertificateRequest.
        names = self.s_client("-tls1_2").split("Acceptable client certificate CA names")[1]
        self.assertIn("CN = other test CA", names.split("---")[0])
        self.assertNotIn("CN = ca test CA", names.split("---")[0])

    def test_stapling_file_is_stapled(self):
        self.start_tls([("a.test", "a", f"""
            ssl_stapling on;
            ssl_stapling_file {cert("a.ocsp")};
            return 200 "ok";"""),
                        ("b.test", "b", 'ssl_stapling on; return 200 "b";')])
        out = self.s_client("-status")
        self.assertIn("OCSP Response Status: successful", out)
        self.assertIn("Cert Status: good", out)
        # A server without a file staples nothing, and says so when the configuration loads.
        out = self.s_client("-status", name="b.test",
                            request="GET / HTTP/1.0\r\nHost: b.test\r\n\r\n")
        self.assertIn("OCSP response: no response sent", out)
        self.proxy.wait_for_line(r'\[warn\] .*"ssl_stapling" ignored, not supported without '
                                 r'"ssl_stapling_file"')

    def test_bad_files_and_curves_are_refused_with_their_line(self):
        cases = [
            (f"ssl_dhparam {cert('a.crt')};", 'cannot load ssl_dhparam "'),
            ("ssl_dhparam /nonexistent/dh.pem;", 'cannot load ssl_dhparam "/nonexistent/dh.pem"'),
            ("ssl_ecdh_curve X25519:bogus;", 'SSL_CTX_set1_curves_list("X25519:bogus") failed'),
            (f"ssl_stapling on; ssl_stapling_file {cert('a.crt')};", "d2i_OCSP_RESPONSE("),
            ("ssl_trusted_certificate /nonexistent/ca.crt;",
             'cannot load ssl_trusted_certificate "/nonexistent/ca.crt"'),
        ]
        for directive, message in cases:
            with self.subTest(directive=directive):
                path = self.write_config(f"""
events {{ }}
http {{
  server {{
    listen 127.0.0.1:{harness.free_port()} ssl;
    ssl_certificate {cert("a.crt")};
    ssl_certificate_key {cert("a.key")};
    {directive}
  }}
}}
""")
                r = self.run_proxy("-t", "-c", path)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(message, r.stderr)
                self.assertRegex(r.stderr, r" in \S+realip-proxy\.conf:\d+")


class StreamingTest(TlsTestCase):
    def test_large_bodies_both_ways_on_one_keepalive_connection(self):
        big = bytes(range(256)) * (4 * 4096)  # 4 MiB response

        def respond(method, target, headers, body):
            digest = hashlib.sha256(body).hexdigest().encode()
            return (b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(big) + 65).encode() +
                    b"\r\n\r\n" + digest + b"\n" + big)

        backend = ScriptedBackend(serve_requests(respond))
        self.addCleanup(backend.stop)
        self.start_tls([("a.test", "a", f"""
            client_max_body_size 0;
            location / {{ proxy_pass http://127.0.0.1:{backend.port}; }}""")])
        upload = os.urandom(3 * 1024 * 1024)
        path = os.path.join(self.workdir, "upload")
        with open(path, "wb") as f:
            f.write(upload)
        out = os.path.join(self.workdir, "out")
        url = f"https://a.test:{self.port}/"
        r = subprocess.run(["curl", "-sS", "--max-time", "60", "--cacert", cert("ca.crt"),
                            "--resolve", f"a.test:{self.port}:127.0.0.1", "--data-binary",
                            f"@{path}", "-o", out, url, "-o", out + "2", url,
                            "-w", "%{num_connects} "], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["1", "0"])  # the second request reused the connection
        for name in (out, out + "2"):
            with open(name, "rb") as f:
                data = f.read()
            self.assertEqual(data[:65], hashlib.sha256(upload).hexdigest().encode() + b"\n")
            self.assertEqual(data[65:], big)


class ResumptionTest(TlsTestCase):
    def reused_line(self, out):
        lines = [line for line in out.splitlines() if line.startswith("reused=")]
        self.assertEqual(len(lines), 1, out)
        return lines[0]

    def resumed(self, sess, *args):
        return self.reused_line(self.s_client("-sess_in", sess, *args))

    def first(self, sess, *args):
        self.assertEqual(self.reused_line(self.s_client("-sess_out", sess, *args)), "reused=.")

    def test_session_resumption_tls12_cache_and_tls13_tickets(self):
        self.start_tls([("a.test", "a", 'return 200 "reused=$ssl_session_reused\\n";')],
                       http_extra="ssl_session_cache shared:SSL:1m; ssl_session_timeout 10m;")
        sess = os.path.join(self.workdir, "s12")
        self.first(sess, "-tls1_2", "-no_ticket")
        self.assertEqual(self.resumed(sess, "-tls1_2", "-no_ticket"), "reused=r")
        sess = os.path.join(self.workdir, "s13")
        self.first(sess, "-tls1_3")
        self.assertEqual(self.resumed(sess, "-tls1_3"), "reused=r")

    def test_ticket_keys_rotate_across_reload(self):
        body = 'return 200 "reused=$ssl_session_reused\\n";'
        self.start_tls([("a.test", "a", body)],
                       http_extra=f"ssl_session_ticket_key {cert('key1.ticket')};")
        sess = os.path.join(self.workdir, "s")
        self.first(sess, "-tls1_2")
        self.assertEqual(self.resumed(sess, "-tls1_2"), "reused=r")
        # New key first (encrypts), old key kept (decrypts): old tickets still resume.
        path = os.path.join(self.workdir, "realip-proxy.conf")
        with open(path) as f:
            text = f.read()
        rotated = text.replace(
            f"ssl_session_ticket_key {cert('key1.ticket')};",
            f"ssl_session_ticket_key {cert('key2.ticket')}; "
            f"ssl_session_ticket_key {cert('key1.ticket')};")
        with open(path, "w") as f:
            f.write(rotated)
        self.proxy.proc.send_signal(signal.SIGHUP)
        self.proxy.wait_for_line("reconfiguring")
        self.assertEqual(self.resumed(sess, "-tls1_2"), "reused=r")
        # With the old key gone, the old ticket means a full handshake.
        with open(path, "w") as f:
            f.write(text.replace("key1.ticket", "key2.ticket"))
        self.proxy.proc.send_signal(signal.SIGHUP)
        self.proxy.wait_for_line("reconfiguring(.|\n)*reconfiguring")
        self.assertEqual(self.resumed(sess, "-tls1_2"), "reused=.")

    def test_bad_certificate_on_reload_keeps_running_config(self):
        self.start_tls([("a.test", "a", 'return 200 "ok";')])
        path = os.path.join(self.workdir, "realip-proxy.conf")
        with open(path) as f:
            text = f.read()
        broken = os.path.join(self.workdir, "broken.crt")
        with open(broken, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        with open(path, "w") as f:
            f.write(text.replace(cert("a.crt"), broken))
        self.proxy.proc.send_signal(signal.SIGHUP)
        m = self.proxy.wait_for_line(r"reload failed.*cannot load certificate .*broken\.crt.*:\d+")
        self.assertIn(path, m.group(0))
        self.assertEqual(self.curl("a.test").stdout, "ok")


class ProxyProtocolTlsTest(TlsTestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.start_echo()

    def start_pp(self):
        self.start_tls([("a.test", "a", f"""
            set_real_ip_from 127.0.0.1;
            real_ip_header proxy_protocol;
            location / {{
              proxy_set_header X-TLS $ssl_protocol;
              proxy_set_header X-PP-SSL-Version $proxy_protocol_tlv_ssl_version;
              proxy_set_header X-PP-SSL-CN $proxy_protocol_tlv_ssl_cn;
              proxy_pass http://127.0.0.1:{self.echo.port};
            }}""")], listen_flags="ssl proxy_protocol")

    @unittest.skipUnless(shutil.which("haproxy"), "haproxy not installed")
    def test_haproxy_send_proxy_v2_in_front_of_tls(self):
        self.start_pp()
        hport = start_haproxy_tcp(self, self.port, "send-proxy-v2")
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", cert("ca.crt"),
                            "--interface", UNTRUSTED, "--resolve", f"a.test:{hport}:127.0.0.1",
                            f"https://a.test:{hport}/"], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        h = harness.echo_json(r.stdout)["headers"]
        self.assertEqual(h["x-real-ip"], UNTRUSTED)
        self.assertEqual(h["x-forwarded-proto"], "https")
        self.assertTrue(h["x-tls"].startswith("TLSv1."))

    def test_proxy_v2_ssl_tlvs_before_handshake(self):
        self.start_pp()
        # PP2_TYPE_SSL: client flags (SSL, cert in connection), verify 0, then sub-TLVs.
        ssl_tlv = tlv(0x20, bytes([0x03]) + struct.pack("!I", 0) + tlv(0x21, b"TLSv1.3") +
                      tlv(0x22, b"edge client"))
        header = v2_header("203.0.113.9", "127.0.0.1", 4000, 443, ssl_tlv)
        ctx = ssl.create_default_context(cafile=cert("ca.crt"))
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as raw:
            raw.sendall(header)
            with ctx.wrap_socket(raw, server_hostname="a.test") as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
                status, _, body, _ = harness.read_response(s)
        self.assertEqual(status, 200)
        h = harness.echo_json(body)["headers"]
        self.assertEqual(h["x-real-ip"], "203.0.113.9")
        self.assertEqual(h["x-pp-ssl-version"], "TLSv1.3")
        self.assertEqual(h["x-pp-ssl-cn"], "edge client")


    def memory_tls_request(self, first_bytes, chunk):
        """A TLS client over a raw socket: `first_bytes` and the ClientHello go out in one
        send (chunk 0) or byte groups of `chunk`; returns the decrypted response."""
        ctx = ssl.create_default_context(cafile=cert("ca.crt"))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname="a.test")
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pending = first_bytes
            request = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
            response = b""
            handshaken = False
            while True:
                if not handshaken:
                    try:
                        obj.do_handshake()
                        handshaken = True
                        obj.write(request)
                    except ssl.SSLWantReadError:
                        pass
                pending += outgoing.read()
                if chunk:
                    for i in range(0, len(pending), chunk):
                        s.sendall(pending[i:i + chunk])
                elif pending:
                    s.sendall(pending)
                pending = b""
                data = s.recv(65536)
                if not data:
                    break
                incoming.write(data)
                if handshaken:
                    try:
                        while plain := obj.read(65536):
                            response += plain
                    except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                        pass
            return response

    def test_proxy_header_and_client_hello_in_one_segment_and_byte_by_byte(self):
        self.start_pp()
        header = v2_header("203.0.113.10", "127.0.0.1", 4000, 443)
        for chunk in (0, 1):
            response = self.memory_tls_request(header, chunk)
            self.assertTrue(response.startswith(b"HTTP/1.1 200"), response[:200])
            body = response.partition(b"\r\n\r\n")[2]
            self.assertEqual(harness.echo_json(body)["headers"]["x-real-ip"], "203.0.113.10")


@unittest.skipUnless(shutil.which("nginx"), "nginx not installed")
class BackendTlsTest(TlsTestCase):
    def start_nginx(self, crt):
        self.nport = harness.free_port()
        self.nginx_log = os.path.join(self.workdir, "nginx", "logs", "tls.log")
        text = f"""
error_log stderr info;
events {{ worker_connections 64; }}
http {{
  log_format tls "$ssl_server_name $ssl_session_reused $connection_requests $ssl_client_s_dn";
  server {{
    listen 127.0.0.1:{self.nport} ssl;
    ssl_certificate {cert(crt + '.crt')};
    ssl_certificate_key {cert(crt + '.key')};
    ssl_client_certificate {cert('ca.crt')};
    ssl_verify_client optional;
    ssl_session_cache shared:S:1m;
    access_log {self.nginx_log} tls;
    location / {{ return 200 "from nginx $ssl_protocol\\n"; }}
  }}
}}
"""
        p = self.run_nginx(text)
        harness.wait_for_port("127.0.0.1", self.nport, p.proc)

    def start_front(self, location_extra, upstream_name="backend.test", upstream_extra=""):
        self.start_tls([("a.test", "a", f"""
            location / {{
              proxy_ssl_trusted_certificate {cert('ca.crt')};
              {location_extra}
              proxy_pass https://{upstream_name};
            }}""")], http_extra=f"upstream {upstream_name} {{ server 127.0.0.1:{self.nport}; "
                                f"{upstream_extra} }}")

    def nginx_lines(self, n):
        """The first `n` access-log lines (nginx logs after sending; wait for them)."""
        deadline = time.monotonic() + harness.READY_TIMEOUT
        while True:
            with open(self.nginx_log) as f:
                lines = f.read().splitlines()
            if len(lines) >= n or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    def test_verified_backend_with_sni_client_cert_and_session_reuse(self):
        self.start_nginx("a")
        self.start_front(f"""
            proxy_ssl_verify on;
            proxy_ssl_server_name on;
            proxy_ssl_name a.test;
            proxy_ssl_certificate {cert('client.crt')};
            proxy_ssl_certificate_key {cert('client.key')};
            proxy_ssl_protocols TLSv1.2;""")
        for _ in range(3):
            self.assertEqual(self.curl("a.test").stdout, "from nginx TLSv1.2\n")
        lines = self.nginx_lines(3)
        self.assertEqual(len(lines), 3, lines)
        for line in lines:
            self.assertTrue(line.startswith("a.test "), line)
            self.assertIn("CN=client one", line)
        # No keepalive pool: three connections; the later ones resume the first's session
        # (each worker keeps its own session per peer, so at least one is resumed).
        self.assertEqual(lines[0].split()[1], ".")
        self.assertIn("r", [line.split()[1] for line in lines[1:]])

    def test_pooled_tls_connections_are_reused(self):
        self.start_nginx("a")
        self.start_front("proxy_ssl_verify on; proxy_ssl_name a.test; proxy_ssl_server_name on;",
                         upstream_extra="keepalive 4;")
        # One client connection, so one worker: its pooled backend connection serves them all.
        self.curl("a.test", "-o", "/dev/null", f"https://a.test:{self.port}/",
                  "-o", "/dev/null", f"https://a.test:{self.port}/")
        counts = [int(line.split()[2]) for line in self.nginx_lines(3)]
        self.assertEqual(counts, [1, 2, 3])

    def test_wrong_name_certificate_is_refused(self):
        self.start_nginx("wrong")
        self.start_front("proxy_ssl_verify on; proxy_ssl_name a.test;")
        r = self.curl("a.test", "-o", "/dev/null", "-w", "%{http_code}")
        self.assertEqual(r.stdout, "502")
        self.proxy.wait_for_line(r"certificate verify failed")

    def test_unverified_backend_is_accepted_when_verification_is_off(self):
        self.start_nginx("wrong")
        self.start_front("proxy_ssl_verify off;")
        # Debian's nginx 1.22 defaults to at most TLSv1.2.
        self.assertEqual(self.curl("a.test").stdout, "from nginx TLSv1.2\n")

    def test_pooled_connection_serves_only_the_tls_settings_that_made_it(self):
        # A connection made unverified for one location must not carry a request of a location
        # of the same upstream that verifies the backend (nor one of another configuration).
        self.start_nginx("wrong")
        self.start_tls([("a.test", "a", f"""
            location /unverified {{
              proxy_ssl_verify off;
              proxy_pass https://backend.test;
            }}
            location / {{
              proxy_ssl_trusted_certificate {cert('ca.crt')};
              proxy_ssl_verify on;
              proxy_ssl_name a.test;
              proxy_pass https://backend.test;
            }}""")], http_extra=f"upstream backend.test {{ server 127.0.0.1:{self.nport}; "
                                "keepalive 4; }")
        # One client connection, so one worker and one pool.
        r = self.curl("a.test", "-w", "%{http_code} ", "-o", "/dev/null",
                      f"https://a.test:{self.port}/unverified", "-o", "/dev/null")
        self.assertEqual(r.stdout, "200 502 ")
        self.proxy.wait_for_line(r"certificate verify failed")


class ConfigErrorsTest(TlsTestCase):
    def check(self, body, expected):
        path = self.write_config(f"""
events {{}}
http {{
  server {{
    listen 127.0.0.1:1 ssl;
    {body}
  }}
}}
""")
        r = self.run_proxy("-t", "-c", path)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, expected)

    def test_errors_name_file_and_line(self):
        self.check("", r"no \"ssl_certificate\" is defined for the \"listen \.\.\. ssl\" "
                       r"directive in .*realip-proxy\.conf:4")
        self.check(f"ssl_certificate {cert('a.crt')};\n    ssl_certificate_key /nonexistent.key;",
                   r"cannot load certificate key \"/nonexistent.key\": .* in .*conf:7")
        self.check(f"ssl_certificate {cert('a.crt')};\n    ssl_certificate_key {cert('b.key')};",
                   r"key values mismatch in .*conf:7")
        self.check("ssl_protocols SSLv3;", r"invalid value \"SSLv3\" in \"ssl_protocols\"")
        self.check("ssl_verify_client maybe;", r"invalid value \"maybe\"")
        self.check(f"ssl_certificate {cert('a.crt')}; ssl_certificate_key {cert('a.key')};\n"
                   f"    ssl_session_ticket_key {cert('a.crt')};",
                   r"must be 80 or 48 bytes in .*conf:7")
        self.check(f"ssl_certificate {cert('a.crt')}; ssl_certificate_key {cert('a.key')};\n"
                   "    location / { proxy_protocol on; proxy_pass https://127.0.0.1:1; }",
                   r"\"proxy_protocol on\" is not supported with \"proxy_pass https://\" in "
                   r".*conf:7")


if __name__ == "__main__":
    unittest.main()
