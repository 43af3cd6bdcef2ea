"""ONEFILE_DB as a PostgreSQL URL: `onefile config` shows it with the password masked; a
URL libpq refuses is a configuration error; and every command that does not run on
PostgreSQL yet refuses it with one line and exit 2 -- without taking the URL for a file
name (no `postgres:` directory appears, nothing is written).
"""
import os
import subprocess
import unittest

import harness
from harness import BIN, clean_env

URL = ("postgres://app:hunter2-secret@db1.internal:5432,db2.internal:5433/site"
       "?target_session_attrs=read-write&connect_timeout=5")
# every command that takes --db but does not run on PostgreSQL yet, with arguments that
# would otherwise make it act
SQLITE_ONLY = [["check"], ["profile"], ["backup"], ["backups"], ["restore", "latest"]]
# the commands that run on PostgreSQL (docs/postgres.md): against a server that is not
# there they fail to connect (exit 1), say so once, and never show the password
ON_POSTGRES = [["serve"], ["migrate"], ["migrate", "--status"], ["user", "list"],
               ["token", "list"], ["jobs", "list"]]
DOWN = "postgres://app:hunter2-secret@127.0.0.1:1/site?connect_timeout=2"


class DbUrlTest(harness.TestCase):
    def run_here(self, args, env):
        """Runs onefile in the test's directory, so a URL taken for a path would land here."""
        return subprocess.run([BIN] + args, env=env, cwd=self.dir, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)

    def test_config_masks_the_password(self):
        for env, args in ((clean_env(ONEFILE_DB=URL), ["config"]),
                          (clean_env(), ["config", "--db", URL])):
            r = self.run_here(args, env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("ONEFILE_DB=" + URL.replace("hunter2-secret", "********") + "\n",
                          r.stdout)
            self.assertNotIn("hunter2", r.stdout + r.stderr)
        r = self.run_here(["config", "--db", "postgresql:///site?host=/run/pg&password=pw1"],
                          clean_env())
        self.assertIn("ONEFILE_DB=postgresql:///site?host=/run/pg&password=********\n",
                      r.stdout)
        self.assertNotIn("pw1", r.stdout)

    def test_a_url_libpq_refuses_is_a_configuration_error(self):
        for bad, why in (("postgres://u:topsecret@h:54x2/db", "54x2"),
                         ("postgres://h/db?no_such_option=1", "no_such_option"),
                         ("postgresql://h/db?sslmode", "sslmode")):
            r = self.run_here(["config", "--db", bad], clean_env())
            self.assertEqual(r.returncode, 2, r.stderr)
            lines = r.stderr.splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn("onefile config: --db: ", lines[0])
            self.assertIn("is not a PostgreSQL URL libpq accepts", lines[0])
            self.assertIn(why, lines[0])
            self.assertNotIn("topsecret", r.stderr)
            self.assertEqual(r.stdout, "")

    def test_sqlite_only_commands_refuse_a_postgres_url(self):
        for args in SQLITE_ONLY:
            with self.subTest(args):
                r = self.run_here(args, clean_env(ONEFILE_DB=URL))
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                lines = r.stderr.splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertEqual(lines[0],
                                 "onefile %s: the database is a PostgreSQL URL; %s works on a "
                                 "SQLite file only (docs/postgres.md lists what runs on "
                                 "PostgreSQL)" % (args[0], args[0]))
                self.assertNotIn("hunter2", r.stderr)
                harness.assert_no_sanitizer(self, r.stderr)
                # the URL was not taken for a path: nothing was created beside us
                self.assertEqual(sorted(os.listdir(self.dir)), [])
                # --help still answers
                self.assertEqual(self.run_here(args[:1] + ["--help"],
                                               clean_env(ONEFILE_DB=URL)).returncode, 0)

    def test_postgres_commands_connect_and_mask_the_password(self):
        for args in ON_POSTGRES:
            with self.subTest(args):
                r = self.run_here(args, clean_env(ONEFILE_DB=DOWN))
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn("cannot connect to postgres://app:********@127.0.0.1:1/site",
                              r.stderr)
                self.assertNotIn("hunter2", r.stdout + r.stderr)
                harness.assert_no_sanitizer(self, r.stderr)
                self.assertEqual(sorted(os.listdir(self.dir)), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
