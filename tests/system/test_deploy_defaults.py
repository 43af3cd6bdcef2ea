"""Defaults that must hold on a first production deploy: the base URL normalised (a
trailing slash never gives "//about"), a warning when it is left pointing at this machine
while serve listens elsewhere, a warning when a reverse proxy's forwarding headers arrive
without ONEFILE_TRUST_PROXY, a half-set first-admin pair refused, and the deploy files
setting ONEFILE_TRUST_PROXY where a proxy is in front."""
import json
import os
import re
import sqlite3
import tomllib
import unittest

import harness
from harness import run, clean_env

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


class DeployDefaultsTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        self.token = run(["token", "create", "t", "--db", self.db]).stdout.strip()

    def publish(self, s, **fields):
        status, _, body = s.request(
            "POST", "/api/v1/posts", body=json.dumps(fields).encode(),
            headers={"Authorization": "Bearer " + self.token,
                     "Content-Type": "application/json"})
        self.assertEqual(status, 201, body)

    def test_base_url_trailing_slash_gives_no_double_slash(self):
        s = self.serve(env=clean_env(ONEFILE_BASE_URL="https://example.org/"))
        self.publish(s, title="About", kind="page", slug="about", status="published")
        self.publish(s, title="Hello", slug="hello", status="published")
        for path in ("/sitemap.xml", "/feed.xml", "/about", "/posts/hello"):
            status, _, body = s.request("GET", path)
            self.assertEqual(status, 200, path)
            text = body.decode()
            self.assertIn("https://example.org/", text, path)
            self.assertNotIn("https://example.org//", text, path)
        _, _, body = s.request("GET", "/about")
        self.assertIn('<link rel="canonical" href="https://example.org/about">', body.decode())
        self.stop_clean(s)

    def test_warns_when_base_url_is_loopback_on_a_public_listen_address(self):
        # 192.0.2.1 (TEST-NET-1) is on no interface here: the bind fails after the warning,
        # so nothing ever listens beyond the loopback
        port = harness.free_port()
        r = run(["serve", "--db", self.db, "--listen", "192.0.2.1:%d" % port])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("base URL points at this machine", r.stderr)
        self.assertIn("ONEFILE_BASE_URL", r.stderr)
        r = run(["serve", "--db", self.db, "--listen", "192.0.2.1:%d" % port],
                env=clean_env(ONEFILE_BASE_URL="https://example.org"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertNotIn("base URL points at this machine", r.stderr)
        # on the loopback the default is right: no warning
        s = self.serve()
        self.assertNotIn("base URL points at this machine", self.stop_clean(s))

    def test_warns_once_when_proxy_headers_arrive_untrusted(self):
        s = self.serve()
        for header in ("X-Forwarded-For", "Fly-Client-IP", "X-Forwarded-For"):
            status, _, _ = s.request("GET", "/healthz", headers={header: "203.0.113.9"})
            self.assertEqual(status, 200)
        err = self.stop_clean(s)
        self.assertEqual(err.count("proxy headers ignored"), 1, err)
        self.assertIn("ONEFILE_TRUST_PROXY", err)
        # trusted: nothing to warn about; no header: nothing either
        s = self.serve(env=clean_env(ONEFILE_TRUST_PROXY=1))
        s.request("GET", "/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
        self.assertNotIn("proxy headers ignored", self.stop_clean(s))
        s = self.serve()
        s.request("GET", "/healthz")
        self.assertNotIn("proxy headers ignored", self.stop_clean(s))

    def test_half_of_the_first_admin_pair_is_refused_on_an_empty_site(self):
        for env in (dict(ONEFILE_ADMIN_EMAIL="a@example.org"),
                    dict(ONEFILE_ADMIN_PASSWORD="a long passphrase here")):
            s = harness.Server(self.db, env=clean_env(**env), wait=False)
            s.proc.wait(timeout=60)
            err = s.stderr()
            s.stop()
            self.assertEqual(s.proc.returncode, 2, err)
            lines = [l for l in err.splitlines() if l.startswith("onefile serve:")]
            self.assertEqual(len(lines), 1, err)
            self.assertIn("is set without", lines[0])
            self.assertIn("onefile user add", lines[0])
        # once an admin exists, the email alone (the documented state after the first
        # start, password removed from the environment) is fine
        r = run(["user", "add", "a@example.org", "--db", self.db],
                input="a long passphrase here\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = self.serve(env=clean_env(ONEFILE_ADMIN_EMAIL="a@example.org"))
        self.stop_clean(s)


class DeployFilesTest(unittest.TestCase):
    def read(self, *path):
        with open(os.path.join(ROOT, *path)) as f:
            return f.read()

    def test_fly_trusts_its_proxy_and_deploys_from_the_root(self):
        fly = tomllib.loads(self.read("deploy", "fly.toml"))
        self.assertEqual(fly["env"]["ONEFILE_TRUST_PROXY"], "1")
        ops = self.read("docs", "operations.md")
        self.assertIn("fly deploy . -c deploy/fly.toml", ops)
        self.assertNotRegex(ops + self.read("deploy", "fly.toml"), r"fly deploy -c")

    def test_systemd_unit_and_caddy_example_trust_the_proxy(self):
        unit = self.read("deploy", "onefile.service")
        self.assertRegex(unit, r"(?m)^Environment=ONEFILE_TRUST_PROXY=1$")
        ops = self.read("docs", "operations.md")
        self.assertNotIn("count all clients together", ops)
        self.assertIn("ONEFILE_TRUST_PROXY", ops)


if __name__ == "__main__":
    unittest.main()
