"""Backups to a real S3-compatible server (s3rver from npm, on 127.0.0.1) while `serve`
takes a steady write load through the API: back up, list, restore `latest` to a new path,
and find integrity_check ok and every row acknowledged before the backup started. An
unknown access key is a clear 403 and a non-zero exit; a corrupted or truncated object is
refused at restore with the live file untouched."""
import glob
import hashlib
import http.client
import json
import os
import sqlite3
import threading
import time
import unittest

import harness
from harness import run
from s3rver import KEY, SECRET, S3rver

BUCKET = "onefile-backups"


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Load(threading.Thread):
    """Creates posts through POST /api/v1/posts, one connection, as fast as they are
    acknowledged; records each acknowledged id with its time. Bounded: stops on stop() or
    after 120 s."""

    def __init__(self, port, token):
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.acked = []  # (monotonic time, id)
        self.errors = []
        self.done = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        deadline = time.monotonic() + 120
        n = 0
        while not self.done.is_set() and time.monotonic() < deadline:
            n += 1
            body = json.dumps({"title": "load %d" % n, "body_md": "row %d " % n * 10})
            try:
                conn.request("POST", "/api/v1/posts", body=body, headers={
                    "Authorization": "Bearer " + self.token,
                    "Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            if resp.status != 201:
                self.errors.append("%d %s" % (resp.status, data[:200]))
                continue
            with self.lock:
                self.acked.append((time.monotonic(), json.loads(data)["id"]))
        conn.close()

    def acked_ids(self, before=None):
        with self.lock:
            return {i for t, i in self.acked if before is None or t < before}

    def stop(self):
        self.done.set()
        self.join(timeout=60)


class S3rverBackupTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.s3 = S3rver(os.path.join(self.dir, "s3"), BUCKET)
        self.addCleanup(self.s3.stop)
        self.url = "s3://%s/prod/site" % BUCKET
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)

    def env(self, **extra):
        e = dict(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
                 AWS_ENDPOINT_URL=self.s3.endpoint, ONEFILE_BACKUP_URL=self.url)
        e.update(extra)
        return harness.clean_env(**e)

    def onefile(self, *args, code=0, **env):
        r = run(list(args) + ["--db", self.db], env=self.env(**env), timeout=120)
        harness.assert_no_sanitizer(self, r.stderr)
        if code is not None:
            self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        return r

    def test_backup_under_write_load_then_restore_latest(self):
        r = run(["token", "create", "load", "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        s = self.serve()
        load = Load(s.port, r.stdout.strip())
        load.start()
        try:
            time.sleep(1.5)
            started = time.monotonic()
            before = load.acked_ids(before=started)
            r = self.onefile("backup")
            finished = time.monotonic()
            time.sleep(0.5)
        finally:
            load.stop()
        self.assertEqual(load.errors, [])
        during = [i for t, i in load.acked if started <= t <= finished]
        self.assertGreater(len(before), 50)
        self.assertGreater(len(during), 0, "the load kept writing during the backup")
        self.assertIn("stored s3://%s/prod/site/onefile-" % BUCKET, r.stdout)
        r = self.onefile("backups")
        self.assertIn("1 backup at " + self.url, r.stdout)
        self.assertRegex(r.stdout, r"onefile-\d{8}T\d{6}Z\.sqlite\.gz +\d+\.\d (KiB|MiB)")
        target = os.path.join(self.dir, "restored", "site.db")
        r = self.onefile("restore", "latest", "--to", target)
        self.assertIn("integrity_check ok", r.stdout)
        c = sqlite3.connect(target)
        self.assertEqual(c.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        self.assertEqual(c.execute("PRAGMA foreign_key_check").fetchall(), [])
        restored = {row[0] for row in c.execute("SELECT id FROM posts")}
        titles = dict(c.execute("SELECT id, title FROM posts"))
        c.close()
        missing = before - restored
        self.assertEqual(missing, set(), "acknowledged before the backup, not in it")
        self.assertTrue(restored <= load.acked_ids())  # nothing invented
        self.assertTrue(all(titles[i].startswith("load ") for i in restored))
        self.stop_clean(s)

    def test_admin_downloads_an_s3_backup_streamed(self):
        import http.client
        import re
        import urllib.parse
        r = self.onefile("backup")
        name = re.search(r"(onefile-\d{8}T\d{6}Z\.sqlite\.gz)", r.stdout).group(1)
        s = self.serve(env=self.env(ONEFILE_ADMIN_EMAIL="o@example.org",
                                    ONEFILE_ADMIN_PASSWORD="a long password"))

        def call(method, path, body=None, headers=None):
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
            c.request(method, path, body=body, headers=headers or {})
            resp = c.getresponse()
            data = resp.read()
            c.close()
            return resp, data

        resp, html = call("GET", "/admin/login")
        cookie = resp.getheader("Set-Cookie").split(";")[0]
        token = re.search(rb'name="_csrf" value="([^"]+)"', html).group(1).decode()
        resp, _ = call("POST", "/admin/login", urllib.parse.urlencode(
            {"_csrf": token, "email": "o@example.org", "password": "a long password"}).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        self.assertEqual(resp.status, 303)
        session = resp.getheader("Set-Cookie").split(";")[0]
        resp, data = call("GET", "/admin/backups/download/" + name, headers={"Cookie": session})
        self.assertEqual(resp.status, 200)
        self.assertIn("attachment", resp.getheader("Content-Disposition"))
        self.assertEqual(data[:2], b"\x1f\x8b")  # the gzip stream, as stored
        self.assertGreater(len(data), 1000)
        resp, _ = call("GET", "/admin/backups/download/onefile-20990101T000000Z.sqlite.gz",
                       headers={"Cookie": session})
        self.assertEqual(resp.status, 404)
        self.stop_clean(s)

    def test_unknown_access_key_is_a_clear_403(self):
        r = self.onefile("backup", code=1, AWS_ACCESS_KEY_ID="AKIDUNKNOWN")
        self.assertIn("403 InvalidAccessKeyId", r.stderr)
        self.assertIn("check AWS_ACCESS_KEY_ID", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        r = self.onefile("backups", code=1, AWS_ACCESS_KEY_ID="AKIDUNKNOWN")
        self.assertIn("403 InvalidAccessKeyId", r.stderr)
        r = self.onefile("restore", "latest", "--to", os.path.join(self.dir, "x.db"), code=1,
                         AWS_ACCESS_KEY_ID="AKIDUNKNOWN")
        self.assertIn("403 InvalidAccessKeyId", r.stderr)

    def damaged(self, mutate, expect):
        for p in glob.glob(os.path.join(self.s3.dir, BUCKET, "prod", "site", "*")):
            os.unlink(p)
        r = self.onefile("backup")
        name = r.stdout.split("/")[-1].split()[0]
        path = self.s3.object_path("prod/site/" + name)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(mutate(data))
        before = {p: digest(p) for p in glob.glob(self.db + "*") if not p.endswith(".lock")}
        r = self.onefile("restore", "latest", "--force", code=1)
        self.assertIn("refused", r.stderr)
        self.assertIn(expect, r.stderr)
        after = {p: digest(p) for p in glob.glob(self.db + "*") if not p.endswith(".lock")}
        self.assertEqual(after, before, "the live file changed")
        self.assertFalse(os.path.exists(self.db + ".before-restore"))
        self.assertEqual(glob.glob(self.db + ".restore-*"), [])

    def test_corrupted_or_truncated_object_refused_live_file_untouched(self):
        c = sqlite3.connect(self.db)
        c.execute("CREATE TABLE filler (b BLOB)")
        c.executemany("INSERT INTO filler VALUES (?)", ((os.urandom(2000),) for _ in range(500)))
        c.commit()
        c.close()
        mid = lambda d: d[:len(d) // 2] + bytes([d[len(d) // 2] ^ 0x10]) + d[len(d) // 2 + 1:]
        self.damaged(mid, "sha256 mismatch")
        self.damaged(lambda d: d[:len(d) // 3], "sha256 mismatch")


if __name__ == "__main__":
    unittest.main()
