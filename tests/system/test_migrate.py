"""`onefile migrate`: applies once, reports status, and a broken migration changes nothing."""
import json
import os
import sqlite3
import unittest

import harness
from harness import run, clean_env


def fingerprint(path):
    """Schema, schema_migrations rows and every table's rows of the file, as one value."""
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        schema = con.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY name").fetchall()
        rows = {}
        for (name,) in con.execute("SELECT name FROM sqlite_schema WHERE type='table'"):
            rows[name] = con.execute('SELECT * FROM "%s" ORDER BY 1' % name).fetchall()
        return schema, rows
    finally:
        con.close()


OWN = harness.own_migrations()


class MigrateTest(harness.TestCase):
    def write_migrations(self, files):
        d = os.path.join(self.dir, "migrations")
        os.makedirs(d, exist_ok=True)
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        return d

    def test_fresh_file_then_noop(self):
        r = run(["migrate", "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("%d migration%s applied" % (len(OWN), "" if len(OWN) == 1 else "s"),
                      r.stdout)
        harness.assert_no_sanitizer(self, r.stderr)
        before = fingerprint(self.db)
        r = run(["migrate", "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("0 migrations applied", r.stdout)
        self.assertEqual(fingerprint(self.db), before)
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0], "wal")
        rows = con.execute("SELECT source, version, name, length(checksum) "
                           "FROM schema_migrations").fetchall()
        con.close()
        self.assertEqual(rows, [("onefile", int(n[:4]), n, 64) for n in OWN])

    def test_status_lists_applied_and_pending(self):
        mdir = self.write_migrations({"0001_tags.sql": "CREATE TABLE tags (name TEXT);\n"})
        env = clean_env(ONEFILE_MIGRATIONS_DIR=mdir)
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        self.write_migrations({"0002_more.sql": "ALTER TABLE tags ADD COLUMN n INTEGER;\n"})
        r = run(["migrate", "--status", "--db", self.db], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("applied  onefile  0001_init.sql", r.stdout)
        self.assertIn("pending  site     0001_tags.sql", r.stdout)
        self.assertIn("pending  site     0002_more.sql", r.stdout)
        r = run(["migrate", "--status", "--json", "--db", self.db], env=env)
        status = json.loads(r.stdout)
        self.assertEqual(status["version"], int(OWN[-1][:4]))
        self.assertEqual([p["name"] for p in status["pending"]],
                         ["0001_tags.sql", "0002_more.sql"])
        r = run(["migrate", "--db", self.db], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 migrations applied", r.stdout)
        # --status never creates a file
        missing = os.path.join(self.dir, "missing.db")
        r = run(["migrate", "--status", "--db", missing])
        self.assertEqual(r.returncode, 1)
        self.assertFalse(os.path.exists(missing))

    def test_broken_migration_leaves_the_file_exactly_as_it_was(self):
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        con = sqlite3.connect(self.db)
        con.execute("INSERT INTO posts (slug, title) VALUES ('a', 'A')")
        con.commit()
        con.close()
        before = fingerprint(self.db)
        # it changes data and schema before it fails on the data (which the schema-only
        # lint cannot foresee): all of it must be rolled back
        mdir = self.write_migrations({
            "0002_broken.sql": "CREATE TABLE t2 (x);\n"
                               "UPDATE posts SET title = 'changed' WHERE id > 0;\n"
                               "INSERT INTO posts (slug, title) VALUES ('a', 'again');\n",
        })
        r = run(["migrate", "--db", self.db], env=clean_env(ONEFILE_MIGRATIONS_DIR=mdir))
        self.assertEqual(r.returncode, 1)
        err = r.stderr.strip().splitlines()
        self.assertEqual(len(err), 1, r.stderr)
        self.assertIn("0002_broken.sql", err[0])
        self.assertIn("line 3", err[0])
        self.assertIn("UNIQUE constraint failed: posts.slug", err[0])
        self.assertEqual(fingerprint(self.db), before)

    def test_a_failing_migration_among_several_applies_none(self):
        # the lint runs every pending migration on the schema first: 0002's error is found
        # before 0001 is applied, so the file is left exactly as it was
        mdir = self.write_migrations({
            "0001_a.sql": "CREATE TABLE a (x);\n",
            "0002_b.sql": "CREATE TABLE b (x);\nSELECT * FROM missing_table;\n",
            "0003_c.sql": "CREATE TABLE c (x);\n",
        })
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        before = fingerprint(self.db)
        r = run(["migrate", "--db", self.db], env=clean_env(ONEFILE_MIGRATIONS_DIR=mdir))
        self.assertEqual(r.returncode, 1)
        self.assertIn("0002_b.sql (site) line 2: no such table: missing_table", r.stderr)
        self.assertEqual(fingerprint(self.db), before)

    def test_edited_migration_is_refused(self):
        mdir = self.write_migrations({"0001_a.sql": "CREATE TABLE a (x);\n"})
        env = clean_env(ONEFILE_MIGRATIONS_DIR=mdir)
        self.assertEqual(run(["migrate", "--db", self.db], env=env).returncode, 0)
        self.write_migrations({"0001_a.sql": "CREATE TABLE a (x, y);\n"})
        r = run(["migrate", "--db", self.db], env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("0001_a.sql", r.stderr)
        self.assertIn("changed after it was applied", r.stderr)
        r = run(["migrate", "--status", "--db", self.db], env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("PROBLEM", r.stdout)


if __name__ == "__main__":
    unittest.main()
