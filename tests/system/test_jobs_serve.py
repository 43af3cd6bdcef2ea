"""Jobs inside `serve`: a contact message notifies ONEFILE_NOTIFY_WEBHOOK through the durable
queue (retried with growing delays by a receiver that fails twice), a webhook that always
fails lands in failed_jobs and `onefile jobs retry` brings it back, a kill -9 while jobs are
reserved loses none of them after a restart (each effect once, by its idempotency key), and a
malformed ONEFILE_SCHEDULE_<NAME> stops the start with exit 2.

These need jobs_start() wired into serve. Until it is, serve ignores a bad schedule variable;
the first check notices that and skips the rest with the reason."""
import http.client
import http.server
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import harness
from harness import run, clean_env

WIRED = None  # None: not probed yet


def jobs_wired():
    """Whether serve runs jobs_start(): a bad schedule variable must make it exit 2."""
    global WIRED
    if WIRED is None:
        with tempfile.TemporaryDirectory(prefix="onefile-probe-") as d:
            port = harness.free_port()
            proc = subprocess.Popen(
                [harness.BIN, "serve", "--db", os.path.join(d, "data", "x.db"), "--listen",
                 "127.0.0.1:%d" % port],
                env=clean_env(ONEFILE_SCHEDULE_QUICK_CHECK="61 * * * *"),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True)
            deadline = time.time() + 20
            while proc.poll() is None and time.time() < deadline:
                try:  # up and serving despite the bad variable: not wired
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    pass
                finally:
                    conn.close()
                time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
            _, err = proc.communicate()
            WIRED = proc.returncode == 2 and "ONEFILE_SCHEDULE_QUICK_CHECK" in err
    return WIRED


