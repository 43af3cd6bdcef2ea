"""`onefile jobs`: next fire times of cron expressions (and errors naming the field), the
schedule with its overrides, and list / failed / retry on a database file."""
import datetime
import json
import sqlite3
import unittest

import harness
from harness import run, clean_env


def utc(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


class JobsNextTest(harness.TestCase):
    def next(self, expr, *args):
        r = run(["jobs", "next", expr] + list(args))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        harness.assert_no_sanitizer(self, r.stderr)
        return r.stdout.splitlines()

    def test_fire_times(self):
        cases = [
            ("@daily", ["--from", "2026-01-01", "--count", "3"],
             ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]),
            ("*/15 * * * *", ["--from", "2026-01-01T00:05", "--count", "4"],
             ["2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z",
              "2026-01-01T01:00:00Z"]),
            # Sundays at 03:00 (2026-01-01 is a Thursday)
            ("0 3 * * 0", ["--from", "2026-01-01T00:00:00Z", "--count", "3"],
             ["2026-01-04T03:00:00Z", "2026-01-11T03:00:00Z", "2026-01-18T03:00:00Z"]),
            # leap days only; 2100 is not a leap year
            ("0 0 29 2 *", ["--from", "2026-01-01", "--count", "3"],
             ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"]),
            ("0 0 29 2 *", ["--from", "2096-03-01", "--count", "1"], ["2104-02-29T00:00:00Z"]),
            ("0 0 31 * *", ["--from", "2026-02-01", "--count", "4"],
             ["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z",
              "2026-08-31T00:00:00Z"]),
            ("0,30 9-17/4 * * MON-FRI", ["--from", "2026-01-02T16:00", "--count", "4"],
             ["2026-01-02T17:00:00Z", "2026-01-02T17:30:00Z", "2026-01-05T09:00:00Z",
              "2026-01-05T09:30:00Z"]),
            ("@hourly", ["--from", "2026-01-01T10:30", "--count", "2"],
             ["2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"]),
        ]
        for expr, args, want in cases:
            with self.subTest(expr=expr, args=args):
                self.assertEqual(self.next(expr, *args), want)

    def test_defaults_are_five_from_now(self):
        before = datetime.datetime.now(datetime.timezone.utc)
        lines = self.next("* * * * *")
        self.assertEqual(len(lines), 5)
        times = [utc(s) for s in lines]
        self.assertEqual(times, sorted(times))
        self.assertGreaterEqual(times[0], before.replace(second=0, microsecond=0))
        self.assertLess(times[0] - before, datetime.timedelta(minutes=1))
        self.assertEqual(len(self.next("@yearly", "--count", "1000")), 1000)

    def test_bad_expressions_exit_2_naming_the_field(self):
        cases = [
            ("60 * * * *", "minute: 60 is out of range 0-59"),
            ("* 24 * * *", "hour: 24 is out of range 0-23"),
            ("0 0 32 * *", "day-of-month: 32 is out of range 1-31"),
            ("0 0 * 13 *", "month: 13 is out of range 1-12"),
            ("0 0 * * 8", "day-of-week: 8 is out of range 0-7"),
            ("0 0 * * FUN", "day-of-week: 'FUN' is not a number or weekday name"),
            ("*/0 * * * *", "minute: step 0 is out of range 1-60"),
            ("5-1 * * * *", "minute: range 5-1 goes backwards"),
            ("1,,2 * * * *", "minute: empty item in list '1,,2'"),
            ("* * *", "expression: expected 5 fields"),
            ("", "expression: empty"),
            ("@reboot", "expression: @reboot is not supported"),
            ("0 0 30 2 *", "day-of-month: 30 never occurs in month 2"),
        ]
        for expr, text in cases:
            with self.subTest(expr=expr):
                r = run(["jobs", "next", expr])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, "")
                lines = r.stderr.splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertTrue(lines[0].startswith("onefile jobs: " + text), lines[0])

    def test_bad_options_exit_2(self):
        for args, text in [
            (["next", "@daily", "--count", "0"], "--count: '0'"),
            (["next", "@daily", "--count", "x"], "--count: 'x'"),
            (["next", "@daily", "--from", "2026-02-30"], "--from: '2026-02-30'"),
            (["next", "@daily", "--from", "tomorrow"], "--from: 'tomorrow'"),
            (["next"], "next needs one cron expression"),
            (["list", "--count", "3"], "--count and --from are for `next`"),
            (["frob"], "unknown action 'frob'"),
            (["retry"], "retry needs the ID"),
            (["retry", "abc"], "retry: 'abc' is not a job ID"),
            (["schedule", "x"], "schedule takes no argument"),
        ]:
            with self.subTest(args=args):
                r = run(["jobs"] + args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(text, r.stderr.splitlines()[0])

    def test_help(self):
        r = run(["jobs", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: onefile jobs", r.stdout)
        self.assertIn("--count", r.stdout)


class JobsScheduleTest(harness.TestCase):
    def test_schedule_defaults_and_overrides(self):
        r = run(["jobs", "schedule", "--db", self.db, "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {j["job"]: j for j in json.loads(r.stdout)}
        self.assertEqual(set(rows), {"checkpoint", "prune-sessions", "quick-check",
                                     "rollup-views", "backup", "restore-drill"})
        self.assertEqual(rows["quick-check"]["source"], "default")
        self.assertIsNone(rows["quick-check"]["last_run"])
        env = clean_env(ONEFILE_SCHEDULE_QUICK_CHECK="15 2 * * *",
                        ONEFILE_SCHEDULE_ROLLUP_VIEWS="off")
        r = run(["jobs", "schedule", "--db", self.db, "--json"], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {j["job"]: j for j in json.loads(r.stdout)}
        self.assertEqual(rows["quick-check"]["schedule"], "15 2 * * *")
        self.assertEqual(rows["quick-check"]["source"], "ONEFILE_SCHEDULE_QUICK_CHECK")
        self.assertRegex(rows["quick-check"]["next"], r"T02:15:00Z$")
        self.assertIsNone(rows["rollup-views"]["next"])
        r = run(["jobs", "schedule", "--db", self.db], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"quick-check +15 2 \* \* \* +ONEFILE_SCHEDULE_QUICK_CHECK")

    def test_bad_schedule_variables_exit_2(self):
        for env, text in [
            ({"ONEFILE_SCHEDULE_QUICK_CHECK": "0 25 * * *"},
             "ONEFILE_SCHEDULE_QUICK_CHECK: hour: 25 is out of range 0-23"),
            ({"ONEFILE_SCHEDULE_QUICKCHECK": "@daily"},
             "ONEFILE_SCHEDULE_QUICKCHECK: no scheduled job of that name"),
        ]:
            r = run(["jobs", "schedule", "--db", self.db], env=clean_env(**env))
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertIn(text, r.stderr)

    def test_schedule_shows_the_last_run(self):
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        con = sqlite3.connect(self.db)
        con.execute("INSERT INTO schedule_runs (job, started_at, finished_at, outcome, message) "
                    "VALUES ('quick-check', '2026-01-01T04:00:00Z', '2026-01-01T04:00:01Z', "
                    "'ok', 'ok')")
        con.commit()
        con.close()
        r = run(["jobs", "schedule", "--db", self.db, "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {j["job"]: j for j in json.loads(r.stdout)}
        self.assertEqual(rows["quick-check"]["last_run"]["outcome"], "ok")
        self.assertEqual(rows["quick-check"]["last_run"]["started_at"], "2026-01-01T04:00:00Z")
        r = run(["jobs", "schedule", "--db", self.db])
        self.assertIn("2026-01-01T04:00:00Z ok: ok", r.stdout)


class JobsQueueTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        r = run(["migrate", "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        con = sqlite3.connect(self.db)
        con.executescript("""
            INSERT INTO jobs (id, type, payload, attempts, available_at, idempotency_key)
              VALUES (1, 'webhook', '{"url":"http://127.0.0.1:9/"}', 0,
                      '2000-01-01T00:00:00.000Z', 'contact-1');
            INSERT INTO jobs (id, type, payload, attempts, available_at, last_error)
              VALUES (2, 'webhook', '{}', 2, '2999-01-01T00:00:00.000Z', 'HTTP 500: nope');
            INSERT INTO jobs (id, type, payload, attempts, available_at, reserved_at,
                              reserved_by)
              VALUES (3, 'webhook', '{}', 1, '2000-01-01T00:00:00.000Z',
                      '2026-01-01T00:00:00.000Z', 'host:42:abcd/w0/1');
            INSERT INTO failed_jobs (id, type, payload, attempts, last_error,
                                     idempotency_key, created_at)
              VALUES (7, 'webhook', '{"url":"http://x/"}', 5, 'HTTP 503: down', 'contact-9',
                      '2026-01-01T00:00:00Z');
            INSERT INTO failed_jobs (id, type, payload, attempts, last_error,
                                     idempotency_key, created_at)
              VALUES (8, 'webhook', '{}', 5, 'HTTP 500', 'contact-1',
                      '2026-01-01T00:00:00Z');
        """)
        con.commit()
        con.close()

    def jobs(self, *args):
        r = run(["jobs"] + list(args) + ["--db", self.db])
        harness.assert_no_sanitizer(self, r.stderr)
        return r

    def test_list(self):
        r = self.jobs()  # list is the default
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^ID +TYPE +STATE +ATTEMPTS")
        self.assertRegex(lines[1], r"^1 +webhook +ready +0/5 .* contact-1")
        self.assertRegex(lines[2], r"^3 +webhook +reserved +1/5 +2026-01-01T00:00:00.000Z")
        self.assertRegex(lines[3], r"^2 +webhook +delayed +2/5 .*HTTP 500: nope$")
        r = self.jobs("list", "--json")
        rows = json.loads(r.stdout)
        self.assertEqual([j["id"] for j in rows], [1, 3, 2])
        self.assertEqual(rows[1]["reserved_by"], "host:42:abcd/w0/1")
        self.assertEqual(rows[0]["state"], "ready")

    def test_failed(self):
        r = self.jobs("failed")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^ID +TYPE +ATTEMPTS +FAILED AT")
        self.assertRegex(lines[1], r"^8 +webhook +5 ")
        self.assertRegex(lines[2], r"^7 +webhook +5 .*contact-9 +HTTP 503: down$")

    def test_retry(self):
        r = self.jobs("retry", "7")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^failed job 7 queued again as job \d+\n$")
        con = sqlite3.connect(self.db)
        row = con.execute("SELECT attempts, last_error, payload, reserved_at FROM jobs "
                          "WHERE idempotency_key = 'contact-9'").fetchone()
        self.assertEqual(row, (0, "HTTP 503: down", '{"url":"http://x/"}', None))
        self.assertIsNone(con.execute("SELECT 1 FROM failed_jobs WHERE id = 7").fetchone())
        con.close()
        # again: no such failed job any more
        r = self.jobs("retry", "7")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no failed job 7", r.stderr)
        # a failed job whose key is queued already: the failed entry goes away
        r = self.jobs("retry", "8")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("queued already (job 1)", r.stdout)
        self.assertIn("no failed jobs", self.jobs("failed").stdout)

    def test_retry_waits_for_a_writer(self):
        con = sqlite3.connect(self.db, isolation_level=None, check_same_thread=False)
        con.execute("BEGIN IMMEDIATE")
        import threading
        t = threading.Timer(0.5, lambda: con.execute("COMMIT"))
        t.start()
        r = self.jobs("retry", "7")  # waits out the lock within the busy timeout
        t.join()
        self.assertEqual(r.returncode, 0, r.stderr)
        con.close()

    def test_missing_database(self):
        r = run(["jobs", "list", "--db", self.db + ".nope"])
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main()
