"""`onefile check`: any SQLite file is inspected and never written; exit 0 healthy,
1 problems found, 2 cannot check (one line on stderr)."""
import hashlib
import json
import os
import sqlite3
import unittest

import harness
from harness import run, clean_env


def state(path):
    """What a check must not change: the file's bytes and modification time."""
    with open(path, "rb") as f:  # a test file, no connection open on it
        digest = hashlib.sha256(f.read()).hexdigest()
    return digest, os.stat(path).st_mtime_ns


class CheckTest(harness.TestCase):
    def check(self, path, *args, env=None):
        r = run(["check", "--db", path] + list(args), env=env)
        harness.assert_no_sanitizer(self, r.stderr)
        return r

    def plain_db(self, name="plain.sqlite"):
        """A file made by Python's sqlite3 module: rollback journal (delete mode)."""
        path = os.path.join(self.dir, name)
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        con.executemany("INSERT INTO notes (body) VALUES (?)",
                        [("note %d" % i,) for i in range(500)])
        con.commit()
        con.close()
        return path

    def test_delete_mode_is_a_problem_then_wal_is_healthy(self):
        path = self.plain_db()
        before = state(path)
        r = self.check(path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("journal_mode: delete", r.stdout)
        self.assertIn("problem: journal_mode is delete, onefile needs wal", r.stdout)
        self.assertEqual(r.stdout.splitlines()[-1], "1 problem")
        self.assertEqual(state(path), before)
        for suffix in ("-wal", "-shm", "-journal"):
            self.assertFalse(os.path.exists(path + suffix), suffix)

        con = sqlite3.connect(path)
        self.assertEqual(con.execute("PRAGMA journal_mode=WAL").fetchone()[0], "wal")
        con.close()
        before = state(path)
        r = self.check(path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("journal_mode: wal", r.stdout)
        self.assertIn("quick_check: ok", r.stdout)
        self.assertEqual(r.stdout.splitlines()[-1], "healthy")
        self.assertNotIn("problem:", r.stdout)
        self.assertEqual(state(path), before)

    def test_json_report(self):
        path = self.plain_db()
        r = self.check(path, "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        report = json.loads(r.stdout)
        self.assertIs(report["ok"], False)
        self.assertEqual(report["journal_mode"], "delete")
        self.assertTrue(any("journal_mode" in p for p in report["problems"]))
        self.assertEqual(report["quick_check"], ["ok"])
        self.assertEqual(report["foreign_key_check"]["violations"], 0)
        self.assertEqual(report["file_bytes"], os.path.getsize(path))
        self.assertNotIn("migrations", report)

        r = self.check(path, "--json", "--full")
        report = json.loads(r.stdout)
        self.assertEqual(report["integrity_check"], ["ok"])
        self.assertNotIn("quick_check", report)

    def test_onefile_database_and_its_migrations(self):
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        before = state(self.db)
        r = self.check(self.db, "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertIs(report["ok"], True)
        self.assertEqual(report["journal_mode"], "wal")
        self.assertGreaterEqual(report["migrations"]["version"], 1)
        self.assertEqual(report["migrations"]["pending"], [])
        self.assertEqual(state(self.db), before)

        # a site migration not applied yet is a named problem
        mdir = os.path.join(self.dir, "migrations")
        os.makedirs(mdir)
        with open(os.path.join(mdir, "0001_tags.sql"), "w") as f:
            f.write("CREATE TABLE tags (name TEXT);\n")
        r = self.check(self.db, env=clean_env(ONEFILE_MIGRATIONS_DIR=mdir))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("problem: migrations: 1 pending: 0001_tags.sql (site)", r.stdout)
        self.assertEqual(state(self.db), before)

    def test_foreign_key_violation_is_named(self):
        path = os.path.join(self.dir, "fk.sqlite")
        con = sqlite3.connect(path)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE authors (id INTEGER PRIMARY KEY)")
        con.execute("CREATE TABLE books (id INTEGER PRIMARY KEY,"
                    " author_id INTEGER REFERENCES authors(id))")
        con.execute("INSERT INTO books (id, author_id) VALUES (5, 99)")
        con.commit()
        con.close()
        r = self.check(path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("foreign_key_check: 1 violation", r.stdout)
        self.assertIn("books rowid 5 references authors", r.stdout)

    def test_missing_path_cannot_be_checked_and_stays_missing(self):
        path = os.path.join(self.dir, "nothing", "here.db")
        r = self.check(path)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("onefile check: "), lines[0])
        self.assertIn(path, lines[0])
        self.assertIn("no such file", lines[0])
        self.assertFalse(os.path.exists(path))
        self.assertFalse(os.path.exists(os.path.dirname(path)))

    def test_text_file_is_not_a_database(self):
        path = os.path.join(self.dir, "notes.txt")
        with open(path, "w") as f:
            f.write("just some text, certainly not SQLite\n" * 100)
        before = state(path)
        r = self.check(path, "--json")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("not a SQLite database", lines[0])
        self.assertEqual(state(path), before)
        self.assertFalse(os.path.exists(path + "-journal"))
        self.assertFalse(os.path.exists(path + "-wal"))


if __name__ == "__main__":
    unittest.main()