class Receiver:
    """A local webhook endpoint: records every request (time, headers, JSON body) and
    answers `fail_first` 500s, then `status`; with `hold` set it keeps requests waiting
    until release()."""

    def __init__(self, fail_first=0, status=200, hold=False):
        self.fail_first, self.status = fail_first, status
        self.hold = threading.Event()
        if not hold:
            self.hold.set()
        self.lock = threading.Lock()
        self.requests = []
        self.answered = []  # keys answered 2xx
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rec.lock:
                    i = len(rec.requests)
                    rec.requests.append({"at": time.monotonic(),
                                         "key": self.headers.get("Idempotency-Key"),
                                         "attempt": self.headers.get("X-Onefile-Attempt"),
                                         "type": self.headers.get("Content-Type"),
                                         "body": json.loads(body.decode() or "null")})
                rec.hold.wait(60)
                with rec.lock:
                    status = 500 if i < rec.fail_first else rec.status
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "4")
                    self.end_headers()
                    self.wfile.write(b"ok!\n" if status < 300 else b"bad\n")
                    if status < 300:
                        with rec.lock:
                            rec.answered.append(rec.requests[i]["key"])
                except OSError:
                    pass  # the server was killed meanwhile

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def count(self):
        with self.lock:
            return len(self.requests)

    def wait(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.count() >= n:
                return True
            time.sleep(0.05)
        return False

    def close(self):
        self.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def contact(server, i):
    body = urllib.parse.urlencode({"name": "Visitor %d" % i, "email": "v%d@example.com" % i,
                                   "message": "hello %d" % i})
    status, _, _ = server.request("POST", "/contact", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    return status


class JobsServeTest(harness.TestCase):
    def setUp(self):
        if not jobs_wired():
            self.skipTest("jobs_start() is not wired into serve yet")
        super().setUp()
        self.receivers = []

    def tearDown(self):
        for r in getattr(self, "receivers", []):
            r.close()
        super().tearDown()

    def receiver(self, **kw):
        r = Receiver(**kw)
        self.receivers.append(r)
        return r

    def env(self, **extra):
        return clean_env(**extra)

    def query(self, sql):
        return self.sql(sql)

    def wait_query(self, sql, want, timeout=30):
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            got = self.query(sql)
            if got == want:
                return
            time.sleep(0.1)
        self.fail("%s: got %r, want %r" % (sql, got, want))

    def test_bad_schedule_exits_2(self):
        for value, text in [("61 * * * *", "minute: 61 is out of range 0-59"),
                            ("0 0 30 2 *", "day-of-month: 30 never occurs in month 2")]:
            port = harness.free_port()
            r = subprocess.run([harness.BIN, "serve", "--db", self.db, "--listen",
                                "127.0.0.1:%d" % port],
                               env=self.env(ONEFILE_SCHEDULE_QUICK_CHECK=value),
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("onefile serve: ONEFILE_SCHEDULE_QUICK_CHECK: " + text, r.stderr)
            self.assertNotIn('"msg":"listening"', r.stderr)
            harness.assert_no_sanitizer(self, r.stderr)

    def test_contact_webhook_retried_with_growing_delays(self):
        rec = self.receiver(fail_first=2)
        s = self.serve(env=self.env(ONEFILE_NOTIFY_WEBHOOK=rec.url, ONEFILE_JOB_BACKOFF_MS=400))
        self.assertEqual(contact(s, 1), 303)
        self.assertTrue(rec.wait(3), s.stderr()[-3000:])
        self.wait_query("SELECT count(*) FROM jobs", [(0,)])
        time.sleep(0.5)
        self.assertEqual(rec.count(), 3)  # removed after the success: no fourth delivery
        (mid,), = self.query("SELECT id FROM messages")
        reqs = rec.requests
        self.assertEqual({q["key"] for q in reqs}, {"contact-%d" % mid})
        self.assertEqual([q["attempt"] for q in reqs], ["1", "2", "3"])
        self.assertEqual(reqs[0]["type"], "application/json")
        self.assertEqual(reqs[0]["body"]["event"], "contact.message")
        self.assertEqual(reqs[0]["body"]["id"], mid)
        self.assertEqual(reqs[0]["body"]["email"], "v1@example.com")
        d1, d2 = reqs[1]["at"] - reqs[0]["at"], reqs[2]["at"] - reqs[1]["at"]
        self.assertGreater(d1, 0.25)
        self.assertGreater(d2, d1, "delays %.3f s then %.3f s" % (d1, d2))
        self.assertEqual(self.query("SELECT count(*) FROM failed_jobs"), [(0,)])
        status, _, body = s.request("GET", "/metrics")
        text = body.decode()
        self.assertIn('onefile_jobs_completed_total{type="webhook"} 1\n', text)
        self.assertIn('onefile_jobs_retried_total{type="webhook"} 2\n', text)
        self.assertIn('onefile_jobs_queue_depth{state="failed"} 0\n', text)
        self.assertIn("# TYPE onefile_schedule_runs_total counter", text)
        self.stop_clean(s)

    def test_always_failing_job_lands_in_failed_jobs_and_retry_brings_it_back(self):
        rec = self.receiver(status=500)
        s = self.serve(env=self.env(ONEFILE_NOTIFY_WEBHOOK=rec.url, ONEFILE_JOB_BACKOFF_MS=200,
                                    ONEFILE_JOB_MAX_ATTEMPTS=3))
        self.assertEqual(contact(s, 1), 303)
        self.wait_query("SELECT attempts, last_error FROM failed_jobs",
                        [(3, "HTTP 500: bad ")])
        self.assertEqual(self.query("SELECT count(*) FROM jobs"), [(0,)])
        r = run(["jobs", "failed", "--json", "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        (failed,) = json.loads(r.stdout)
        # the receiver recovers; retry while serve runs
        with rec.lock:
            rec.status = 200
        r = run(["jobs", "retry", str(failed["id"]), "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(rec.wait(4, timeout=15))
        self.wait_query("SELECT count(*) FROM jobs", [(0,)])
        self.assertEqual(self.query("SELECT count(*) FROM failed_jobs"), [(0,)])
        self.assertEqual(rec.answered, [failed["idempotency_key"]])
        self.stop_clean(s)

    def test_kill_9_while_reserved_then_restart_runs_each_once_in_effect(self):
        rec = self.receiver(hold=True)
        env = self.env(ONEFILE_NOTIFY_WEBHOOK=rec.url, ONEFILE_JOB_WORKERS=2)
        s = self.serve(env=env)
        for i in range(4):
            self.assertEqual(contact(s, i), 303)
        self.assertTrue(rec.wait(2))  # two workers, each holding one delivery
        self.wait_query("SELECT count(*) FROM jobs WHERE reserved_at IS NOT NULL", [(2,)])
        s.stop(sig=signal.SIGKILL)
        rec.hold.set()  # the receiver answers from now on (the killed server never hears)
        self.assertEqual(self.query("SELECT count(*) FROM jobs"), [(4,)])
        s2 = self.serve(env=env)
        self.wait_query("SELECT count(*) FROM jobs", [(0,)])
        keys = {"contact-%d" % mid for (mid,) in self.query("SELECT id FROM messages")}
        self.assertEqual(len(keys), 4)
        with rec.lock:
            delivered = [q["key"] for q in rec.requests]
            answered = list(rec.answered)
        # no job lost; the two cut short ran again with the same key, so a receiver that
        # drops repeated keys sees each effect once
        self.assertEqual(set(answered), keys)
        self.assertEqual(set(delivered), keys)
        self.assertLessEqual(len(delivered), 6)
        self.assertEqual(self.query("SELECT count(*) FROM failed_jobs"), [(0,)])
        self.assertIn('"msg":"jobs released","released":2', s2.stderr())
        self.stop_clean(s2)

    def test_schedule_command_while_serving(self):
        s = self.serve(env=self.env(ONEFILE_SCHEDULE_ROLLUP_VIEWS="off"))
        r = run(["jobs", "schedule", "--json", "--db", self.db],
                env=clean_env(ONEFILE_SCHEDULE_ROLLUP_VIEWS="off"))
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {j["job"]: j for j in json.loads(r.stdout)}
        self.assertIsNone(rows["rollup-views"]["next"])
        status, _, body = s.request("GET", "/metrics")
        self.assertIn('onefile_schedule_next_run_timestamp_seconds{job="rollup-views"} -1',
                      body.decode())
        self.stop_clean(s)


if __name__ == "__main__":
    unittest.main()
