"""HTTP limits and hostile clients, over raw sockets against the real server: body cap
(413 before the body is read), request smuggling (duplicate Content-Length, or
Content-Length with Transfer-Encoding: 400 and close), oversized headers, a client
trickling its headers (cut off by ONEFILE_REQUEST_TIMEOUT_S), and keep-alive kept, with
nothing of one request's answer (a header, a status, a body) carried into the next on the
same connection (the server reuses the connection's request record)."""
import http.client
import socket
import time
import unittest

import harness
from harness import clean_env


def status_of(reply):
    line = reply.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


class HttpLimitsTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        env = clean_env(ONEFILE_MAX_BODY_BYTES=4096, ONEFILE_REQUEST_TIMEOUT_S=2,
                        ONEFILE_CONN_TIMEOUT_S=30)
        self.s = self.serve(env=env)

    def tearDown(self):
        self.stop_clean(self.s)
        super().tearDown()

    def test_announced_body_over_limit_is_413_before_the_body(self):
        # nothing of the body is sent: the answer must come anyway
        reply = self.s.raw(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        self.assertEqual(status_of(reply), 413, reply[:300])
        self.assertIn(b"Connection: close", reply)

    def test_chunked_body_over_limit_is_413(self):
        chunk = b"x" * 3000
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
        reply = self.s.raw(b"POST /healthz HTTP/1.1\r\nHost: x\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n" + body)
        self.assertEqual(status_of(reply), 413, reply[:300])

    def test_body_within_limit_reaches_the_router(self):
        reply = self.s.raw(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                           b"Connection: close\r\n\r\nhello")
        self.assertEqual(status_of(reply), 405, reply[:300])

    def test_duplicate_content_length_is_400_and_closed(self):
        reply = self.s.raw(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                           b"Content-Length: 40\r\n\r\nhello"
                           b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status_of(reply), 400, reply[:300])
        self.assertIn(b"Connection: close", reply)
        self.assertEqual(reply.count(b"HTTP/1.1 "), 1, "a smuggled second request was answered")

    def test_content_length_with_transfer_encoding_is_400(self):
        reply = self.s.raw(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        self.assertEqual(status_of(reply), 400, reply[:300])
        self.assertIn(b"Connection: close", reply)

    def test_oversized_headers_are_refused(self):
        big = b"X-Big: " + b"a" * 100000 + b"\r\n"
        try:
            reply = self.s.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
        except ConnectionResetError:
            reply = b""
        self.assertIn(status_of(reply), (400, 413, 431, None), reply[:300])
        self.assertNotEqual(status_of(reply), 200)
        # and the server still serves
        self.assertEqual(self.s.request("GET", "/healthz")[0], 200)

    def test_trickling_client_is_cut_off(self):
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as c:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            start = time.time()
            closed_after = None
            for i in range(40):  # at most 20 s of trickling, one header every 0.5 s
                time.sleep(0.5)
                try:
                    c.sendall(b"X-Slow-%d: y\r\n" % i)
                    c.settimeout(0.01)
                    try:
                        if c.recv(1024) == b"":
                            closed_after = time.time() - start
                            break
                    except socket.timeout:
                        pass
                    finally:
                        c.settimeout(10)
                except (BrokenPipeError, ConnectionResetError):
                    closed_after = time.time() - start
                    break
        self.assertIsNotNone(closed_after, "a trickling client kept its connection for 20 s")
        self.assertLess(closed_after, 6)
        self.assertIn("request took too long to arrive", self.s.stderr())

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as c:
            for _ in range(3):
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                reply = b""
                while not reply.endswith(b"ok\n"):
                    data = c.recv(4096)
                    self.assertNotEqual(data, b"", "connection closed between requests")
                    reply += data
                self.assertEqual(status_of(reply), 200)
                self.assertNotIn(b"Connection: close", reply)

    def test_nothing_of_one_answer_leaks_into_the_next_on_the_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        try:
            def ask(method, path, body=None):
                conn.request(method, path, body=body, headers={"Accept": "application/json"})
                resp = conn.getresponse()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()

            status, headers, _ = ask("DELETE", "/healthz")
            self.assertEqual((status, headers.get("allow")), (405, "GET, HEAD"))
            status, headers, body = ask("POST", "/healthz", body=b"x" * 3000)
            self.assertEqual(status, 405)
            self.assertNotIn(b"xxx", body)
            status, headers, body = ask("GET", "/nowhere")
            self.assertEqual(status, 404)
            self.assertNotIn("allow", headers)
            status, headers, body = ask("GET", "/healthz")
            self.assertEqual((status, body), (200, b"ok\n"))
            self.assertNotIn("allow", headers)
            self.assertIn("etag", headers)
            status, headers, body = ask("GET", "/healthz")
            self.assertEqual((status, body), (200, b"ok\n"))
            self.assertEqual(headers["etag"].count('"'), 2)  # one ETag, not two
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
