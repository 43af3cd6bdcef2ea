"""The read path over real HTTP (http/cache.c, http/encoding.c, the server's conditional
GET): gzip and zstd negotiated by Accept-Encoding with q-values, Vary, variant ETags,
small bodies and static files, HEAD on every GET route, ETag / Last-Modified and 304, the
cache's byte budget (ONEFILE_CACHE_BYTES) evicting, and the API's public lists cached."""
import gzip
import json
import subprocess
import time

import harness
from harness import run

BODY = "\n\n".join("Paragraph %d of a post long enough to be worth compressing, "
                   "with words repeated and repeated." % i for i in range(60))


def unzstd(data):
    return subprocess.run(["zstd", "-d", "-c", "-q"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


class ReadPathTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        self.token = run(["token", "create", "site", "--db", self.db]).stdout.strip()
        self.s = None

    def tearDown(self):
        if self.s:
            self.stop_clean(self.s)
        super().tearDown()

    def start(self, **env):
        e = harness.clean_env()
        e.setdefault("ONEFILE_CACHE_MAX_AGE_MS", "60000")  # nothing expires during a test
        e.update(env)
        self.s = self.serve(env=e)

    def post(self, **fields):
        status, _, body = self.s.request(
            "POST", "/api/v1/posts", body=json.dumps(fields).encode(),
            headers={"Authorization": "Bearer " + self.token,
                     "Content-Type": "application/json"})
        self.assertEqual(status, 201, body)
        return json.loads(body)

    def patch(self, post_id, fields):
        status, _, body = self.s.request(
            "PATCH", "/api/v1/posts/%d" % post_id, body=json.dumps(fields).encode(),
            headers={"Authorization": "Bearer " + self.token,
                     "Content-Type": "application/json"})
        self.assertEqual(status, 200, body)

    def get(self, path, ae=None, **headers):
        h = dict(headers)
        if ae is not None:
            h["Accept-Encoding"] = ae
        return self.s.request("GET", path, headers=h)

    def test_gzip_and_zstd_by_accept_encoding(self):
        self.start()
        post = self.post(title="Long", slug="long", status="published", body_md=BODY)
        paths = ("/", "/posts/long", "/feed.xml", "/sitemap.xml",
                 "/api/v1/posts/%d" % post["id"], "/api/v1/posts")
        for path in paths:
            status, h, plain = self.get(path)
            self.assertEqual(status, 200, path)
            self.assertNotIn("content-encoding", h, path)
            self.assertEqual(h.get("vary"), "Accept-Encoding", path)
            if path == "/sitemap.xml":  # a short document: never compressed
                self.assertLess(len(plain), 1024)
                status, h, body = self.get(path, "gzip")
                self.assertNotIn("content-encoding", h)
                self.assertEqual(body, plain)
                continue
            # built by the first request, answered from the cache by the second: both coded
            for _ in range(2):
                status, hz, body = self.get(path, "gzip;q=0.8, zstd;q=0.9, br")
                self.assertEqual((status, hz.get("content-encoding")), (200, "zstd"), path)
                self.assertEqual(unzstd(body), plain, path)
                self.assertLess(len(body), len(plain) // 2, path)
            self.assertEqual(hz.get("x-cache"), "hit", path)
            status, hg, body = self.get(path, "gzip, deflate")
            self.assertEqual(hg.get("content-encoding"), "gzip", path)
            self.assertEqual(gzip.decompress(body), plain, path)
            self.assertEqual(hg.get("vary"), "Accept-Encoding", path)
            # three representations, three strong validators
            self.assertEqual(len({h["etag"], hz["etag"], hg["etag"]}), 3, path)
            self.assertNotIn("content-encoding", self.get(path, "gzip;q=0, zstd;q=0")[1])
            self.assertNotIn("content-encoding", self.get(path, "identity")[1])
            self.assertEqual(self.get(path, "*")[1].get("content-encoding"), "zstd")
            # a 304 for the variant the client holds, not for another one
            status, h304, body = self.get(path, "gzip", **{"If-None-Match": hg["etag"]})
            self.assertEqual((status, body), (304, b""), path)
            self.assertEqual(h304["etag"], hg["etag"])
            self.assertNotIn("content-encoding", h304)
            self.assertEqual(self.get(path, "zstd", **{"If-None-Match": hg["etag"]})[0], 200)
        # a small API answer is sent as it is
        small = self.post(title="S", status="published", body_md="x")
        status, h, _ = self.get("/api/v1/posts/%d" % small["id"], "gzip, zstd")
        self.assertEqual(status, 200)
        self.assertNotIn("content-encoding", h)

    def test_static_files_precompressed(self):
        self.start()
        status, h, plain = self.get("/static/style.css")
        self.assertEqual(status, 200)
        self.assertGreater(len(plain), 1024)
        self.assertEqual(h.get("vary"), "Accept-Encoding")
        self.assertIn("last-modified", h)
        status, hg, body = self.get("/static/style.css", "gzip")
        self.assertEqual(hg.get("content-encoding"), "gzip")
        self.assertEqual(gzip.decompress(body), plain)
        status, hz, body = self.get("/static/style.css", "zstd, gzip")
        self.assertEqual(hz.get("content-encoding"), "zstd")
        self.assertEqual(unzstd(body), plain)
        self.assertNotEqual(hg["etag"], h["etag"])
        status, _, body = self.get("/static/style.css", "gzip", **{"If-None-Match": hg["etag"]})
        self.assertEqual((status, body), (304, b""))
        status, _, _ = self.get("/static/style.css", **{"If-Modified-Since": h["last-modified"]})
        self.assertEqual(status, 304)

    def test_head_on_every_get_route(self):
        self.start()
        post = self.post(title="Head", slug="head", status="published", body_md=BODY)
        self.post(title="About", slug="about", kind="page", status="published")
        for path in ("/", "/?page=1", "/posts/head", "/about", "/feed.xml", "/sitemap.xml",
                     "/contact", "/static/style.css", "/api/v1/posts",
                     "/api/v1/posts/%d" % post["id"], "/healthz", "/posts/missing"):
            for ae in (None, "gzip"):
                h = {"Accept-Encoding": ae} if ae else {}
                gs, gh, gbody = self.s.request("GET", path, headers=h)
                hs, hh, hbody = self.s.request("HEAD", path, headers=h)
                self.assertEqual(hs, gs, path)
                self.assertEqual(hbody, b"", path)
                self.assertEqual(int(hh["content-length"]), len(gbody), path)
                self.assertEqual(hh.get("etag"), gh.get("etag"), path)
                self.assertEqual(hh.get("content-encoding"), gh.get("content-encoding"), path)

    def test_last_modified_and_if_modified_since(self):
        self.start(ONEFILE_CACHE_MAX_AGE_MS="300")
        post = self.post(title="Dated", slug="dated", status="published", body_md=BODY)
        for path in ("/", "/posts/dated", "/feed.xml", "/sitemap.xml", "/api/v1/posts",
                     "/api/v1/posts/%d" % post["id"]):
            status, h, _ = self.get(path)
            lm = h["last-modified"]
            self.assertRegex(lm, r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")
            self.assertEqual(self.get(path, **{"If-Modified-Since": lm})[0], 304, path)
            self.assertEqual(self.get(path, **{"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"})[0],
                             200, path)
            self.assertEqual(self.get(path, **{"If-Modified-Since": "yesterday"})[0], 200, path)
            # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
            self.assertEqual(self.get(path, **{"If-Modified-Since": lm,
                                                "If-None-Match": '"other"'})[0], 200, path)
        # rebuilt after the max age with the same bytes: not modified since
        status, h1, _ = self.get("/posts/dated")
        time.sleep(1.2)
        status, h2, _ = self.get("/posts/dated")
        self.assertNotIn("x-cache", h2)  # rebuilt
        self.assertEqual(h2["last-modified"], h1["last-modified"])
        self.assertEqual(h2["etag"], h1["etag"])
        # a change is modified: a later date, a new ETag, and the old validators miss
        self.patch(post["id"], {"title": "Dated again"})
        status, h3, body = self.get("/posts/dated")
        self.assertIn(b"Dated again", body)
        self.assertNotEqual(h3["etag"], h1["etag"])
        self.assertGreater(time.mktime(time.strptime(h3["last-modified"], "%a, %d %b %Y %H:%M:%S GMT")),
                           time.mktime(time.strptime(h1["last-modified"], "%a, %d %b %Y %H:%M:%S GMT")))
        self.assertEqual(self.get("/posts/dated", **{"If-Modified-Since": h1["last-modified"]})[0], 200)
        self.assertEqual(self.get("/posts/dated", **{"If-None-Match": h1["etag"]})[0], 200)

    def test_byte_budget_evicts_least_recently_used(self):
        # 120 KB: each post page (~6 KB with its gzip variant) fits, not forty of them
        self.start(ONEFILE_CACHE_BYTES="120000")
        for i in range(40):
            self.post(title="Post %d" % i, slug="p%d" % i, status="published", body_md=BODY)
        for i in range(40):
            self.assertEqual(self.get("/posts/p%d" % i, "gzip")[0], 200)
        self.assertEqual(self.get("/posts/p39", "gzip")[1].get("x-cache"), "hit")
        self.assertNotIn("x-cache", self.get("/posts/p0", "gzip")[1])  # evicted
        # the one used keeps its place: p39 stays while ten others come in
        for i in range(1, 11):
            self.get("/posts/p%d" % i, "gzip")
            self.assertEqual(self.get("/posts/p39", "gzip")[1].get("x-cache"), "hit")
        # 0 turns the cache off
        self.stop_clean(self.s)
        self.start(ONEFILE_CACHE_BYTES="0")
        self.get("/posts/p1")
        self.assertNotIn("x-cache", self.get("/posts/p1")[1])
        self.assertNotIn("content-encoding", self.get("/posts/p1", "gzip")[1])
        # a budget that is not a number is refused at start
        bad = harness.Server(self.db, wait=False,
                             env=harness.clean_env(ONEFILE_CACHE_BYTES="lots"))
        self.servers.append(bad)
        self.assertEqual(bad.proc.wait(timeout=30), 2)
        self.assertIn("ONEFILE_CACHE_BYTES", bad.stderr())

    def test_api_lists_cached_for_anonymous_readers(self):
        self.start()
        a = self.post(title="A", status="published")
        self.post(title="B", status="published")
        auth = {"Authorization": "Bearer " + self.token}
        for q in ("", "?limit=1", "?kind=post&limit=5", "?limit=1&cursor=%d" % (a["id"] + 1)):
            path = "/api/v1/posts" + q
            status, h, first = self.get(path)
            self.assertEqual(status, 200, path)
            self.assertNotIn("x-cache", h)
            status, h, second = self.get(path)
            self.assertEqual(h.get("x-cache"), "hit", path)
            self.assertEqual(first, second)
            self.assertNotIn("x-cache", self.get(path, **auth)[1])  # a token sees drafts
        self.assertEqual(len(json.loads(self.get("/api/v1/posts?limit=1")[2])["items"]), 1)
        self.assertEqual(self.get("/api/v1/posts?limit=0")[0], 400)
        self.patch(a["id"], {"title": "A2"})
        status, h, body = self.get("/api/v1/posts")
        self.assertNotIn("x-cache", h)
        self.assertIn(b"A2", body)


if __name__ == "__main__":
    import unittest
    unittest.main()
