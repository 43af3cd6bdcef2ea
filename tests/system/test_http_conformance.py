"""HTTP/1.1 framing and parsing conformance, as data: raw bytes in, the expected status and
whether the connection must be closed, against the real server over a raw socket.

The vectors are written from RFC 9112 (message syntax) and RFC 9110 (semantics), and
from the public catalogues of request-smuggling findings (Http11Probe, http-garden:
chunk sizes such as "0_2e", a bare LF in a chunk line, obs-fold, whitespace in names,
duplicate and conflicting framing headers, NUL/CR in values, absent Host, invalid
methods). Each one names its source.

How a vector is checked:
- "close": the server must close the connection after its answer; a second request
  smuggled after the first (GET /healthz) must NOT be answered - one status line only.
- "keep": the connection stays usable: a pipelined GET /healthz after the request is
  answered 200 on the same connection (so the server and the checker agreed on where
  the first request ended).
- "any": HTTP/1.0 without keep-alive; only the status is checked.

The server runs with ONEFILE_MAX_BODY_BYTES=4096. A refused request must get exactly one
clean answer (one status line: libmicrohttpd 0.9.75 on its own sends two for a malformed
Content-Length), and every refusal must be counted in /metrics.
"""
import socket
import unittest
import time

import harness
from harness import clean_env

NEXT = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
H = b"Host: x\r\n"


def get(extra=b"", path=b"/healthz", version=b"HTTP/1.1", host=H):
    return b"GET " + path + b" " + version + b"\r\n" + host + extra + b"\r\n"


def post(headers, body=b"", path=b"/healthz"):
    return b"POST " + path + b" HTTP/1.1\r\n" + H + headers + b"\r\n" + body


def chunked(body):
    return post(b"Transfer-Encoding: chunked\r\n", body)


PARAMS_OK = b"/healthz?" + b"&".join(b"p%d=1" % i for i in range(128))
PARAMS_BAD = b"/healthz?" + b"&".join(b"p%d=1" % i for i in range(480))  # D10: 4 KB URL
FIELDS_OK = b"".join(b"X-F%d: v\r\n" % i for i in range(63))
FIELDS_BAD = b"".join(b"X-F%d: v\r\n" % i for i in range(65))
COOKIES_OK = b"Cookie: " + b"; ".join(b"c%d=v" % i for i in range(64)) + b"\r\n"
COOKIES_BAD = b"Cookie: " + b"; ".join(b"c%d=v" % i for i in range(65)) + b"\r\n"
HEAD_OK = b"".join(b"X-Pad%d: %s\r\n" % (i, b"p" * 1000) for i in range(11))
HEAD_BAD = b"".join(b"X-Pad%d: %s\r\n" % (i, b"p" * 1000) for i in range(13))

