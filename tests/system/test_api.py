"""The JSON API over real HTTP against the real binary: every status code it promises,
cursor pagination at its boundaries, tokens (missing, bad, revoked mid-session, checked by
a write inside its own transaction), malformed JSON bodies, unicode slugs, ETag
revalidation, and the page-view / last-use writes."""
import json
import os
import time
import unittest

import harness
from harness import run


class ApiTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        r = run(["token", "create", "tests", "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.token = r.stdout.strip()
        self.assertTrue(self.token.startswith("of_"))
        self.assertEqual(len(self.token), 46)
        self.s = self.serve()

    def tearDown(self):
        self.stop_clean(self.s)
        super().tearDown()

    def call(self, method, path, body=None, token=True, headers=None, raw=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + (self.token if token is True else token)
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        status, rh, out = self.s.request(method, path, body=data, headers=h)
        try:
            parsed = json.loads(out) if out else None
        except ValueError:
            parsed = out
        return status, rh, parsed

    def create(self, **fields):
        status, _, post = self.call("POST", "/api/v1/posts", fields)
        self.assertEqual(status, 201, post)
        return post

    def test_create_get_update_delete(self):
        status, headers, post = self.call("POST", "/api/v1/posts",
                                          {"title": "First post", "body_md": "Hello *there*"})
        self.assertEqual(status, 201, post)
        self.assertEqual(headers["location"], "/api/v1/posts/%d" % post["id"])
        for key in ("id", "slug", "title", "body_md", "kind", "status", "published_at",
                    "created_at", "updated_at"):
            self.assertIn(key, post)
        self.assertEqual((post["slug"], post["kind"], post["status"]),
                         ("first-post", "post", "draft"))
        self.assertIsNone(post["published_at"])
        pid = post["id"]
        # a draft is invisible without a token
        self.assertEqual(self.call("GET", "/api/v1/posts/%d" % pid, token=False)[0], 404)
        status, _, got = self.call("GET", "/api/v1/posts/%d" % pid)
        self.assertEqual((status, got), (200, post))
        status, _, upd = self.call("PATCH", "/api/v1/posts/%d" % pid, {"status": "published"})
        self.assertEqual(status, 200, upd)
        self.assertEqual(upd["status"], "published")
        self.assertRegex(upd["published_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(upd["title"], "First post")  # untouched fields kept
        self.assertEqual(self.call("GET", "/api/v1/posts/%d" % pid, token=False)[0], 200)
        status, _, body = self.call("DELETE", "/api/v1/posts/%d" % pid)
        self.assertEqual((status, body), (204, None))
        self.assertEqual(self.call("GET", "/api/v1/posts/%d" % pid)[0], 404)
        self.assertEqual(self.call("DELETE", "/api/v1/posts/%d" % pid)[0], 404)
        self.assertEqual(self.call("PATCH", "/api/v1/posts/%d" % pid, {"title": "x"})[0], 404)

    def test_status_codes(self):
        self.create(title="Taken", slug="taken")
        cases = [
            ("GET", "/api/v1/posts/abc", None, True, 404),
            ("GET", "/api/v1/posts/999999", None, True, 404),
            ("PUT", "/api/v1/posts/1", {"title": "x"}, True, 405),
            ("POST", "/api/v1/posts", {"title": "x"}, False, 401),
            ("POST", "/api/v1/posts", {"title": "x"}, "of_" + "A" * 43, 401),
            ("POST", "/api/v1/posts", {"title": "again", "slug": "taken"}, True, 409),
            ("POST", "/api/v1/posts", {"slug": "no-title"}, True, 422),
            ("POST", "/api/v1/posts", {"title": "x", "kind": "note"}, True, 422),
            ("POST", "/api/v1/posts", {"title": "x", "status": "live"}, True, 422),
            ("POST", "/api/v1/posts", {"title": "x", "published_at": "yesterday"}, True, 422),
            ("POST", "/api/v1/posts", {"title": "x", "slug": "a/b"}, True, 422),
            ("POST", "/api/v1/posts", {"title": "x", "slug": "admin"}, True, 422),
            ("POST", "/api/v1/posts", {"title": "x", "colour": "red"}, True, 422),
            ("POST", "/api/v1/posts", {"title": "!!!"}, True, 422),
            ("GET", "/api/v1/messages", None, False, 401),
            ("GET", "/api/v1/posts?limit=0", None, True, 400),
            ("GET", "/api/v1/posts?limit=101", None, True, 400),
            ("GET", "/api/v1/posts?cursor=zz", None, True, 400),
            ("GET", "/api/v1/posts?kind=note", None, True, 400),
            ("GET", "/api/v1/posts?status=draft", None, False, 401),
        ]
        for method, path, body, token, want in cases:
            status, headers, out = self.call(method, path, body, token=token)
            self.assertEqual(status, want, (method, path, body, out))
            self.assertEqual(headers["content-type"], "application/json")
            self.assertIn("code", out["error"])
            self.assertIn("message", out["error"])
            if want == 405:
                self.assertIn("PATCH", headers["allow"])
            if want == 401:
                self.assertEqual(headers["www-authenticate"], "Bearer")
            if want == 422:
                self.assertIn("field", out["error"])
        status, _, out = self.call("POST", "/api/v1/posts", {"title": "x", "slug": "taken"})
        self.assertEqual(out["error"]["field"], "slug")

    def test_wrong_content_type_and_body_limits(self):
        status, _, out = self.call("POST", "/api/v1/posts", raw=b"title=x",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 415)
        self.assertEqual(out["error"]["code"], "unsupported_media_type")
        # a body over ONEFILE_MAX_BODY_BYTES (1 MiB) is refused as soon as its length is known
        reply = self.s.raw(b"POST /api/v1/posts HTTP/1.1\r\nHost: x\r\n"
                           b"Authorization: Bearer " + self.token.encode() + b"\r\n"
                           b"Content-Type: application/json\r\n"
                           b"Content-Length: 2097152\r\n\r\n{\"title\": \"big\"")
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply[:200])
        self.assertIn(b'"code":"payload_too_large"', reply)

    def test_malformed_json_bodies(self):
        bodies = [
            b'{"title": "trunc',
            b'{"title": "a", "title": "b"}',
            b'{"title": "x", "body_md": 12345678901234567890123}',
            b'{"title": "\xff\xfe bad utf8"}',
            b'["title"]',
            b'',
            b'{"title": "x"} trailing',
        ]
        for raw in bodies:
            status, _, out = self.call("POST", "/api/v1/posts", raw=raw,
                                       headers={"Content-Type": "application/json"})
            self.assertEqual(status, 400, (raw, out))
            self.assertEqual(out["error"]["code"], "malformed_json")
        for fields, field in (({"title": 5}, "title"), ({"title": "x", "body_md": []}, "body_md"),
                              ({"title": "x", "status": None}, "status"),
                              ({"title": "x", "published_at": 3}, "published_at")):
            status, _, out = self.call("POST", "/api/v1/posts", fields)
            self.assertEqual((status, out["error"]["field"]), (422, field), fields)
        # nothing was stored by any of them
        status, _, page = self.call("GET", "/api/v1/posts")
        self.assertEqual(page["items"], [])

    def test_edge_cases_found_in_review(self):
        long_title = "A fairly long title that keeps going and going " * 3
        post = self.create(title=long_title)
        self.assertLessEqual(len(post["slug"].encode()), 100)
        self.assertFalse(post["slug"].endswith("-"))
        status, _, out = self.call("POST", "/api/v1/posts",
                                   {"title": "Feb", "published_at": "2026-02-31T00:00:00Z"})
        self.assertEqual((status, out["error"]["field"]), (422, "published_at"))
        pub = self.create(title="Dated", status="published")
        status, _, upd = self.call("PATCH", "/api/v1/posts/%d" % pub["id"], {"published_at": None})
        self.assertEqual(status, 200)
        self.assertIsNotNone(upd["published_at"])  # a published post always has a date
        status, headers, _ = self.call("DELETE", "/api/v1/posts/%d" % pub["id"])
        self.assertEqual(status, 204)
        self.assertNotIn("content-type", headers)

    def test_unicode_slugs(self):
        post = self.create(title="Café crème à Zürich", status="published")
        self.assertEqual(post["slug"], "café-crème-à-zürich")
        p2 = self.create(title="x", slug="日本語", status="published")
        self.assertEqual(p2["slug"], "日本語")
        status, _, _ = self.s.request("GET", "/api/v1/posts/%d" % p2["id"])
        self.assertEqual(status, 200)

    def test_cursor_pagination_boundaries(self):
        ids = [self.create(title="Post %d" % i, status="published")["id"] for i in range(7)]
        seen, cursor, pages = [], None, 0
        while True:
            path = "/api/v1/posts?limit=3" + ("&cursor=" + cursor if cursor else "")
            status, _, page = self.call("GET", path, token=False)
            self.assertEqual(status, 200)
            seen += [p["id"] for p in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, sorted(ids, reverse=True))
        self.assertEqual(pages, 3)
        # a page that ends exactly at the last item says there is no next page
        status, _, page = self.call("GET", "/api/v1/posts?limit=7", token=False)
        self.assertEqual((len(page["items"]), page["next_cursor"]), (7, None))
        status, _, page = self.call("GET", "/api/v1/posts?limit=1", token=False)
        self.assertEqual(len(page["items"]), 1)
        self.assertEqual(page["next_cursor"], str(ids[-1]))
        status, _, page = self.call("GET", "/api/v1/posts?limit=100", token=False)
        self.assertEqual(len(page["items"]), 7)
        # filters
        self.create(title="A page", kind="page", status="published")
        self.create(title="A draft")
        status, _, page = self.call("GET", "/api/v1/posts?kind=page", token=False)
        self.assertEqual([p["title"] for p in page["items"]], ["A page"])
        status, _, page = self.call("GET", "/api/v1/posts?status=draft")
        self.assertEqual([p["title"] for p in page["items"]], ["A draft"])
        status, _, page = self.call("GET", "/api/v1/posts", token=False)
        self.assertNotIn("A draft", [p["title"] for p in page["items"]])

    def test_etag_revalidation(self):
        post = self.create(title="Cached", status="published")
        path = "/api/v1/posts/%d" % post["id"]
        status, headers, _ = self.call("GET", path, token=False)
        etag = headers["etag"]
        status, headers, body = self.call("GET", path, token=False,
                                          headers={"If-None-Match": etag})
        self.assertEqual((status, body), (304, None))
        self.call("PATCH", path, {"title": "Changed"})
        status, headers, _ = self.call("GET", path, token=False,
                                       headers={"If-None-Match": etag})
        self.assertEqual(status, 200)
        self.assertNotEqual(headers["etag"], etag)

    def test_token_revoked_mid_session(self):
        self.assertEqual(self.call("GET", "/api/v1/messages")[0], 200)
        r = run(["token", "revoke", "tests", "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        status, _, out = self.call("GET", "/api/v1/messages")
        self.assertEqual(status, 401)
        self.assertEqual(self.call("POST", "/api/v1/posts", {"title": "late"})[0], 401)
        # its last use was recorded (asynchronously, through the writer)
        deadline = time.time() + 5
        while time.time() < deadline:
            used = self.sql("SELECT last_used_at FROM api_tokens WHERE name='tests'")[0]
            if used[0]:
                break
            time.sleep(0.1)
        self.assertIsNotNone(used[0])
        r = run(["token", "list", "--db", self.db])
        self.assertIn("REVOKED", r.stdout)

    def test_writes_check_the_token_in_their_own_transaction(self):
        post = self.create(title="Kept")
        path = "/api/v1/posts/%d" % post["id"]
        bad = "of_" + "B" * 43
        # a refused body or id tells nothing to a caller without a valid token
        for method, p, body, raw, want in [
                ("POST", "/api/v1/posts", None, b'{"title":', 400),
                ("POST", "/api/v1/posts", {"title": "x", "kind": "note"}, None, 422),
                ("PATCH", path, {"status": "live"}, None, 422),
                ("PATCH", "/api/v1/posts/abc", {"title": "x"}, None, 404),
                ("DELETE", "/api/v1/posts/abc", None, None, 404)]:
            h = {"Content-Type": "application/json"} if raw else None
            self.assertEqual(self.call(method, p, body, token=bad, raw=raw, headers=h)[0], 401,
                             (method, p))
            self.assertEqual(self.call(method, p, body, raw=raw, headers=h)[0], want, (method, p))
        # the token's last use is noted by the write itself, committed with it
        self.sql("UPDATE api_tokens SET last_used_at = NULL")
        status, _, out = self.call("PATCH", path, {"title": "Kept, renamed"})
        self.assertEqual(status, 200, out)
        self.assertEqual(out["title"], "Kept, renamed")
        used = self.sql("SELECT last_used_at FROM api_tokens WHERE name='tests'")[0]
        self.assertIsNotNone(used[0])
        # revoked by another process: no write gets through, and nothing changed
        self.assertEqual(run(["token", "revoke", "tests", "--db", self.db]).returncode, 0)
        self.assertEqual(self.call("PATCH", path, {"title": "stolen"})[0], 401)
        self.assertEqual(self.call("DELETE", path)[0], 401)
        self.assertEqual(self.call("POST", "/api/v1/posts", {"title": "stolen"})[0], 401)
        rows = self.sql("SELECT title FROM posts")
        self.assertEqual(rows, [("Kept, renamed",)])

    def test_token_command_errors(self):
        for args in (["token"], ["token", "create"], ["token", "create", "bad name"],
                     ["token", "frobnicate", "x"], ["token", "list", "extra"]):
            r = run(args + ["--db", self.db])
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(r.stderr.startswith("onefile token: "), r.stderr)
        r = run(["token", "create", "tests", "--db", self.db])
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists already", r.stderr)
        self.assertEqual(r.stdout, "")
        r = run(["token", "revoke", "nobody", "--db", self.db])
        self.assertEqual(r.returncode, 1)
        hashes = self.sql("SELECT token_hash FROM api_tokens")
        self.assertNotIn(self.token, [h for (h,) in hashes])  # stored hashed only


if __name__ == "__main__":
    unittest.main()
