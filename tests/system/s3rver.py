"""s3rver (npm) on 127.0.0.1 for the backup system tests.

ensure() installs it from tests/s3/package-lock.json with `npm ci` the first time (CI=true,
no standard input); start() runs it on a free port with one bucket and waits until it
accepts connections. Its default credentials are S3RVER / S3RVER. s3rver checks the access
key (an unknown one gets 403 InvalidAccessKeyId) but not the secret: signing is proved by
sigv4_s3.py instead.
"""
import os
import shutil
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = os.path.join(HERE, "..", "s3")
SCRIPT = os.path.join(PREFIX, "node_modules", "s3rver", "bin", "s3rver.js")
KEY = SECRET = "S3RVER"


def ensure():
    if os.path.exists(SCRIPT):
        return
    npm = shutil.which("npm")
    if not npm:
        raise AssertionError("npm is needed for the s3rver tests: scripts/install-deps test")
    env = dict(os.environ, CI="true")
    r = subprocess.run([npm, "ci", "--prefix", PREFIX, "--no-audit", "--no-fund"], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    if r.returncode != 0 or not os.path.exists(SCRIPT):
        raise AssertionError("npm ci --prefix tests/s3 failed:\n" + r.stdout + r.stderr)


class S3rver:
    def __init__(self, directory, bucket):
        ensure()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = directory
        self.bucket = bucket
        self.endpoint = "http://127.0.0.1:%d" % self.port
        os.makedirs(directory, exist_ok=True)
        self.log = open(os.path.join(directory, "..", "s3rver-%d.log" % self.port), "w")
        self.proc = subprocess.Popen(
            [shutil.which("node") or "node", SCRIPT, "-d", directory, "-a", "127.0.0.1",
             "-p", str(self.port), "-s", "--configure-bucket", bucket],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("s3rver exited with %d" % self.proc.returncode)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("s3rver did not start")

    def object_path(self, key):
        return os.path.join(self.dir, self.bucket, key + "._S3rver_object")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
