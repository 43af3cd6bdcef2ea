"""Backups against an S3 endpoint that verifies SigV4 (sigv4_s3.py): every request type
onefile sends is signed - a secret that goes wrong at any request (PUT, multipart
initiate / upload part / complete / abort, CopyObject, GET, HEAD, LIST, DELETE) makes the
command fail with a clear 403 - and the protocol details libcurl 7.88 leaves to us hold:
x-amz-content-sha256 signed and matching, canonical queries, Range resume, retries on 5xx,
virtual-hosted addressing, multipart uploads of 16 MiB parts with their metadata."""
import os
import sqlite3
import unittest

import harness
from harness import run
from sigv4_s3 import SigV4S3

KEY, SECRET = "AKIDONEFILETEST", "s3cr3t/with+chars"
ROWS = 10000  # x 4000 random bytes: ~40 MiB, three 16 MiB parts uncompressed


class SigV4Test(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.s3 = SigV4S3(KEY, SECRET, bucket="onefile-bk").start()
        self.addCleanup(self.s3.stop)
        r = run(["migrate", "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        c = sqlite3.connect(self.db)
        c.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB)")
        c.executemany("INSERT INTO blobs (b) VALUES (?)",
                      ((os.urandom(4000),) for _ in range(ROWS)))
        c.commit()
        c.close()
        self.url = "s3://onefile-bk/site/backups"

    def env(self, **extra):
        e = dict(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
                 AWS_ENDPOINT_URL=self.s3.endpoint, AWS_REGION="us-east-1")
        e.update(extra)
        return harness.clean_env(**e)

    def onefile(self, *args, ok=True, **env):
        r = run(list(args) + ["--db", self.db], env=self.env(**env), timeout=120)
        harness.assert_no_sanitizer(self, r.stderr)
        if ok:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def kinds(self, since=0):
        return [entry[0] for entry in self.s3.log[since:]]

    def test_multipart_backup_list_restore_and_retention(self):
        r = self.onefile("backup", "--to", self.url, "--compress", "none")
        self.assertIn("stored s3://onefile-bk/site/backups/onefile-", r.stdout)
        kinds = self.kinds()
        self.assertEqual(kinds.count("UPLOAD_PART"), 3, kinds)
        for k in ("HEAD", "INITIATE", "COMPLETE", "COPY", "LIST"):
            self.assertIn(k, kinds)
        self.assertEqual(self.s3.multipart_completed, 1)
        (key, (data, meta)), = self.s3.objects.items()
        self.assertTrue(key.startswith("site/backups/onefile-") and key.endswith(".sqlite"))
        import hashlib
        self.assertEqual(meta["x-amz-meta-sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(int(meta["x-amz-meta-source-size"]), len(data))
        self.assertEqual(meta["x-amz-meta-schema-version"], harness.own_migrations()[-1][:4].lstrip("0"))
        self.assertEqual(meta["x-amz-meta-compression"], "none")
        # a small gzip one: single PUT; then --keep 1 deletes the multipart one
        r = self.onefile("backup", "--to", self.url, "--keep", "1")
        self.assertIn("1 older backup deleted", r.stdout)
        self.assertIn("DELETE", self.kinds())
        r = self.onefile("backups", "--from", self.url)
        self.assertIn("1 backup at", r.stdout)
        target = os.path.join(self.dir, "restored", "r.db")
        mark = len(self.s3.log)
        r = self.onefile("restore", "latest", "--from", self.url, "--to", target)
        self.assertIn("matches its metadata", r.stdout)
        self.assertEqual(self.kinds(mark), ["LIST", "HEAD", "GET"])
        c = sqlite3.connect(target)
        self.assertEqual(c.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        self.assertEqual(c.execute("SELECT count(*) FROM blobs").fetchone()[0], ROWS)
        c.close()
        self.assertEqual(self.s3.mismatches, [])

    def fail_at(self, args, i, kind):
        """Runs onefile with a secret that turns wrong at request i (of kind)."""
        self.s3.verified = 0
        self.s3.secret_after = i
        mark = len(self.s3.log)
        r = self.onefile(*args, ok=False)
        self.s3.secret_after = None
        log = self.s3.log[mark:]
        self.assertEqual((log[i][0], log[i][4]), (kind, 403), log)
        self.assertEqual(r.returncode, 1, r.stderr)
        retention = (args[0] == "backup" and kind in ("LIST", "DELETE")
                     and "COPY" in [e[0] for e in log[:i]])
        if retention:  # the new backup is stored; retention's failure is still an error
            self.assertIn("the backup is stored, but retention failed", r.stderr)
        self.assertIn("access denied (403", r.stderr)
        if kind != "HEAD":  # a HEAD answer has no body to name the cause
            self.assertIn("SignatureDoesNotMatch", r.stderr)
            self.assertIn("check AWS_SECRET_ACCESS_KEY", r.stderr)
        if kind in ("UPLOAD_PART", "COMPLETE"):
            # the abandoned upload is aborted, with the same wrong secret: refused too
            self.assertEqual([e[4] for e in log[i:] if e[0] == "ABORT"], [403], log)
        return log

    def fresh_bucket(self):
        self.s3.objects.clear()
        self.s3.uploads.clear()
        self.onefile("backup", "--to", self.url)  # an older backup for retention to delete

    def test_a_wrong_secret_fails_every_request_type(self):
        backup = ("backup", "--to", self.url, "--compress", "none", "--keep", "1")
        restore = ("restore", "latest", "--from", self.url, "--to",
                   os.path.join(self.dir, "r", "r.db"), "--force")
        self.fresh_bucket()
        mark = len(self.s3.log)
        self.onefile(*backup)
        bseq = self.kinds(mark)
        mark = len(self.s3.log)
        self.onefile(*restore)
        rseq = self.kinds(mark)
        self.assertEqual(set(bseq), {"HEAD", "INITIATE", "UPLOAD_PART", "COMPLETE", "COPY",
                                     "LIST", "DELETE"}, bseq)
        self.assertEqual(rseq, ["LIST", "HEAD", "GET"])
        covered = set()
        for i, kind in enumerate(bseq):
            if kind in covered:
                continue
            with self.subTest(backup_request=i, kind=kind):
                self.fresh_bucket()
                self.fail_at(backup, i, kind)
                covered.add(kind)
                if kind in ("UPLOAD_PART", "COMPLETE", "INITIATE"):
                    self.assertEqual(len(self.s3.objects), 1)  # nothing new left stored
        for i, kind in enumerate(rseq):
            with self.subTest(restore_request=i, kind=kind):
                self.fail_at(restore, i, kind)
                covered.add(kind)
        self.assertEqual(covered, set(bseq) | set(rseq))
        # abort itself, signed right, is exercised in test_failed_part_is_aborted_...

    def test_failed_part_is_aborted_with_a_valid_signature(self):
        # the second part answers 400: the upload is aborted (signed correctly: 204)
        self.onefile("backup", "--to", self.url, "--compress", "none")
        self.s3.objects.clear()
        mark = len(self.s3.log)
        orig = self.s3.faults
        self.s3.faults = []
        # let HEAD, INITIATE and the first part pass, then one 400
        import threading
        done = threading.Event()

        def inject():
            while not done.is_set():
                if self.kinds(mark).count("UPLOAD_PART") >= 1:
                    self.s3.fail_next(1, 400)
                    return
                done.wait(0.001)
        t = threading.Thread(target=inject)
        t.start()
        r = self.onefile("backup", "--to", self.url, "--compress", "none", ok=False)
        done.set()
        t.join()
        self.s3.faults = orig
        self.assertIn("HTTP 400", r.stderr)
        aborts = [e for e in self.s3.log[mark:] if e[0] == "ABORT"]
        self.assertEqual([e[4] for e in aborts], [204])
        self.assertEqual(self.s3.uploads, {})
        self.assertEqual(self.s3.objects, {})

    def test_unknown_key_and_missing_bucket_are_explained(self):
        r = self.onefile("backup", "--to", self.url, ok=False, AWS_ACCESS_KEY_ID="AKIDNOBODY")
        self.assertEqual(r.returncode, 1)
        self.assertIn("403 InvalidAccessKeyId", r.stderr)
        self.assertIn("check AWS_ACCESS_KEY_ID", r.stderr)
        r = self.onefile("backups", "--from", "s3://no-such-bucket/x", ok=False)
        self.assertIn("bucket 'no-such-bucket' does not exist", r.stderr)
        r = self.onefile("restore", "onefile-20260101T000000Z.sqlite.gz", "--from", self.url,
                         "--to", os.path.join(self.dir, "n.db"), ok=False)
        self.assertIn("no backup onefile-20260101T000000Z.sqlite.gz", r.stderr)

    def test_retries_on_server_errors(self):
        self.s3.fail_next(2, 503)
        r = self.onefile("backup", "--to", self.url)
        self.assertIn("retrying", r.stderr)
        self.assertEqual([e[4] for e in self.s3.log[:3]], [503, 503, 200])  # then the LIST
        self.s3.fail_next(5, 500)
        r = self.onefile("backups", "--from", self.url, ok=False)
        self.assertIn("HTTP 500", r.stderr)
        self.assertEqual(len(self.s3.faults), 0)

    def test_get_resumes_with_range_after_a_dropped_connection(self):
        self.onefile("backup", "--to", self.url, "--compress", "none")
        self.s3.drop_get_after = 5 * 1024 * 1024
        target = os.path.join(self.dir, "resumed", "r.db")
        r = self.onefile("restore", "latest", "--from", self.url, "--to", target)
        self.assertIn("matches its metadata", r.stdout)
        gets = [e for e in self.s3.log if e[0] == "GET"]
        self.assertEqual([e[4] for e in gets], [200, 206], gets)
        c = sqlite3.connect(target)
        self.assertEqual(c.execute("SELECT count(*) FROM blobs").fetchone()[0], ROWS)
        c.close()

    def test_virtual_hosted_addressing(self):
        r = self.onefile("backup", "--to", self.url, ONEFILE_S3_ADDRESSING="virtual",
                         AWS_ENDPOINT_URL="http://localhost:%d" % self.s3.port)
        self.assertIn("stored", r.stdout)
        self.assertGreater(self.s3.virtual_requests, 0)
        self.assertEqual(self.s3.mismatches, [])


if __name__ == "__main__":
    unittest.main()
