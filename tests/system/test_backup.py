"""Backups to a directory (file://) and restores, through the real binary: round trips
with every compression, retention keeping N (sidecars and temporary files included),
restore refusing while a server holds the file, restore in place keeping the old file and
its -wal/-shm as .before-restore, encryption (wrong or missing key refused), corrupted and
truncated objects refused with the live file untouched, and a schema newer than the
binary refused."""
import glob
import hashlib
import os
import sqlite3
import subprocess
import sys
import unittest

import harness
from harness import run

ROWS = 3000


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class BackupFileTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        r = run(["migrate", "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.fill(ROWS)
        self.dest = os.path.join(self.dir, "backups")
        self.url = "file://" + self.dest

    def fill(self, n, db=None):
        c = sqlite3.connect(db or self.db)
        c.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)")
        c.executemany("INSERT INTO notes (body) VALUES (?)",
                      (("note %d " % i * 20,) for i in range(n)))
        c.commit()
        c.close()

    def count(self, db, table="notes"):
        c = sqlite3.connect(db)
        try:
            return c.execute("SELECT count(*) FROM " + table).fetchone()[0]
        finally:
            c.close()

    def onefile(self, *args, code=0, env=None):
        r = run(list(args) + ["--db", self.db], env=harness.clean_env(**(env or {})))
        harness.assert_no_sanitizer(self, r.stderr)
        if code is not None:
            self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        return r

    def objects(self):
        return sorted(n for n in os.listdir(self.dest) if not n.endswith(".json"))

    def test_round_trips_and_retention_keeps_n(self):
        kinds = ["gzip", "zstd", "none", "gzip", "zstd"]
        for kind in kinds:
            r = self.onefile("backup", "--to", self.url, "--compress", kind, "--keep", "3")
            self.assertRegex(r.stdout, r"stored file://.*/onefile-\d{8}T\d{6}Z(-\d+)?\.sqlite")
            self.assertRegex(r.stdout, r"ratio \d\.\d{3}")
            self.assertIn("duration", r.stdout)
        names = self.objects()
        self.assertEqual(len(names), 3, names)
        self.assertEqual(sorted(os.listdir(self.dest)), sorted(names + [n + ".json" for n in names]))
        r = self.onefile("backups", "--from", self.url)
        self.assertIn("3 backups at", r.stdout)
        listed = [line.split()[0] for line in r.stdout.splitlines()[:3]]
        self.assertEqual(sorted(listed), names)
        # newest first: the last one taken (zstd) heads the list
        self.assertTrue(listed[0].endswith(".sqlite.zst"), listed)
        for name in names:
            target = os.path.join(self.dir, "r", name + ".db")
            r = self.onefile("restore", name, "--from", self.url, "--to", target)
            self.assertIn("matches its metadata", r.stdout)
            self.assertEqual(self.count(target), ROWS)
            c = sqlite3.connect(target)
            self.assertEqual(c.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            c.close()
        # from a local path, and as a full URL
        newest = os.path.join(self.dest, listed[0])
        self.onefile("restore", newest, "--to", os.path.join(self.dir, "local.db"))
        self.onefile("restore", "file://" + newest, "--to", os.path.join(self.dir, "url.db"))
        self.assertEqual(self.count(os.path.join(self.dir, "url.db")), ROWS)
        # --json for scripts
        r = self.onefile("backups", "--from", self.url, "--json")
        self.assertIn('"compression": "zstd"', r.stdout)

    def test_backup_while_serving_and_restore_refused_on_the_live_file(self):
        s = self.serve()
        r = self.onefile("backup", "--to", self.url)  # no lock: works while serving
        r = self.onefile("restore", "latest", "--from", self.url, "--force", code=2)
        self.assertIn("in use", r.stderr)
        self.assertIn("--to PATH", r.stderr)
        other = os.path.join(self.dir, "elsewhere", "copy.db")
        self.onefile("restore", "latest", "--from", self.url, "--to", other)
        self.assertEqual(self.count(other), ROWS)
        self.stop_clean(s)

    def test_restore_in_place_keeps_the_old_file_and_its_wal_aside(self):
        self.onefile("backup", "--to", self.url)
        # later writes, left in the -wal by a writer that died before checkpointing
        code = ("import sqlite3, os, sys\n"
                "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                "c.execute('PRAGMA wal_autocheckpoint=0')\n"
                "c.execute('BEGIN'); c.executemany('INSERT INTO notes (body) VALUES (?)',"
                " [('late',)] * 500); c.execute('COMMIT')\n"
                "os._exit(0)\n")
        subprocess.run([sys.executable, "-c", code, self.db], check=True)
        self.assertGreater(os.path.getsize(self.db + "-wal"), 0)
        r = self.onefile("restore", "latest", "--from", self.url, code=2)
        self.assertIn("pass --force", r.stderr)
        r = self.onefile("restore", "latest", "--from", self.url, "--force")
        aside = self.db + ".before-restore"
        self.assertIn("kept as " + aside, r.stdout)
        self.assertFalse(os.path.exists(self.db + "-wal"))
        self.assertTrue(os.path.exists(aside + "-wal"))
        self.assertEqual(self.count(self.db), ROWS)
        self.assertEqual(self.count(aside), ROWS + 500)  # opened with its own -wal
        # an earlier .before-restore is not replaced without --force
        r = self.onefile("restore", "latest", "--from", self.url, code=2)
        self.onefile("restore", "latest", "--from", self.url, "--force")
        self.assertEqual(self.count(aside), ROWS)
        # the restored file serves
        s = self.serve()
        status, body = s.json("GET", "/readyz")
        self.assertEqual(status, 200, body)
        self.stop_clean(s)

    def test_encrypted_backups_need_their_key(self):
        key = run(["backup", "--new-key"]).stdout.strip()
        self.assertEqual(len(key), 44)
        r = self.onefile("backup", "--to", self.url, env={"ONEFILE_BACKUP_KEY": key})
        self.assertIn("encrypted", r.stdout)
        name, = self.objects()
        self.assertTrue(name.endswith(".sqlite.gz.enc"), name)
        with open(os.path.join(self.dest, name), "rb") as f:
            head = f.read(64)
        self.assertTrue(head.startswith(b"OFENC1"))
        self.assertNotIn(b"SQLite format 3", head)
        target = os.path.join(self.dir, "dec.db")
        self.onefile("restore", "latest", "--from", self.url, "--to", target,
                     env={"ONEFILE_BACKUP_KEY": key})
        self.assertEqual(self.count(target), ROWS)
        other = run(["backup", "--new-key"]).stdout.strip()
        r = self.onefile("restore", "latest", "--from", self.url, "--to", target + "2",
                         env={"ONEFILE_BACKUP_KEY": other}, code=1)
        self.assertIn("wrong key", r.stderr)
        self.assertFalse(os.path.exists(target + "2"))
        r = self.onefile("restore", "latest", "--from", self.url, "--to", target + "3", code=1)
        self.assertIn("is encrypted with key id", r.stderr)
        r = self.onefile("backup", "--to", self.url, env={"ONEFILE_BACKUP_KEY": "short"}, code=2)
        self.assertIn("32 bytes", r.stderr)
        self.assertNotIn("short", r.stderr)  # a key is never echoed

    def refused_untouched(self, mutate, expect):
        """Backs up, damages the object, restores over the (stopped) live file: refused,
        and the live file, its -wal and -shm are exactly as they were."""
        for f in glob.glob(self.dest + "/*"):
            os.unlink(f)
        self.onefile("backup", "--to", self.url)
        name, = self.objects()
        path = os.path.join(self.dest, name)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(mutate(data))
        before = {p: digest(p) for p in glob.glob(self.db + "*")}
        r = self.onefile("restore", "latest", "--from", self.url, "--force", code=1)
        self.assertIn("refused", r.stderr)
        self.assertIn(expect, r.stderr)
        after = {p: digest(p) for p in glob.glob(self.db + "*") if not p.endswith(".lock")}
        before = {p: d for p, d in before.items() if not p.endswith(".lock")}
        self.assertEqual(after, before)
        self.assertEqual(glob.glob(self.db + ".restore-*"), [])
        return r

    def test_corrupted_or_truncated_objects_are_refused(self):
        flip = lambda d: d[:len(d) // 2] + bytes([d[len(d) // 2] ^ 1]) + d[len(d) // 2 + 1:]
        self.refused_untouched(flip, "sha256 mismatch")
        self.refused_untouched(lambda d: d[:len(d) // 2], "truncated or damaged")
        self.refused_untouched(lambda d: b"", "truncated or damaged")
        # damage that the metadata cannot see: the sidecar rewritten to match
        for f in glob.glob(self.dest + "/*"):
            os.unlink(f)
        self.onefile("backup", "--to", self.url)
        name, = self.objects()
        path = os.path.join(self.dest, name)
        with open(path, "rb") as f:
            data = f.read()
        os.unlink(path + ".json")
        with open(path, "wb") as f:
            f.write(data[:-100])
        r = self.onefile("restore", "latest", "--from", self.url, "--to",
                         os.path.join(self.dir, "t.db"), code=1)
        self.assertIn("gzip: the stream is truncated", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "t.db")))

    def test_a_schema_newer_than_the_binary_is_refused(self):
        c = sqlite3.connect(self.db)
        c.execute("INSERT INTO schema_migrations VALUES ('onefile', 999, '0999_future.sql', "
                  "'x', '2030-01-01T00:00:00Z', 0)")
        c.commit()
        c.close()
        self.onefile("backup", "--to", self.url)
        r = self.onefile("restore", "latest", "--from", self.url, "--to",
                         os.path.join(self.dir, "n.db"), code=1)
        self.assertIn("cannot be used by this binary", r.stderr)
        self.assertIn("newer than onefile", r.stderr)

    def test_usage_errors(self):
        r = self.onefile("backup", code=1)
        self.assertIn("no destination", r.stderr)
        r = self.onefile("backup", "--to", self.url, "--compress", "lz4", code=2)
        self.assertIn("gzip, zstd or none", r.stderr)
        r = self.onefile("backup", "--to", self.url, "--compress", "gzip", "--level", "12",
                         code=1)
        self.assertIn("allowed 1-9", r.stderr)
        r = self.onefile("backup", "--to", "ftp://x", code=1)
        self.assertIn("file:///dir or s3://bucket/prefix", r.stderr)
        r = self.onefile("restore", code=2)
        self.assertIn("missing SOURCE", r.stderr)
        r = self.onefile("restore", "latest", "--from", self.url, "--to",
                         os.path.join(self.dir, "x.db"), code=1)
        self.assertIn("no backups at", r.stderr)
        r = self.onefile("backups", code=2)
        self.assertIn("ONEFILE_BACKUP_URL", r.stderr)


if __name__ == "__main__":
    unittest.main()
