"""The test PostgreSQL of pg.py: it starts (initdb into a temp directory, unix socket there,
127.0.0.1 on a free port, as `postgres` when we are root), answers on both addresses with
the authentication it promises, runs with durability off, and stops cleanly: no postmaster
left, the port free again, the directory gone. Prints how long initdb and the start took.
"""
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg  # noqa: E402


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of someone else's child still answers kill 0: look at its state
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def psql_url(url, sql):
    return subprocess.run([pg.psql_path(), "-X", "-A", "-t", "-c", sql, url],
                          capture_output=True, text=True, timeout=60,
                          env=dict({k: v for k, v in os.environ.items() if not k.startswith("PG")},
                                   PGCONNECT_TIMEOUT="10", PGPASSFILE=os.devnull))


class TestPostgresServer(unittest.TestCase):
    def test_starts_answers_and_stops_clean(self):
        server = pg.PostgresServer()
        try:
            print("initdb %.2f s, start %.2f s" % (server.initdb_s, server.start_s),
                  file=sys.stderr)
            pid = server.proc_pid
            self.assertTrue(pid and alive(pid))
            if os.geteuid() == 0:
                self.assertEqual(os.stat(server.data).st_uid,
                                 int(subprocess.check_output(["id", "-u", "postgres"])))
            # the socket lives in the server's own directory
            self.assertTrue(os.path.exists(os.path.join(server.dir, ".s.PGSQL.%d" % server.port)))
            self.assertTrue(server.scalar("postgres", "SHOW server_version_num;")
                            .startswith("15"))
            self.assertEqual(server.scalar("postgres", "SHOW listen_addresses;"), "127.0.0.1")
            for name in ("fsync", "synchronous_commit", "full_page_writes"):
                self.assertEqual(server.scalar("postgres", "SHOW %s;" % name), "off", name)
            self.assertEqual(server.scalar("postgres", "SHOW server_encoding;"), "UTF8")

            # TCP with the password works; without it, or with a wrong one, it is refused
            r = psql_url(server.url(), "SELECT 40 + 2")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "42"), r.stderr)
            r = psql_url(server.url().replace(pg.PASSWORD, "wrong"), "SELECT 1")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("password authentication failed", r.stderr)
            r = psql_url(server.url(password=False), "SELECT 1")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("no password supplied", r.stderr)
            r = psql_url(server.socket_url(), "SELECT current_user")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "postgres"), r.stderr)

            # a fresh database per test, and rows back as dicts
            url = server.create_database("t_one")
            self.assertTrue(url.endswith("/t_one"))
            server.psql("t_one", "CREATE TABLE t (id bigint PRIMARY KEY, s text);"
                        "INSERT INTO t VALUES (1, 'a'), (2, NULL);")
            self.assertEqual(server.query_json("t_one", "SELECT id, s FROM t ORDER BY id"),
                             [{"id": 1, "s": "a"}, {"id": 2, "s": None}])
            self.assertEqual(server.query_json("t_one", "SELECT 1 WHERE false"), [])
            bad = server.psql("t_one", "SELECT * FROM missing;", check=False)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("does not exist", bad.stderr)
            port, directory = server.port, server.dir
        finally:
            clean = server.stop()
        self.assertTrue(clean, "the fast stop did not work")
        deadline = time.time() + 10
        while alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        self.assertFalse(alive(pid), "postmaster still running after stop")
        self.assertFalse(os.path.exists(directory))
        with socket.socket() as s:  # nothing listens on the port any more
            s.settimeout(2)
            self.assertNotEqual(s.connect_ex(("127.0.0.1", port)), 0)
        self.assertTrue(server.stop(), "a second stop is a no-op")

    def test_two_servers_side_by_side(self):
        with pg.PostgresServer() as a, pg.PostgresServer() as b:
            self.assertNotEqual(a.port, b.port)
            a.psql("postgres", "CREATE TABLE only_in_a (x int);")
            self.assertEqual(b.scalar("postgres",
                                      "SELECT count(*) FROM pg_class WHERE relname = "
                                      "'only_in_a';"), "0")


if __name__ == "__main__":
    unittest.main(verbosity=2)
