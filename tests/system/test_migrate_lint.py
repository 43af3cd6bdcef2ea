"""`onefile migrate --lint` and `--dry-run`: destructive migrations refused with file, line
and the multi-step advice; a rebuild rehearsed on a copy of a live file (also while `serve`
runs and another connection keeps writing) without touching it; the default site
migrations directory beside the database."""
import json
import os
import re
import sqlite3
import subprocess
import threading
import time
import unittest

import harness
from harness import BIN, clean_env, run
from test_migrate import fingerprint

ITEMS = ("CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, qty TEXT);\n"
         "CREATE INDEX items_sku ON items(sku);\n")
QTY_INTEGER = ("-- qty becomes an integer\n"
               "-- onefile:rebuild items\n"
               "CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL,\n"
               "                    qty INTEGER NOT NULL DEFAULT 0);\n")


def schema_only(path):
    """sqlite_schema and schema_migrations of the file (no other rows)."""
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        schema = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema "
                             "ORDER BY name").fetchall()
        migrations = con.execute("SELECT source, version, name, checksum, applied_at "
                                 "FROM schema_migrations ORDER BY 1, 2").fetchall()
        return schema, migrations
    finally:
        con.close()


class MigrateLintTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.site = os.path.join(self.dir, "site-migrations")  # not beside the db
        os.makedirs(self.site)
        self.env = clean_env(ONEFILE_MIGRATIONS_DIR=self.site)

    def write(self, name, text, directory=None):
        d = directory or self.site
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "w") as f:
            f.write(text)

    def migrate(self, *args, env=None):
        r = run(["migrate", "--db", self.db] + list(args), env=env or self.env)
        harness.assert_no_sanitizer(self, r.stderr)
        return r

    def no_dry_run_files(self):
        left = [n for n in os.listdir(os.path.dirname(self.db)) if ".dry-run-" in n]
        self.assertEqual(left, [])

    def items_db(self, rows=10000):
        """The embedded schema plus site 0001_items.sql, with `rows` rows in items."""
        self.write("0001_items.sql", ITEMS)
        r = self.migrate()
        self.assertEqual(r.returncode, 0, r.stderr)
        con = sqlite3.connect(self.db)
        con.executemany("INSERT INTO items (sku, qty) VALUES (?, ?)",
                        (("sku-%d" % i, str(i % 100)) for i in range(rows)))
        con.commit()
        con.close()

    # --lint ------------------------------------------------------------------------------

    def test_lint_refuses_destructive_with_file_line_and_advice(self):
        self.assertEqual(self.migrate().returncode, 0)
        self.write("0001_tags.sql", "CREATE TABLE tags (name TEXT);\n")
        self.write("0002_cleanup.sql",
                   "-- remove what nobody uses\n"
                   "ALTER TABLE posts DROP COLUMN body_md;\n"
                   "\n"
                   "DELETE FROM tags;\n")
        r = self.migrate("--lint")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        refused = [l for l in r.stdout.splitlines() if l.startswith("REFUSED")]
        self.assertEqual(len(refused), 2, r.stdout)
        self.assertIn("0002_cleanup.sql (site) line 2: ALTER TABLE posts DROP COLUMN body_md",
                      refused[0])
        self.assertIn("0002_cleanup.sql (site) line 4: DELETE FROM tags without WHERE",
                      refused[1])
        for line in refused:
            self.assertIn("-- onefile:destructive <reason>", line)
        self.assertIn("multi-step pattern", r.stdout)
        self.assertIn("add the replacement", r.stdout)
        self.assertIn("backfill", r.stdout)
        self.assertIn("2 findings, 2 refused", r.stdout)

        r = self.migrate("--lint", "--json")
        self.assertEqual(r.returncode, 1)
        out = json.loads(r.stdout)
        self.assertEqual(out["blocking"], 2)
        self.assertEqual([(f["file"], f["source"], f["line"], f["kind"], f["allowed"])
                          for f in out["findings"]],
                         [("0002_cleanup.sql", "site", 2, "drop-column", False),
                          ("0002_cleanup.sql", "site", 4, "delete-without-where", False)])
        self.assertIn("ALTER TABLE posts DROP COLUMN body_md;", out["findings"][0]["statement"])
        self.assertEqual(out["findings"][1]["statement"], "DELETE FROM tags;")

        # the marker turns both into "allowed"
        self.write("0002_cleanup.sql",
                   "-- remove what nobody uses\n"
                   "ALTER TABLE posts DROP COLUMN body_md;\n"
                   "\n"
                   "DELETE FROM tags;\n"
                   "-- onefile:destructive body_md moved to post_bodies in 0001\n")
        r = self.migrate("--lint", "--json")
        self.assertEqual(r.returncode, 0, r.stdout)
        out = json.loads(r.stdout)
        self.assertEqual(out["blocking"], 0)
        self.assertEqual([f["allowed"] for f in out["findings"]], [True, True])
        r = self.migrate("--lint")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(all(l.startswith("allowed") for l in r.stdout.splitlines()[:2]),
                        r.stdout)
        self.assertIn("2 findings, 0 refused", r.stdout)

    def test_lint_statement_is_the_statement_without_the_comment_above_it(self):
        self.assertEqual(self.migrate().returncode, 0)
        self.write("0001_drop.sql", "-- posts.body_md moved elsewhere\n"
                                    "ALTER TABLE posts DROP COLUMN body_md;\n")
        r = self.migrate("--lint", "--json")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        finding = json.loads(r.stdout)["findings"][0]
        self.assertEqual(finding["line"], 2)
        # flattened to one line, the comment would read as if the statement were commented out
        self.assertEqual(finding["statement"], "ALTER TABLE posts DROP COLUMN body_md;")

    def test_lint_passes_additive_migrations(self):
        self.assertEqual(self.migrate().returncode, 0)
        self.write("0001_additive.sql",
                   "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
                   "CREATE UNIQUE INDEX tags_name ON tags(name);\n"
                   "ALTER TABLE posts ADD COLUMN views INTEGER NOT NULL DEFAULT 0;\n"
                   "CREATE INDEX posts_views ON posts(views);\n"
                   "INSERT INTO tags (name) VALUES ('news');\n"
                   "UPDATE posts SET views = 0 WHERE views IS NULL;\n"
                   "DELETE FROM tags WHERE name = 'old';\n")
        before = fingerprint(self.db)
        r = self.migrate("--lint")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("REFUSED", r.stdout)
        self.assertIn("0 findings, 0 refused", r.stdout)
        r = self.migrate("--lint", "--json")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(json.loads(r.stdout), {"findings": [], "blocking": 0})
        self.assertEqual(fingerprint(self.db), before)  # --lint changes nothing
        r = self.migrate()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 migration applied", r.stdout)

    def test_lint_without_a_database_lints_against_an_empty_one(self):
        self.write("0001_drop.sql", "DROP TABLE posts;\n")
        r = self.migrate("--lint", "--json")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual([(f["file"], f["kind"], f["line"]) for f in out["findings"]],
                         [("0001_drop.sql", "drop-table", 1)])
        self.assertFalse(os.path.exists(self.db))

    def test_migrate_refuses_destructive_file_and_changes_nothing(self):
        self.assertEqual(self.migrate().returncode, 0)
        con = sqlite3.connect(self.db)
        con.execute("INSERT INTO posts (slug, title, body_md) VALUES ('a', 'A', 'text')")
        con.commit()
        con.close()
        self.write("0001_tags.sql", "CREATE TABLE tags (name TEXT);\n")
        self.write("0002_drop.sql", "CREATE TABLE archive (x);\n"
                                    "ALTER TABLE posts RENAME COLUMN body_md TO body;\n")
        before = fingerprint(self.db)
        r = self.migrate()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("0002_drop.sql (site) line 2", r.stderr)
        self.assertIn("RENAME COLUMN body_md TO body", r.stderr)
        self.assertIn("refusing to migrate", r.stderr)
        self.assertNotIn("applied", r.stdout)
        self.assertEqual(fingerprint(self.db), before)  # not even 0001_tags
        r = self.migrate("--dry-run")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("would NOT apply cleanly", r.stdout)
        self.assertEqual(fingerprint(self.db), before)
        self.no_dry_run_files()
        r = self.migrate("--status")
        self.assertEqual(r.returncode, 0)
        self.assertIn("pending  site     0001_tags.sql", r.stdout)
        self.assertIn("pending  site     0002_drop.sql", r.stdout)

    # --dry-run ---------------------------------------------------------------------------

    def test_dry_run_rehearses_a_rebuild_on_a_copy(self):
        self.items_db(10000)
        self.write("0002_qty_integer.sql", QTY_INTEGER)
        before = fingerprint(self.db)
        r = self.migrate("--dry-run")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = re.search(r"site\s+0002_qty_integer\.sql\s+(\d+) ms\s+(\d+) rows changed"
                      r"\s+\(table rebuild\)", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        self.assertEqual(int(m.group(2)), 10000)
        self.assertIn("migrations: ok (1 applied to the copy", r.stdout)
        self.assertIn("integrity_check: ok", r.stdout)
        self.assertIn("foreign_key_check: ok", r.stdout)
        self.assertIn("would apply cleanly; the live file was not changed", r.stdout)
        self.assertEqual(fingerprint(self.db), before)
        self.no_dry_run_files()

        r = self.migrate("--dry-run", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertIs(out["ok"], True)
        self.assertIs(out["migrations_ok"], True)
        self.assertEqual(out["integrity_check"], "ok")
        self.assertEqual(out["foreign_key_violations"], 0)
        self.assertEqual([(a["name"], a["rows_changed"], a["rebuild"]) for a in out["applied"]],
                         [("0002_qty_integer.sql", 10000, True)])
        self.assertGreaterEqual(out["applied"][0]["duration_ms"], 0)
        self.assertEqual(fingerprint(self.db), before)
        self.no_dry_run_files()
        r = self.migrate("--status")
        self.assertIn("pending  site     0002_qty_integer.sql", r.stdout)

        # and the real thing does what the rehearsal said
        r = self.migrate()
        self.assertEqual(r.returncode, 0, r.stderr)
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT count(*) FROM items "
                                     "WHERE typeof(qty) = 'integer'").fetchone()[0], 10000)
        self.assertEqual(con.execute("SELECT type FROM pragma_table_info('items') "
                                     "WHERE name = 'qty'").fetchone()[0], "INTEGER")
        self.assertEqual([r[1] for r in con.execute("PRAGMA index_list(items)")], ["items_sku"])
        con.close()

    def test_dry_run_on_a_missing_database_is_a_usage_error(self):
        missing = os.path.join(self.dir, "data", "missing.db")
        r = run(["migrate", "--dry-run", "--db", missing], env=self.env)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("does not exist", r.stderr)
        self.assertFalse(os.path.exists(missing))
        harness.assert_no_sanitizer(self, r.stderr)

    def test_dry_run_while_serving_and_writing(self):
        self.items_db(10000)
        server = self.serve()  # no migrations dir: it knows nothing of the site's files
        self.write("0002_qty_integer.sql", QTY_INTEGER)
        before = schema_only(self.db)

        stop = threading.Event()
        written = [0]
        errors = []

        def writer():
            try:
                con = sqlite3.connect(self.db, timeout=5, isolation_level=None)
                try:
                    if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        errors.append("journal mode is not wal")
                    con.execute("PRAGMA busy_timeout = 5000")
                    while not stop.is_set():
                        con.execute("BEGIN IMMEDIATE")
                        con.execute("INSERT INTO items (sku, qty) VALUES (?, '1')",
                                    ("live-%d" % written[0],))
                        con.execute("COMMIT")
                        written[0] += 1
                        time.sleep(0.002)
                finally:
                    con.close()
            except Exception as e:  # reported by the test
                errors.append(repr(e))

        t = threading.Thread(target=writer)
        t.start()
        try:
            deadline = time.time() + 10
            while written[0] < 20 and time.time() < deadline and not errors:
                time.sleep(0.01)
            self.assertGreaterEqual(written[0], 20, errors)
            proc = subprocess.Popen([BIN, "migrate", "--dry-run", "--db", self.db],
                                    env=self.env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            probes = 0
            while True:
                status, _, body = server.request("GET", "/healthz", timeout=5)
                self.assertEqual((status, body), (200, b"ok\n"))
                probes += 1
                if proc.poll() is not None:
                    break
                time.sleep(0.02)
            out, err = proc.communicate(timeout=60)
            during = written[0]
            time.sleep(0.3)  # the writer goes on after the dry run
        finally:
            stop.set()
            t.join(timeout=30)
        self.assertEqual(errors, [])
        self.assertGreater(written[0], during)
        harness.assert_no_sanitizer(self, err)
        self.assertEqual(proc.returncode, 0, out + err)
        self.assertIn("0002_qty_integer.sql", out)
        self.assertIn("(table rebuild)", out)
        self.assertIn("would apply cleanly", out)
        self.assertGreaterEqual(probes, 1)

        status, _, body = server.request("GET", "/healthz")
        self.assertEqual((status, body), (200, b"ok\n"))
        self.assertEqual(schema_only(self.db), before)
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT count(*) FROM items").fetchone()[0],
                         10000 + written[0])
        self.assertEqual(con.execute("SELECT type FROM pragma_table_info('items') "
                                     "WHERE name = 'qty'").fetchone()[0], "TEXT")
        con.close()
        self.no_dry_run_files()
        self.stop_clean(server)

    # the default site directory ----------------------------------------------------------

    def test_default_site_directory_beside_the_database(self):
        beside = os.path.join(os.path.dirname(self.db), "migrations")
        self.write("0001_tags.sql", "CREATE TABLE tags (name TEXT);\n", directory=beside)
        env = clean_env()  # no ONEFILE_MIGRATIONS_DIR
        r = self.migrate(env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("%d migrations applied" % (len(harness.own_migrations()) + 1), r.stdout)
        self.write("0002_more.sql", "ALTER TABLE tags ADD COLUMN n INTEGER;\n", directory=beside)
        r = self.migrate("--status", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("applied  onefile  0001_init.sql", r.stdout)
        self.assertIn("applied  site     0001_tags.sql", r.stdout)
        self.assertIn("pending  site     0002_more.sql", r.stdout)
        r = self.migrate("--status", "--json", env=env)
        status = json.loads(r.stdout)
        self.assertEqual([(p["source"], p["name"]) for p in status["pending"]],
                         [("site", "0002_more.sql")])
        # a relative --db finds it too, with or without a directory part
        data = os.path.dirname(self.db)
        for cwd, db in ((self.dir, "data/onefile.db"), (data, "onefile.db")):
            r = subprocess.run([BIN, "migrate", "--status", "--db", db], env=env, cwd=cwd,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("pending  site     0002_more.sql", r.stdout, (cwd, db))
        # ONEFILE_MIGRATIONS_DIR, when set, wins over the directory beside the file
        self.write("0001_tags.sql", "CREATE TABLE tags (name TEXT);\n")
        r = self.migrate("--status")
        self.assertNotIn("0002_more.sql", r.stdout)

    # a database with a full-text index -----------------------------------------------------

    def test_fts5_table_does_not_block_migrate(self):
        self.assertEqual(self.migrate().returncode, 0)
        con = sqlite3.connect(self.db)
        con.execute("CREATE VIRTUAL TABLE search USING fts5(title, body)")
        con.commit()
        con.close()
        r = self.migrate(env=clean_env())  # nothing pending
        self.assertEqual(r.returncode, 0, "a database with an FTS5 table cannot be migrated "
                         "(nothing pending):\n" + r.stderr)
        self.assertIn("0 migrations applied", r.stdout)


if __name__ == "__main__":
    unittest.main()
