"""Slow clients and connection floods, bounded: connections that send nothing are cut after
ONEFILE_FIRST_BYTE_TIMEOUT_S; one address cannot hold more than ONEFILE_MAX_CONNS_PER_IP
connections; slowloris (headers a byte at a time) and slow-body clients are cut by
ONEFILE_REQUEST_TIMEOUT_S; and while they run, a legitimate client's p99 stays within 2x of
its quiet p99 (with a 10 ms floor: the test machine is shared, and a p99 of a few
milliseconds doubles on a scheduling hiccup alone).

The attackers connect from other loopback addresses (127.0.0.2-5; Linux routes all of
127/8 to lo) so the per-address cap applies to them and not to the legitimate client.
Every loop is bounded in count and time.
"""
import http.client
import select
import socket
import threading
import time
import unittest

import harness
from harness import clean_env

FIRST_BYTE_S = 1
REQUEST_S = 3
PER_IP = 40


def connect(port, source, timeout=5):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))


def closed_within(sock, seconds):
    """Whether the server closes sock within seconds (reads EOF or a reset)."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1024) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def p99(samples):
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(len(samples) * 0.99))]


class HttpSlowClientsTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        env = clean_env(ONEFILE_FIRST_BYTE_TIMEOUT_S=FIRST_BYTE_S,
                        ONEFILE_REQUEST_TIMEOUT_S=REQUEST_S, ONEFILE_CONN_TIMEOUT_S=30,
                        ONEFILE_MAX_CONNS_PER_IP=PER_IP, ONEFILE_MAX_BODY_BYTES=8192)
        self.s = self.serve(env=env)
        self.socks = []

    def tearDown(self):
        for c in self.socks:
            c.close()
        self.stop_clean(self.s)
        super().tearDown()

    def metric(self, name):
        body = self.s.request("GET", "/metrics")[2].decode()
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        self.fail("no %s in /metrics" % name)

    def legit_latencies(self, n):
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        out = []
        try:
            for _ in range(n):
                t0 = time.perf_counter()
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                out.append(time.perf_counter() - t0)
                self.assertEqual(resp.status, 200)
        finally:
            conn.close()
        return out

    def test_silent_connections_are_cut_after_the_first_byte_timeout(self):
        for _ in range(30):
            self.socks.append(connect(self.s.port, "127.0.0.2"))
        start = time.time()
        self.assertTrue(all(closed_within(c, FIRST_BYTE_S + 3) for c in self.socks))
        self.assertLess(time.time() - start, FIRST_BYTE_S + 2.5)
        self.assertGreaterEqual(self.metric("onefile_http_silent_connections_cut_total"), 30)
        # a client that does send within the timeout is served
        self.assertEqual(self.s.request("GET", "/healthz")[0], 200)

    def test_one_address_gets_at_most_its_cap_of_connections(self):
        refused = 0
        for _ in range(PER_IP + 20):
            c = connect(self.s.port, "127.0.0.3")
            self.socks.append(c)
            try:  # a byte, so the first-byte cut does not close the ones let in
                c.sendall(b"G")
            except OSError:
                refused += 1
        time.sleep(0.3)
        readable, _, _ = select.select(self.socks, [], [], 0)  # the closed ones: EOF
        refused = max(refused, len(readable))
        self.assertGreaterEqual(refused, 20, "connections over the per-address cap stayed open")
        self.assertLessEqual(refused, 25)
        # another address is not affected
        self.assertEqual(self.s.request("GET", "/healthz")[0], 200)

    def test_slowloris_and_slow_bodies_are_cut_and_legit_p99_holds(self):
        self.legit_latencies(20)  # warm up
        quiet = p99(self.legit_latencies(200))

        stop = threading.Event()
        attackers = []
        for i in range(PER_IP - 5):
            c = connect(self.s.port, "127.0.0.4")
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            attackers.append(("loris", c, time.time()))
        for i in range(PER_IP - 5):
            c = connect(self.s.port, "127.0.0.5")
            c.sendall(b"POST /contact HTTP/1.1\r\nHost: x\r\nContent-Length: 8000\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n\r\nname=")
            attackers.append(("body", c, time.time()))
        cut_after = {}

        def trickle():
            for tick in range(int((REQUEST_S + 3) / 0.25)):  # bounded: ~6 s
                if stop.is_set():
                    return
                for kind, c, t0 in attackers:
                    if c in cut_after:
                        continue
                    try:
                        c.sendall(b"X-A: b\r\n" if kind == "loris" else b"a")
                    except OSError:
                        cut_after[c] = time.time() - t0
                time.sleep(0.25)

        t = threading.Thread(target=trickle)
        t.start()
        try:
            under_attack = p99(self.legit_latencies(200))
        finally:
            t.join(timeout=15)
            stop.set()
        for kind, c, t0 in attackers:  # the rest: are they closed now?
            if c not in cut_after and closed_within(c, 2):
                cut_after[c] = time.time() - t0
            c.close()
        self.assertEqual(len(cut_after), len(attackers), "some slow clients were never cut")
        self.assertLess(max(cut_after.values()), REQUEST_S + 3)
        self.assertLessEqual(under_attack, max(2 * quiet, 0.010),
                             "p99 %.2f ms under attack, %.2f ms quiet"
                             % (under_attack * 1e3, quiet * 1e3))


if __name__ == "__main__":
    unittest.main()
