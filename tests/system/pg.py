"""A real PostgreSQL 15 for a system test: initdb into a fresh temporary directory, listen
on a unix socket in that directory and on 127.0.0.1 (a free port), stop and remove it when
the test is done. Python standard library only; queries go through Debian's `psql`.

    with pg.PostgresServer() as server:
        url = server.create_database("t1")      # postgresql://postgres@127.0.0.1:PORT/t1
        rows = server.query_json("t1", "SELECT ...")  # the query's rows, as dicts

How it works
- The binaries come from Debian's postgresql-15 (`scripts/install-deps test`), found in
  ONEFILE_PG_BINDIR, else /usr/lib/postgresql/15/bin. A missing server is a test FAILURE
  with that command in the message, never a skip: a suite that silently skips PostgreSQL
  would claim what it did not prove.
- PostgreSQL refuses to run as root. When the tests run as root, the directory belongs to
  the `postgres` user and initdb/pg_ctl run through `runuser -u postgres`; otherwise as the
  caller. Clients (psql, onefile) run as the caller and connect as the superuser `postgres`.
- Authentication: trust on the unix socket; scram-sha-256 with PASSWORD on 127.0.0.1, so
  a test can prove a password in a URL works and a wrong one is refused.
- Durability is off (fsync, synchronous_commit, full_page_writes): a test server's data
  never has to survive a power cut, and the suite runs on a shared 2-core machine.
- Every wait is bounded: pg_ctl -w -t, subprocess timeouts, then SIGKILL of the
  postmaster (its pid from postmaster.pid) if a fast and an immediate stop both fail.
- Another test may take the port between free_port() and the postmaster's bind: start
  retries on a new port (a few times) when the log says the address is in use.

initdb_s and start_s record how long initdb and the start took (test_pg.py prints them).
"""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PASSWORD = "onefile-test-pw"
SUPERUSER = "postgres"


def bindir():
    """The directory of initdb/pg_ctl/postgres, or an AssertionError naming the fix."""
    candidates = [os.environ.get("ONEFILE_PG_BINDIR", ""), "/usr/lib/postgresql/15/bin"]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for d in candidates:
        if d and os.path.exists(os.path.join(d, "initdb")) and \
                os.path.exists(os.path.join(d, "pg_ctl")):
            return d
    raise AssertionError("PostgreSQL 15 is needed for this test: scripts/install-deps test "
                         "(Debian postgresql-15), or set ONEFILE_PG_BINDIR")