# (name, request, expected status (int or tuple), "close" | "keep" | "any", source)
VECTORS = [
    # ---- well-formed requests are served, and the connection kept ----
    ("plain GET", get(), 200, "keep", "RFC 9112 3"),
    ("HTTP/1.0 without Host", get(version=b"HTTP/1.0", host=b""), 200, "any", "RFC 9112 3.2"),
    ("empty line before the request line", b"\r\n" + get(), 200, "keep", "RFC 9112 2.2"),
    ("bare LF line endings", b"GET /healthz HTTP/1.1\nHost: x\n\n", 200, "keep",
     "RFC 9112 2.2 (MAY)"),
    ("empty Host", get(host=b"Host:\r\n"), 200, "keep", "RFC 9110 7.2"),
    ("trailing whitespace in a value", get(b"X-A: b \t\r\n"), 200, "keep", "RFC 9112 5.1"),
    ("obs-text in a value", get(b"X-A: caf\xc3\xa9\r\n"), 200, "keep", "RFC 9110 5.5"),
    ("HTTP/1.2 read as 1.1", get(version=b"HTTP/1.2"), 200, "keep", "RFC 9110 2.5"),
    ("Content-Length with leading zeros", post(b"Content-Length: 005\r\n", b"hello"), 405,
     "keep", "RFC 9110 8.6"),
    ("Content-Length 0 on GET", get(b"Content-Length: 0\r\n"), 200, "keep", "RFC 9110 8.6"),
    ("chunked body", chunked(b"5\r\nhello\r\n0\r\n\r\n"), 405, "keep", "RFC 9112 7.1"),
    ("chunked, coding name in capitals",
     post(b"Transfer-Encoding: Chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"), 405, "keep",
     "RFC 9112 7 (case-insensitive)"),
    ("chunk extension", chunked(b"5;name=value\r\nhello\r\n0;x\r\n\r\n"), 405, "keep",
     "RFC 9112 7.1.1"),
    ("hex chunk size in capitals", chunked(b"A\r\n0123456789\r\n0\r\n\r\n"), 405, "keep",
     "RFC 9112 7.1"),
    ("trailer fields", chunked(b"5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"), 405, "keep",
     "RFC 9112 7.1.2"),
    ("128 query parameters", get(path=PARAMS_OK), 200, "keep", "limit (ours)"),
    ("63 more fields", get(FIELDS_OK), 200, "keep", "limit (ours)"),
    ("64 cookies", get(COOKIES_OK), 200, "keep", "limit (ours)"),
    ("an 11 KB head", get(HEAD_OK), 200, "keep", "limit (ours)"),
    # ---- field names and lines ----
    ("space before the colon (D6)", post(b"Content-Length : 34\r\n", NEXT[:34]), 400,
     "close", "RFC 9112 5.1 MUST 400"),
    ("tab before the colon", get(b"X-A\t: b\r\n"), 400, "close", "RFC 9112 5.1"),
    ("space before the colon of Transfer-Encoding (D6)",
     post(b"Transfer-Encoding : chunked\r\n", b"0\r\n\r\n"), 400, "close", "RFC 9112 5.1"),
    ("obs-fold", get(b"X-A: b\r\n c\r\n"), 400, "close", "RFC 9112 5.2"),
    ("whitespace before the first field", b"GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n", 400,
     "close", "RFC 9112 2.2"),
    ("field without a colon", get(b"X-A b\r\n"), 400, "close", "RFC 9112 5"),
    ("empty field name", get(b": b\r\n"), 400, "close", "RFC 9110 5.1"),
    ("non-token character in a name", get(b"X@A: b\r\n"), 400, "close", "RFC 9110 5.1"),
    ("NUL in a name", get(b"X\x00A: b\r\n"), 400, "close", "RFC 9110 5.1"),
    # ---- field values ----
    ("bare CR in a value", get(b"X-A: a\rb\r\n"), 400, "close", "RFC 9110 5.5 MUST"),
    ("NUL in a value", get(b"X-A: a\x00b\r\n"), 400, "close", "RFC 9110 5.5 MUST"),
    ("control character in a value", get(b"X-A: a\x01b\r\n"), 400, "close", "RFC 9110 5.5"),
    ("DEL in a value", get(b"X-A: a\x7fb\r\n"), 400, "close", "RFC 9110 5.5"),
    ("bare CR ending the request line", b"GET /healthz HTTP/1.1\rHost: x\r\n\r\n", 400,
     "close", "RFC 9112 2.2"),
    # ---- Host ----
    ("HTTP/1.1 without Host", get(host=b""), 400, "close", "RFC 9112 3.2 MUST 400"),
    ("two Host fields", get(b"Host: y\r\n"), 400, "close", "RFC 9112 3.2 MUST 400"),
    ("Host with a space inside", get(host=b"Host: a b\r\n"), 400, "close", "RFC 9112 3.2"),
    # ---- Content-Length (D9) ----
    ("Content-Length -1", post(b"Content-Length: -1\r\n"), 400, "close", "RFC 9110 8.6"),
    ("Content-Length +13", post(b"Content-Length: +13\r\n"), 400, "close", "RFC 9110 8.6"),
    ("Content-Length 0xd", post(b"Content-Length: 0xd\r\n"), 400, "close", "RFC 9110 8.6"),
    ("Content-Length list 13, 13", post(b"Content-Length: 13, 13\r\n"), 400, "close",
     "RFC 9110 8.6 (MAY reject; nginx does)"),
    ("Content-Length 2^64", post(b"Content-Length: 18446744073709551616\r\n"), 400, "close",
     "RFC 9110 8.6"),
    ("Content-Length with a space inside", post(b"Content-Length: 1 2\r\n"), 400, "close",
     "RFC 9110 8.6"),
    ("empty Content-Length", post(b"Content-Length:\r\n"), 400, "close", "RFC 9110 8.6"),
    ("two equal Content-Length", post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"),
     400, "close", "RFC 9112 6.3 (nginx refuses)"),
    ("two different Content-Length",
     post(b"Content-Length: 5\r\nContent-Length: 40\r\n", b"hello"), 400, "close",
     "RFC 9112 6.3"),
    ("Content-Length over the cap", post(b"Content-Length: 4097\r\n"), 413, "close",
     "RFC 9110 15.5.14"),
    # ---- Transfer-Encoding ----
    ("Content-Length and Transfer-Encoding",
     post(b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"), 400, "close",
     "RFC 9112 6.1"),
    ("unknown coding", post(b"Transfer-Encoding: gzip\r\n"), 501, "close",
     "RFC 9112 6.1 SHOULD 501"),
    ("chunked not last", post(b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n"), 501,
     "close", "RFC 9112 6.1"),
    ("gzip then chunked", post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"), 501,
     "close", "RFC 9112 6.1"),
    ("identity", post(b"Transfer-Encoding: identity\r\n"), 501, "close", "RFC 9112 6.1"),
    ("chunked on HTTP/1.0",
     b"POST /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "close",
     "RFC 9112 6.1 (faulty framing)"),
    ("two Transfer-Encoding fields",
     post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"), 400,
     "close", "RFC 9112 6.1"),
    ("empty Transfer-Encoding", post(b"Transfer-Encoding:\r\n"), 400, "close", "RFC 9112 6.1"),
    # ---- chunk lines (http-garden, Http11Probe) ----
    ("chunk size 0_2e", chunked(b"0_2e\r\n" + b"x" * 46 + b"\r\n0\r\n\r\n"), 400, "close",
     "RFC 9112 7.1 (http-garden)"),
    ("chunk size 0x5", chunked(b"0x5\r\nhello\r\n0\r\n\r\n"), 400, "close", "RFC 9112 7.1"),
    ("chunk size +5", chunked(b"+5\r\nhello\r\n0\r\n\r\n"), 400, "close", "RFC 9112 7.1"),
    ("chunk size -5", chunked(b"-5\r\nhello\r\n0\r\n\r\n"), 400, "close", "RFC 9112 7.1"),
    ("space before a chunk size", chunked(b" 5\r\nhello\r\n0\r\n\r\n"), 400, "close",
     "RFC 9112 7.1"),
    ("empty chunk size", chunked(b"\r\nhello\r\n0\r\n\r\n"), 400, "close", "RFC 9112 7.1"),
    ("17 hex digits", chunked(b"00000000000000005\r\nhello\r\n0\r\n\r\n"), 400, "close",
     "RFC 9112 7.1 (overflow)"),
    ("bare LF ending a chunk line", chunked(b"5\nhello\r\n0\r\n\r\n"), 400, "close",
     "RFC 9112 7.1 (http-garden)"),
    ("bare CR ending a chunk line", chunked(b"5\rhello\r\n0\r\n\r\n"), 400, "close",
     "RFC 9112 7.1"),
    ("chunk data longer than its size", chunked(b"3\r\nhello\r\n0\r\n\r\n"), 400, "close",
     "RFC 9112 7.1"),
    ("chunk data ended by a bare LF", chunked(b"5\r\nhello\n0\r\n\r\n"), 400, "close",
     "RFC 9112 7.1 (http-garden)"),
    ("control character in a chunk extension", chunked(b"5;a\x00b\r\nhello\r\n0\r\n\r\n"),
     400, "close", "RFC 9112 7.1.1"),
    ("one chunk over the cap", chunked(b"1001\r\n"), 413, "close", "RFC 9110 15.5.14 (D1)"),
    ("chunks adding up over the cap",
     chunked(b"800\r\n" + b"x" * 2048 + b"\r\n800\r\n" + b"x" * 2048 + b"\r\n1\r\n"), 413,
     "close", "RFC 9110 15.5.14 (D1)"),
    # ---- request line ----
    ("%00 in the path", get(path=b"/static/style.css%00.txt"), 400, "close",
     "RFC 3986 (nginx refuses a decoded NUL)"),
    ("NUL in the target", get(path=b"/static/style.css\x00.txt"), 400, "close",
     "RFC 9112 3.2"),
    ("space inside the target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close",
     "RFC 9112 3"),
    ("two spaces after the method", b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400,
     "close", "RFC 9112 3"),
    ("tab after the method", b"GET\t/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close",
     "RFC 9112 3"),
    ("invalid method characters", b"G(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close",
     "RFC 9110 9.1 (token)"),
    ("no version (HTTP/0.9)", b"GET /healthz\r\n\r\n", 400, "close", "RFC 9112 2.3"),
    ("version in lower case", get(version=b"http/1.1"), 400, "close",
     "RFC 9112 2.3 (case-sensitive)"),
    ("HTTP/2.0 over HTTP/1 framing", get(version=b"HTTP/2.0"), 505, "close", "RFC 9110 15.6.6"),
    ("trailing space after the version", b"GET /healthz HTTP/1.1 \r\nHost: x\r\n\r\n", 400,
     "close", "RFC 9112 3"),
    # ---- limits: an answer, never a silent close (D10) ----
    ("480 query parameters", get(path=PARAMS_BAD), 414, "close", "RFC 9110 15.5.15"),
    ("request line over 8 KiB", get(path=b"/" + b"a" * 8200), 414, "close", "RFC 9110 15.5.15"),
    ("header line over 8 KiB", get(b"X-Big: " + b"b" * 8200 + b"\r\n"), 431, "close",
     "RFC 6585 5"),
    ("a 16,100-byte Cookie", get(b"Cookie: a=" + b"c" * 16100 + b"\r\n"), 431, "close",
     "RFC 6585 5"),
    ("head over 12 KiB", get(HEAD_BAD), 431, "close", "RFC 6585 5"),
    ("65 more fields", get(FIELDS_BAD), 431, "close", "RFC 6585 5"),
    ("65 cookies", get(COOKIES_BAD), 431, "close", "RFC 6585 5"),
]


def statuses(data):
    """The status codes of every response in data, in order (response heads only)."""
    out = []
    for part in data.split(b"HTTP/1.1 ")[1:]:
        code = part[:3]
        if code.isdigit():
            out.append(int(code))
    return out


class HttpConformanceTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.s = self.serve(env=clean_env(ONEFILE_MAX_BODY_BYTES=4096, ONEFILE_CONN_TIMEOUT_S=30,
                                          ONEFILE_REQUEST_TIMEOUT_S=10))

    def tearDown(self):
        self.stop_clean(self.s)
        super().tearDown()

    def exchange(self, payload, timeout=3.0):
        """Sends payload; returns (bytes received, closed) - closed when the server ended
        the stream (or reset it) within timeout."""
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=timeout) as c:
            try:
                c.sendall(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass
            data, closed = b"", False
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    got = c.recv(65536)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    closed = True
                    break
                if not got:
                    closed = True
                    break
                data += got
            return data, closed

    def test_vectors(self):
        failures = []
        for name, request, want, conn, source in VECTORS:
            payload = request + NEXT if conn in ("close", "keep") else request
            data, closed = self.exchange(payload)
            got = statuses(data)
            wants = want if isinstance(want, tuple) else (want,)
            problem = None
            if not got or got[0] not in wants:
                problem = "status %s, want %s" % (got[:1] or "none", want)
            elif conn == "close":
                if not closed:
                    problem = "connection left open"
                elif len(got) != 1:
                    problem = "%d answers (a smuggled request was answered)" % len(got)
                elif b"Connection: close" not in data:
                    problem = "no Connection: close"
            elif conn == "keep" and got[1:2] != [200]:
                problem = "the pipelined request after it got %s" % (got[1:2] or "nothing")
            if problem:
                failures.append("%s [%s]: %s\n    %r" % (name, source, problem, data[:200]))
        self.assertEqual(failures, [], "\n".join(failures))

    def test_refusals_are_counted_and_logged_at_a_bounded_rate(self):
        for _ in range(40):
            self.exchange(get(b"X-A: a\x00b\r\n"), timeout=2)
        body = self.s.request("GET", "/metrics")[2].decode()
        line = [x for x in body.splitlines()
                if x.startswith('onefile_http_refused_total{status="400"}')]
        self.assertEqual(len(line), 1, body[-2000:])
        self.assertGreaterEqual(int(line[0].split()[-1]), 40)
        logged = self.s.stderr().count("request refused, connection closed")
        self.assertGreaterEqual(logged, 1)
        # at most 10 lines a second: 40 refusals in well under 4 s cannot all be logged
        self.assertLess(logged, 40)


if __name__ == "__main__":
    unittest.main()
