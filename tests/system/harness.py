"""Shared helpers for the system tests: run the real onefile binary, start `serve` on a
free 127.0.0.1 port against a fresh file, talk HTTP to it, stop it, and fail on any
sanitizer report. Python standard library only.

Every server a test starts listens on 127.0.0.1, is waited for with a bounded loop, and
is stopped (SIGTERM, then SIGKILL after a deadline) when the test ends.

The engine is a parameter: ONEFILE_TEST_ENGINE=postgres (tests/CMakeLists.txt registers
the core system tests a second time with it, as system/pg/<name>) makes TestCase start one
real PostgreSQL for the test program (pg.py, stopped when the program exits) and give each
test a fresh database on it: self.db is then its postgres:// URL instead of a file path.
Tests read the database through self.sql(), which works on both; a test that is about
SQLite itself (the file, WAL, checkpoints, backups of the file) is marked
@sqlite_only("why") and is skipped, with its reason, on PostgreSQL.
"""
import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

ENGINE = os.environ.get("ONEFILE_TEST_ENGINE", "sqlite")
if ENGINE not in ("sqlite", "postgres"):
    raise SystemExit("ONEFILE_TEST_ENGINE must be sqlite or postgres, not %r" % ENGINE)
_pg_server = None
_pg_count = 0


def postgres_server():
    """The program's one PostgreSQL (started on first use, stopped at exit)."""
    global _pg_server
    if _pg_server is None:
        import pg
        _pg_server = pg.PostgresServer()
        atexit.register(_pg_server.stop)
    return _pg_server


def sqlite_only(why):
    """Marks a test that is about SQLite itself: skipped on the postgres engine."""
    return unittest.skipIf(ENGINE == "postgres", "SQLite only: " + why)

BIN = os.environ.get("ONEFILE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "onefile")

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")


def own_migrations():
    """onefile's own migration files (migrations/NNNN_name.sql), sorted: every one is
    applied to a new database, so tests count them instead of writing a number."""
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "migrations")
    return sorted(n for n in os.listdir(d) if n.endswith(".sql"))


def clean_env(**extra):
    """The environment for a child: no ONEFILE_* from the caller, then `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ONEFILE_") and not k.startswith("AWS_")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def assert_no_sanitizer(testcase, stderr):
    for mark in SANITIZER_MARKS:
        testcase.assertNotIn(mark, stderr, "sanitizer report:\n" + stderr[-4000:])


def run(args, env=None, input=None, timeout=60):
    """Runs `onefile args...` to completion; returns CompletedProcess with text output."""
    return subprocess.run([BIN] + list(args), env=env or clean_env(), input=input,
                          capture_output=True, text=True, timeout=timeout)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `onefile serve`. Use as a context manager or call stop()."""

    def __init__(self, db, extra_args=(), env=None, wait=True, log_dir=None):
        self.db = db
        # beside the data directory (serve creates that directory itself); a URL has none
        self.log_dir = log_dir or (tempfile.gettempdir() if "://" in db else os.path.dirname(
            os.path.dirname(os.path.abspath(db))))
        self.env = env or clean_env()
        self.extra_args = list(extra_args)
        self.stderr_file = None
        self._start()
        if wait:
            self.wait_ready()

    def _start(self):
        """Starts serve on a free port. Another test running in parallel may grab the same
        port between free_port() and serve's bind: wait_ready() then starts again."""
        self.port = free_port()
        self.stderr_path = os.path.join(self.log_dir, "serve-%d.log" % self.port)
        if self.stderr_file and not self.stderr_file.closed:
            self.stderr_file.close()
        self.stderr_file = open(self.stderr_path, "w+")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--db", self.db, "--listen", "127.0.0.1:%d" % self.port]
            + self.extra_args,
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.stderr_file)

    def wait_ready(self, timeout=30):
        """Waits for THIS server: its own "listening" log line, then /healthz."""
        deadline = time.time() + timeout
        restarts = 0
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = self.stderr()
                if "cannot listen" in err and restarts < 5:
                    restarts += 1  # the port was taken by a parallel test: another one
                    self._start()
                    continue
                raise AssertionError("server exited with %d:\n%s" % (self.proc.returncode, err))
            if '"msg":"listening"' in self.stderr():
                try:
                    status, _, _ = self.request("GET", "/healthz", timeout=2)
                    if status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError("server did not become healthy:\n" + self.stderr())

    def request(self, method, path, body=None, headers=None, timeout=10):
        """One request on a new connection: (status, headers dict lower-cased, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def json(self, method, path, **kw):
        status, headers, data = self.request(method, path, **kw)
        return status, json.loads(data.decode())

    def raw(self, payload, timeout=5, read_until_close=True):
        """Sends raw bytes on a new socket and returns what came back before close/timeout."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(payload)
            chunks = []
            try:
                while True:
                    c = s.recv(65536)
                    if not c:
                        break
                    chunks.append(c)
                    if not read_until_close:
                        break
            except socket.timeout:
                pass
            return b"".join(chunks)

    def stderr(self):
        if not self.stderr_file.closed:
            self.stderr_file.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the server; returns its exit code (SIGKILL after the deadline)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.stderr_file.closed:
            self.stderr_file.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class TestCase(unittest.TestCase):
    """A test case with a fresh temporary directory per test (self.dir, self.db)."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="onefile-test-")
        self.dir = self._tmp.name
        self.db = os.path.join(self.dir, "data", "onefile.db")
        self.engine = ENGINE
        if ENGINE == "postgres":
            global _pg_count
            _pg_count += 1
            self.pg = postgres_server()
            self.pg_dbname = "t%d_%d" % (os.getpid(), _pg_count)
            self.db = self.pg.create_database(self.pg_dbname)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop(sig=signal.SIGKILL)
        self._tmp.cleanup()

    def other_db(self, name):
        """A second, empty database of the test's engine (a file path, or a new database on
        the test's PostgreSQL as its URL)."""
        if self.engine == "postgres":
            return self.pg.create_database("%s_%s" % (self.pg_dbname, name))
        return os.path.join(self.dir, name, "site.db")

    def sql(self, query, db=None):
        """Runs query (no parameters) on db (default self.db), on either engine: the rows
        of a SELECT as a list of tuples, [] for anything else (committed)."""
        db = db or self.db
        is_select = query.lstrip().upper().startswith(("SELECT", "WITH"))
        if self.engine == "postgres":
            dbname = db.split("?")[0].rsplit("/", 1)[1]
            if not is_select:
                self.pg.psql(dbname, query.rstrip().rstrip(";") + ";")
                return []
            return [tuple(r.values()) for r in self.pg.query_json(dbname, query)]
        import sqlite3
        con = sqlite3.connect(db, timeout=10)
        try:
            with con:
                return [tuple(r) for r in con.execute(query).fetchall()]
        finally:
            con.close()

    def serve(self, *args, **kw):
        kw.setdefault("log_dir", self.dir)
        s = Server(kw.pop("db", self.db), extra_args=args, **kw)
        self.servers.append(s)
        return s

    def stop_clean(self, server):
        """SIGTERM, expect exit 0 and no sanitizer report; returns the server's stderr."""
        rc = server.stop()
        err = server.stderr()
        self.assertEqual(rc, 0, "serve exited %d:\n%s" % (rc, err[-4000:]))
        assert_no_sanitizer(self, err)
        return err
