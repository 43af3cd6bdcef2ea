"""The disk fills under API writes (a small tmpfs, so run as root; skipped otherwise):
every failed write is answered 503 with Retry-After - never 422, which would tell the
client its request was wrong (D5) - every acknowledged post is in the file afterwards, and
/readyz is 503 "writes are failing" while the writes fail (D12)."""
import json
import os
import sqlite3
import subprocess
import tempfile
import unittest

import harness
from harness import clean_env, run


def can_mount():
    if os.geteuid() != 0:
        return False
    d = tempfile.mkdtemp(prefix="onefile-mnt-")
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", d])
    os.rmdir(d)
    return ok


@unittest.skipUnless(can_mount(), "needs root and tmpfs mounts")
class DiskFullTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.mnt = os.path.join(self.dir, "mnt")
        os.makedirs(self.mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", self.mnt], check=True)
        self.db = os.path.join(self.mnt, "data", "onefile.db")

    def tearDown(self):
        for s in self.servers:
            s.stop()
        self.servers = []
        subprocess.run(["umount", "-l", self.mnt])
        super().tearDown()

    def test_writes_on_a_full_disk_are_503_and_readyz_says_so(self):
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        r = run(["token", "create", "disk", "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        token = r.stdout.strip()
        s = self.serve(env=clean_env(ONEFILE_MAX_BODY_BYTES=262144))
        acked, statuses = [], []
        for i in range(60):  # 60 x ~100 KB: far more than 3 MB
            body = json.dumps({"title": "p%d" % i, "body_md": "x" * 100000}).encode()
            status, headers, reply = s.request(
                "POST", "/api/v1/posts", body=body,
                headers={"Authorization": "Bearer " + token,
                         "Content-Type": "application/json"})
            statuses.append(status)
            if status == 201:
                acked.append(json.loads(reply)["id"])
            else:
                self.assertEqual(status, 503, reply[:300])
                self.assertIn("retry-after", headers)
                if statuses.count(503) >= 3:
                    break
        self.assertIn(503, statuses, "the disk never filled")
        self.assertNotIn(422, statuses)
        status, _, body = s.request("GET", "/readyz")
        self.assertEqual(status, 503, body)
        self.assertIn("writes are failing", json.loads(body)["problems"][-1])
        s.stop()
        ids = {row[0] for row in sqlite3.connect(self.db).execute("SELECT id FROM posts")}
        self.assertTrue(set(acked) <= ids, "an acknowledged post is missing")


if __name__ == "__main__":
    unittest.main()
