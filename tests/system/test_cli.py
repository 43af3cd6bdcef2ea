"""The command line: dispatch, help, version, usage errors and configuration validation."""
import os
import unittest

import harness
from harness import run, clean_env


class CliTest(harness.TestCase):
    def assert_usage_error(self, r, text):
        self.assertEqual(r.returncode, 2, r.stderr)
        first = r.stderr.splitlines()[0]
        self.assertIn(text, first)
        self.assertIn("usage", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_no_command_and_unknown_command(self):
        self.assert_usage_error(run([]), "no command given")
        self.assert_usage_error(run(["frobnicate"]), "unknown command 'frobnicate'")

    def test_help_lists_every_command(self):
        for args in (["help"], ["--help"], ["-h"]):
            r = run(args)
            self.assertEqual(r.returncode, 0)
            for cmd in ("serve", "migrate", "check", "config", "version", "help"):
                self.assertIn("  " + cmd, r.stdout)

    def test_every_command_has_help(self):
        for cmd in ("serve", "migrate", "check", "config", "version"):
            for args in ([cmd, "--help"], ["help", cmd]):
                r = run(args)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("usage: onefile " + cmd, r.stdout)
        self.assert_usage_error(run(["help", "nope"]), "unknown command 'nope'")

    def test_version_names_the_libraries(self):
        r = run(["version"])
        self.assertEqual(r.returncode, 0)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^onefile \d+\.\d+\.\d+$")
        self.assertRegex(lines[1], r"^sqlite 3\.\d+\.\d+$")
        self.assertRegex(lines[2], r"^libmicrohttpd \d+\.\d+\.\d+$")

    def test_unknown_option_and_missing_value(self):
        self.assert_usage_error(run(["config", "--bogus"]), "unknown option '--bogus'")
        self.assert_usage_error(run(["config", "-x"]), "unknown option '-x'")
        self.assert_usage_error(run(["config", "--db"]), "'--db' needs a value")
        self.assert_usage_error(run(["config", "extra"]), "unexpected argument 'extra'")
        self.assert_usage_error(run(["version", "--db", "x"]), "unknown option '--db'")

    def test_settings_other_modules_understand_are_checked_at_start(self):
        theme = os.path.join(self.dir, "theme")
        os.mkdir(theme)
        for env, text in ((dict(ONEFILE_BACKUP_KEY="abc"), "ONEFILE_BACKUP_KEY"),
                          (dict(ONEFILE_BACKUP_SCHEDULE="garbage"), "ONEFILE_BACKUP_SCHEDULE"),
                          (dict(ONEFILE_THEME_DIR="/nonexistent"), "ONEFILE_THEME_DIR")):
            for cmd in (["config"], ["serve", "--db", self.db]):
                r = run(cmd, env=clean_env(**env))
                self.assertEqual(r.returncode, 2, (env, cmd, r.stderr))
                lines = r.stderr.splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertTrue(lines[0].startswith("onefile %s: %s" % (cmd[0], text)),
                                lines[0])
        good = run(["backup", "--new-key"]).stdout.strip()
        r = run(["config"], env=clean_env(ONEFILE_BACKUP_KEY=good, ONEFILE_THEME_DIR=theme,
                                          ONEFILE_BACKUP_SCHEDULE="0 3 * * *"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_config_prints_effective_values_and_masks_secrets(self):
        env = clean_env(ONEFILE_BUSY_TIMEOUT_MS="250", AWS_SECRET_ACCESS_KEY="s3cr3t-value",
                        ONEFILE_ADMIN_PASSWORD="adm1n-pw", AWS_ACCESS_KEY_ID="AKIDEXAMPLE")
        r = run(["config", "--busy-timeout", "750", "--db=/tmp/x/y.db"], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        values = dict(line.split("=", 1) for line in r.stdout.splitlines())
        self.assertEqual(values["ONEFILE_BUSY_TIMEOUT_MS"], "750")  # flag beats env
        self.assertEqual(values["ONEFILE_DB"], "/tmp/x/y.db")
        self.assertEqual(values["ONEFILE_LISTEN"], "127.0.0.1:8080")
        self.assertEqual(values["ONEFILE_SYNCHRONOUS"], "full")
        self.assertNotIn("s3cr3t-value", r.stdout)
        self.assertNotIn("adm1n-pw", r.stdout)
        self.assertNotIn("AKIDEXAMPLE", r.stdout)
        self.assertEqual(values["AWS_SECRET_ACCESS_KEY"], "******** (set)")
        self.assertEqual(values["ONEFILE_BACKUP_URL"], "")

    def test_bad_configuration_values_exit_2_with_one_line(self):
        cases = [
            ({"ONEFILE_BUSY_TIMEOUT_MS": "-1"}, [], "ONEFILE_BUSY_TIMEOUT_MS: '-1'"),
            ({"ONEFILE_SYNCHRONOUS": "off"}, [], "ONEFILE_SYNCHRONOUS: unknown value 'off'"),
            ({"ONEFILE_LISTEN": "127.0.0.1:99999"}, [], "ONEFILE_LISTEN"),
            ({}, ["--listen", "127.0.0.1:0"], "--listen: '127.0.0.1:0'"),
            ({}, ["--listen", "nohost"], "--listen: 'nohost'"),
            ({}, ["--synchronous", "extra"], "--synchronous: unknown value 'extra'"),
            ({"ONEFILE_BACKUP_URL": "ftp://x/y"}, [], "ONEFILE_BACKUP_URL"),
            ({"ONEFILE_WRITER_MAX_BATCH": "0"}, [], "ONEFILE_WRITER_MAX_BATCH: '0'"),
            ({"ONEFILE_WRITER_LINGER_US": "-5"}, [], "ONEFILE_WRITER_LINGER_US: '-5'"),
            ({"ONEFILE_REQUEST_TIMEOUT_S": "0"}, [], "ONEFILE_REQUEST_TIMEOUT_S: '0'"),
        ]
        for env, args, text in cases:
            for cmd in ("config", "serve", "migrate"):
                r = run([cmd] + args, env=clean_env(**env))
                self.assertEqual(r.returncode, 2, (cmd, env, args, r.stderr))
                lines = r.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertIn(text, lines[0])

    def test_unwritable_data_directory_exit_2(self):
        for cmd in ("serve", "migrate"):
            r = run([cmd, "--db", "/proc/onefile-test/x.db"])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn("data directory", r.stderr)
        blocker = os.path.join(self.dir, "file")
        open(blocker, "w").close()
        r = run(["migrate", "--db", os.path.join(blocker, "x.db")])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("not a directory", r.stderr)


if __name__ == "__main__":
    unittest.main()