def psql_path():
    d = bindir()
    p = os.path.join(d, "psql")
    return p if os.path.exists(p) else (shutil.which("psql") or p)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One initdb'd and running PostgreSQL. Use as a context manager or call stop()."""

    def __init__(self, timeout=60, settings=None):
        self.bin = bindir()
        self.as_root = os.geteuid() == 0
        self.timeout = timeout
        self.port = None
        self.proc_pid = None
        self.dir = tempfile.mkdtemp(prefix="onefile-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.stopped = False
        try:
            if self.as_root:
                shutil.chown(self.dir, user=SUPERUSER)
            self._initdb(settings or {})
            self._start()
        except BaseException:
            self.stop()
            raise

    # --- running the server's own programs (as `postgres` when we are root) ---

    def _server_cmd(self, args, timeout):
        cmd = [os.path.join(self.bin, args[0])] + list(args[1:])
        if self.as_root:
            cmd = ["runuser", "-u", SUPERUSER, "--"] + cmd
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, cwd=self.dir)

    def _initdb(self, settings):
        pwfile = os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        if self.as_root:
            shutil.chown(pwfile, user=SUPERUSER)
        t = time.monotonic()
        r = self._server_cmd(["initdb", "-D", self.data, "-U", SUPERUSER, "-E", "UTF8",
                              "--locale=C.UTF-8", "--auth-local=trust",
                              "--auth-host=scram-sha-256", "--pwfile=" + pwfile, "--no-sync"],
                             timeout=self.timeout)
        self.initdb_s = time.monotonic() - t
        os.unlink(pwfile)
        if r.returncode != 0:
            raise AssertionError("initdb failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "'%s'" % self.dir,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "'32MB'",
            "max_connections": "100",
            "log_min_messages": "warning",
            "log_line_prefix": "'%m [%p] '",
        }
        conf.update({k: str(v) for k, v in settings.items()})
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# onefile tests (tests/system/pg.py)\n")
            for k, v in conf.items():
                f.write("%s = %s\n" % (k, v))

    def _start(self):
        t = time.monotonic()
        for _ in range(5):
            self.port = free_port()
            r = self._server_cmd(["pg_ctl", "start", "-D", self.data, "-l", self.log_path,
                                  "-w", "-t", str(self.timeout),
                                  "-o", "-p %d" % self.port], timeout=self.timeout + 10)
            if r.returncode == 0:
                self.start_s = time.monotonic() - t
                self.proc_pid = self._postmaster_pid()
                return
            if "in use" not in self.log():
                break
        raise AssertionError("pg_ctl start failed (%d):\n%s%s\n%s" %
                             (r.returncode, r.stdout, r.stderr, self.log()[-4000:]))

    def _postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # --- addresses ---

    def url(self, dbname="postgres", password=True):
        """A TCP URL on 127.0.0.1 (password included unless password=False)."""
        auth = SUPERUSER + (":" + PASSWORD if password else "")
        return "postgresql://%s@127.0.0.1:%d/%s" % (auth, self.port, dbname)

    def socket_url(self, dbname="postgres"):
        """A URL through the unix socket in the server's directory (trust, no password)."""
        return "postgresql:///%s?host=%s&port=%d&user=%s" % (dbname, self.dir, self.port,
                                                             SUPERUSER)

    # --- queries (psql as the caller, through the socket) ---

    def psql(self, dbname, sql, check=True, timeout=60):
        """Runs `sql` with psql (ON_ERROR_STOP); returns its CompletedProcess (text)."""
        r = subprocess.run([psql_path(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.dir, "-p", str(self.port), "-U", SUPERUSER,
                            "-d", dbname], input=sql, capture_output=True, text=True,
                           timeout=timeout, env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
        if check and r.returncode != 0:
            raise AssertionError("psql %s failed (%d): %s\n%s" % (dbname, r.returncode,
                                                                   r.stderr, sql[:2000]))
        return r

    def query_json(self, dbname, sql):
        """The rows of one SELECT as a list of dicts (json_agg on the server side)."""
        out = self.psql(dbname, "SELECT coalesce(json_agg(q), '[]'::json) FROM (%s) q;"
                        % sql.rstrip().rstrip(";")).stdout
        return json.loads(out)

    def scalar(self, dbname, sql):
        return self.psql(dbname, sql).stdout.strip()

    def create_database(self, name):
        """A new empty database (from template0, UTF8, C.UTF-8); returns its TCP URL."""
        self.psql("postgres", 'CREATE DATABASE "%s" TEMPLATE template0;' % name)
        return self.url(name)

    # --- stopping ---

    def stop(self):
        """Stops the server (fast, then immediate, then SIGKILL) and removes its directory.
        Returns True when the first, orderly stop worked."""
        if self.stopped:
            return True
        self.stopped = True
        clean = False
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            for mode in ("fast", "immediate"):
                try:
                    r = self._server_cmd(["pg_ctl", "stop", "-D", self.data, "-m", mode,
                                          "-w", "-t", "30"], timeout=40)
                    if r.returncode == 0:
                        clean = mode == "fast"
                        break
                except subprocess.TimeoutExpired:
                    pass
            else:
                pid = self._postmaster_pid() or self.proc_pid
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        else:
            clean = True
        shutil.rmtree(self.dir, ignore_errors=True)
        return clean

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def main(argv):
    """`python3 pg.py run -- CMD ARGS...`: runs CMD with a fresh server and database, their
    URL in ONEFILE_TEST_PG_URL; exits with CMD's code (CTest's way to give a C test a real
    PostgreSQL: tests/CMakeLists.txt, unit tests named test_pg_*)."""
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print("usage: pg.py run -- CMD [ARGS...]", file=sys.stderr)
        return 2
    with PostgresServer() as server:
        url = server.create_database("onefile_test")
        env = dict(os.environ, ONEFILE_TEST_PG_URL=url)
        return subprocess.run(argv[2:], env=env, stdin=subprocess.DEVNULL,
                              timeout=600).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
