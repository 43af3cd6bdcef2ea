"""A database file the server cannot write is refused at start (D5): SQLite would open it
read-only without a word, /readyz would say ready and every write would fail. Run as an
unprivileged user (root writes a 0444 file anyway), so skipped when not started as root."""
import os
import shutil
import subprocess
import unittest

import harness
from harness import BIN, clean_env, run

NOBODY = 65534


@unittest.skipUnless(os.geteuid() == 0, "needs root to run serve as another user")
class ReadOnlyDatabaseTest(harness.TestCase):
    def test_serve_refuses_a_file_it_cannot_write(self):
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        data = os.path.dirname(self.db)
        for path in (self.dir, data):
            os.chmod(path, 0o755)
        for name in os.listdir(data):
            os.chown(os.path.join(data, name), NOBODY, NOBODY)
        os.chown(data, NOBODY, NOBODY)  # the lock file and -wal/-shm can be created
        os.chmod(self.db, 0o444)
        # the build tree may sit in a directory the unprivileged user cannot enter (a 0700
        # mktemp clone in CI): run a copy of the binary from the test's own directory
        binary = os.path.join(self.dir, "onefile")
        shutil.copy(BIN, binary)
        os.chmod(binary, 0o755)
        port = harness.free_port()
        proc = subprocess.run([binary, "serve", "--db", self.db, "--listen", "127.0.0.1:%d" % port],
                              env=clean_env(), capture_output=True, text=True, timeout=20,
                              user=NOBODY, group=NOBODY)
        self.assertEqual(proc.returncode, 1, proc.stderr[-2000:])
        self.assertIn("is read-only", proc.stderr)
        self.assertNotIn("listening", proc.stderr)
        # writable again: it starts
        os.chmod(self.db, 0o644)
        proc = subprocess.Popen([binary, "serve", "--db", self.db, "--listen",
                                 "127.0.0.1:%d" % port], env=clean_env(),
                                stderr=subprocess.PIPE, text=True, user=NOBODY, group=NOBODY)
        started = False
        try:
            for line in proc.stderr:  # ends when serve exits
                if "listening" in line:
                    started = True
                    break
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            proc.stderr.close()
        self.assertTrue(started, "serve did not start on the writable file")


if __name__ == "__main__":
    unittest.main()
