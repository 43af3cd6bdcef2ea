"""`onefile serve` end to end: health and readiness, 404/405 in HTML and JSON, the request
log, graceful SIGTERM (in-flight request finished, WAL checkpointed away, exit 0), the
single-instance lock, a no-op second start, and a broken migration that stops the start
and leaves the file exactly as it was."""
import json
import os
import signal
import socket
import sqlite3
import time
import unittest

import harness
from harness import clean_env, run
from test_migrate import fingerprint


def log_lines(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


class ServeTest(harness.TestCase):
    def test_health_and_readiness(self):
        s = self.serve()
        status, headers, body = s.request("GET", "/healthz")
        self.assertEqual((status, body), (200, b"ok\n"))
        status, ready = s.json("GET", "/readyz")
        self.assertEqual(status, 200, ready)
        self.assertIs(ready["ready"], True)
        self.assertEqual(ready["journal_mode"], "wal")
        self.assertEqual(ready["busy_timeout_ms"], 5000)
        self.assertEqual(ready["synchronous"], "full")
        self.assertIs(ready["foreign_keys"], True)
        self.assertEqual(ready["migration_version"], int(harness.own_migrations()[-1][:4]))
        self.assertEqual(ready["pending_migrations"], 0)
        self.assertEqual(ready["problems"], [])
        self.stop_clean(s)

    def test_readyz_follows_configuration(self):
        s = self.serve("--busy-timeout", "1234", "--synchronous", "normal")
        status, ready = s.json("GET", "/readyz")
        self.assertEqual(status, 200)
        self.assertEqual((ready["busy_timeout_ms"], ready["synchronous"]), (1234, "normal"))
        self.stop_clean(s)

    def test_not_found_and_method_not_allowed(self):
        s = self.serve()
        status, headers, body = s.request("GET", "/no/such/page")
        self.assertEqual(status, 404)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn(b"<h1>404 Not Found</h1>", body)
        status, headers, body = s.request("GET", "/api/v1/nothing")
        self.assertEqual(status, 404)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(json.loads(body)["error"]["code"], "not_found")
        status, headers, body = s.request("DELETE", "/readyz")
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "GET, HEAD")
        status, headers, body = s.request("HEAD", "/healthz")
        self.assertEqual((status, body), (200, b""))
        # a hostile path is escaped in HTML and survives the JSON log
        status, headers, body = s.request("GET", "/%3Cscript%3E")
        self.assertEqual(status, 404)
        self.assertNotIn(b"<script>", body)
        self.stop_clean(s)

    def test_request_log_line(self):
        s = self.serve()
        s.request("GET", "/healthz")
        s.request("GET", "/missing")
        err = self.stop_clean(s)
        # lines are written as requests complete, which is not always the order they
        # were sent in: find them by path (the first /healthz is harness's readiness probe)
        reqs = [l for l in log_lines(err) if l.get("msg") == "request"]
        healthz = [l for l in reqs if l["path"] == "/healthz"]
        missing = [l for l in reqs if l["path"] == "/missing"]
        self.assertGreaterEqual(len(healthz), 2, err)  # readiness polls, then ours
        self.assertEqual(len(missing), 1, err)
        first = healthz[-1]
        self.assertEqual((first["method"], first["path"], first["status"], first["bytes"]),
                         ("GET", "/healthz", 200, 3))
        self.assertEqual(first["route"], "/healthz")
        self.assertIsInstance(first["duration_ms"], float)
        self.assertIn("ts", first)
        self.assertEqual(first["level"], "info")
        self.assertEqual((missing[0]["path"], missing[0]["status"]), ("/missing", 404))

    def test_sigterm_checkpoints_and_exits_0(self):
        s = self.serve()
        self.assertEqual(s.request("GET", "/readyz")[0], 200)
        err = self.stop_clean(s)
        self.assertIn('"msg":"stopped"', err)
        wal = self.db + "-wal"
        self.assertTrue(not os.path.exists(wal) or os.path.getsize(wal) == 0,
                        "WAL left with content after SIGTERM")
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        con.close()

    def test_sigterm_finishes_the_request_in_flight(self):
        s = self.serve()
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
            time.sleep(0.3)
            s.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            self.assertIsNone(s.proc.poll(), "server exited with a request in flight")
            c.sendall(b"world")
            reply = c.recv(65536)
        self.assertTrue(reply.startswith(b"HTTP/1.1 405"), reply[:200])
        self.assertEqual(s.proc.wait(timeout=20), 0)
        harness.assert_no_sanitizer(self, s.stderr())

    def test_second_serve_on_same_file_exits_2_naming_pid(self):
        s = self.serve()
        second = harness.Server(self.db, wait=False)
        self.servers.append(second)
        rc = second.proc.wait(timeout=30)
        self.assertEqual(rc, 2)
        self.assertIn("pid %d" % s.proc.pid, second.stderr())
        # migrate refuses while the server holds the file
        r = run(["migrate", "--db", self.db])
        self.assertEqual(r.returncode, 2)
        self.assertIn("pid %d" % s.proc.pid, r.stderr)
        self.stop_clean(s)

    def test_second_start_is_a_noop_migration(self):
        s = self.serve()
        err = self.stop_clean(s)
        started = [l for l in log_lines(err) if l.get("msg") == "listening"]
        self.assertEqual(started[0]["migrations_applied"], len(harness.own_migrations()))
        before = fingerprint(self.db)
        s = self.serve()
        err = self.stop_clean(s)
        started = [l for l in log_lines(err) if l.get("msg") == "listening"]
        self.assertEqual(started[0]["migrations_applied"], 0)
        self.assertEqual(fingerprint(self.db), before)

    def test_broken_migration_refuses_to_start_and_changes_nothing(self):
        mdir = os.path.join(self.dir, "migrations")
        os.makedirs(mdir)
        with open(os.path.join(mdir, "0001_tags.sql"), "w") as f:
            f.write("CREATE TABLE tags (name TEXT);\n")
        env = clean_env(ONEFILE_MIGRATIONS_DIR=mdir)
        s = self.serve(env=env)
        self.stop_clean(s)
        before = fingerprint(self.db)
        with open(os.path.join(mdir, "0002_broken.sql"), "w") as f:
            f.write("CREATE TABLE notes (body TEXT);\n"
                    "INSERT INTO notes VALUES ('a');\n"
                    "INSERT INTO no_such_table VALUES (1);\n")
        s = harness.Server(self.db, env=env, wait=False)
        self.servers.append(s)
        rc = s.proc.wait(timeout=30)
        err = s.stderr()
        self.assertEqual(rc, 1, err)
        self.assertIn("0002_broken.sql", err)
        self.assertIn("no such table: no_such_table", err)
        self.assertIn("line 3", err)
        harness.assert_no_sanitizer(self, err)
        self.assertEqual(fingerprint(self.db), before)

    def test_bad_listen_and_port_in_use(self):
        r = run(["serve", "--db", self.db, "--listen", "127.0.0.1:99999"])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            r = run(["serve", "--db", self.db, "--listen", "127.0.0.1:%d" % port])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("cannot listen on 127.0.0.1:%d" % port, r.stderr)
            harness.assert_no_sanitizer(self, r.stderr)


if __name__ == "__main__":
    unittest.main()
