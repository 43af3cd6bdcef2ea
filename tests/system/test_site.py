"""The public site over real HTTP: published posts only, safe rendering of hostile titles and
bodies, pages, pagination, Atom feed and sitemap (parsed as XML), the contact form
(validation, honeypot, rate limit, multipart refused), static files (ETag, MIME, no
traversal), security headers, and page views recorded without the visitor waiting."""
import json
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

import harness
from harness import run

ATOM = "{http://www.w3.org/2005/Atom}"


class SiteTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        self.token = run(["token", "create", "site", "--db", self.db]).stdout.strip()
        self.s = self.serve()

    def tearDown(self):
        self.stop_clean(self.s)
        super().tearDown()

    def post(self, **fields):
        status, _, body = self.s.request(
            "POST", "/api/v1/posts", body=json.dumps(fields).encode(),
            headers={"Authorization": "Bearer " + self.token,
                     "Content-Type": "application/json"})
        self.assertEqual(status, 201, body)
        return json.loads(body)

    def get(self, path, **kw):
        status, headers, body = self.s.request("GET", path, **kw)
        return status, headers, body.decode("utf-8", "replace")

    def form(self, fields, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.s.request("POST", "/contact", body=urllib.parse.urlencode(fields).encode(),
                              headers=h)

    def test_home_lists_published_posts_only(self):
        self.post(title="Visible one", status="published", body_md="First paragraph here.")
        self.post(title="Secret draft", body_md="not yet")
        self.post(title="About", kind="page", slug="about", status="published")
        status, headers, html = self.get("/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn("Visible one", html)
        self.assertIn("First paragraph here.", html)
        self.assertNotIn("Secret draft", html)
        self.assertIn('href="/about"', html)  # pages in the navigation
        self.assertEqual(self.get("/posts/secret-draft")[0], 404)
        status, _, html = self.get("/about")
        self.assertEqual(status, 200)
        self.assertIn("<h1>About</h1>", html)
        self.assertEqual(self.get("/posts/about")[0], 404)  # a page is not a post
        self.assertEqual(self.get("/visible-one")[0], 404)  # a post is not a page

    def test_hostile_titles_and_bodies_are_escaped(self):
        self.post(title='<script>alert(1)</script> "quoted" \'x\' <b>', slug="hostile",
                  status="published",
                  body_md='<script>alert(2)</script>\n\n[click](javascript:alert(3)) '
                          '![i](data:text/html;base64,AAAA) <img src=x onerror=alert(4)>\n\n'
                          '[ok](https://example.org/a?b=1&c=2)')
        for path in ("/", "/posts/hostile", "/feed.xml"):
            status, _, html = self.get(path)
            self.assertEqual(status, 200)
            self.assertNotIn("<script>", html, path)
            self.assertNotIn("javascript:", html, path)
            self.assertNotIn("<img src=x", html, path)
            self.assertNotIn("data:text/html", html, path)
        status, _, html = self.get("/posts/hostile")
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)
        self.assertIn('href="https://example.org/a?b=1&amp;c=2"', html)

    def test_a_change_shows_at_once_despite_the_page_cache(self):
        post = self.post(title="Before", slug="cached", status="published")
        for _ in range(3):
            self.assertIn("Before", self.get("/posts/cached")[2])
        status, _, _ = self.s.request(
            "PATCH", "/api/v1/posts/%d" % post["id"], body=b'{"title": "After"}',
            headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
        self.assertEqual(status, 200)
        html = self.get("/posts/cached")[2]
        self.assertIn("After", html)
        self.assertNotIn("Before", html)
        api = json.loads(self.s.request("GET", "/api/v1/posts/%d" % post["id"])[2])
        self.assertEqual(api["title"], "After")

    def test_only_content_changes_evict_cached_pages(self):
        # a long max age, so nothing expires during the test: what evicts is a write
        self.stop_clean(self.s)
        env = harness.clean_env()
        env["ONEFILE_CACHE_MAX_AGE_MS"] = "60000"
        self.s = self.serve(env=env)
        post = self.post(title="Before", slug="kept", status="published", body_md="Body one.")
        paths = ("/", "/posts/kept", "/feed.xml", "/sitemap.xml",
                 "/api/v1/posts/%d" % post["id"])
        for path in paths:
            self.assertNotIn("x-cache", self.get(path)[1], path)  # built
            status, headers, body = self.get(path)
            self.assertEqual(status, 200, path)
            self.assertEqual(headers.get("x-cache"), "hit", path)
            self.assertIn("/posts/kept" if path == "/sitemap.xml" else "Before", body, path)
        # page views (flushed once a second), a message and an admin session are writes,
        # but not to content: nothing is evicted
        self.assertEqual(self.form({"name": "A", "email": "a@example.org",
                                    "message": "hello"})[0], 303)
        time.sleep(1.5)  # the views flusher has written the page views by now
        self.assertGreater(self.sql("SELECT sum(count) FROM post_views")[0][0], 0)
        for path in paths:
            self.assertEqual(self.get(path)[1].get("x-cache"), "hit", path)
        # a content change shows at once everywhere the post appears
        status, _, _ = self.s.request(
            "PATCH", "/api/v1/posts/%d" % post["id"], body=b'{"title": "After"}',
            headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
        self.assertEqual(status, 200)
        for path in paths:
            status, headers, body = self.get(path)
            self.assertNotIn("x-cache", headers, path)
            if path != "/sitemap.xml":
                self.assertIn("After", body, path)
                self.assertNotIn("Before", body, path)

    def test_theme_override_and_template_errors(self):
        import os
        theme = os.path.join(self.dir, "theme", "templates")
        os.makedirs(theme)
        with open(os.path.join(theme, "footer.html"), "w") as f:
            f.write("</main><footer>My own footer</footer></body></html>\n")
        other = self.serve(env=harness.clean_env(ONEFILE_THEME_DIR=os.path.dirname(theme)),
                           db=os.path.join(self.dir, "other", "site.db"))
        status, _, body = other.request("GET", "/")
        self.assertIn(b"My own footer", body)
        self.stop_clean(other)
        with open(os.path.join(theme, "post.html"), "w") as f:
            f.write("line one\n{{#post}}\n{{title}}\n")
        bad = harness.Server(os.path.join(self.dir, "other", "site.db"), wait=False,
                             env=harness.clean_env(ONEFILE_THEME_DIR=os.path.dirname(theme)))
        self.servers.append(bad)
        self.assertEqual(bad.proc.wait(timeout=30), 2)
        err = bad.stderr()
        self.assertIn("post.html line 2", err)
        self.assertIn("unclosed section", err)

    def test_unicode_slug_page(self):
        self.post(title="Crème brûlée", status="published", body_md="Délicieux")
        status, _, html = self.get("/posts/" + urllib.parse.quote("crème-brûlée"))
        self.assertEqual(status, 200)
        self.assertIn("Délicieux", html)
        status, _, html = self.get("/")
        self.assertIn('href="/posts/cr%C3%A8me-br%C3%BBl%C3%A9e"', html)

    def test_pagination(self):
        for i in range(12):
            self.post(title="Post number %02d" % i, status="published",
                      published_at="2026-01-%02dT10:00:00Z" % (i + 1))
        status, _, first = self.get("/")
        self.assertIn("Post number 11", first)
        self.assertNotIn("Post number 01", first)
        self.assertIn('href="/?page=2"', first)
        status, _, second = self.get("/?page=2")
        self.assertEqual(status, 200)
        self.assertIn("Post number 01", second)
        self.assertIn("Post number 00", second)
        self.assertIn('href="/"', second)
        self.assertNotIn("?page=3", second)
        self.assertEqual(self.get("/?page=3")[0], 404)
        self.assertEqual(self.get("/?page=0")[0], 400)
        self.assertEqual(self.get("/?page=x")[0], 400)

    def test_feed_and_sitemap_are_valid_xml(self):
        self.post(title="Feed & <entry>", status="published", body_md="**bold**")
        self.post(title="Page", kind="page", slug="page-one", status="published")
        self.post(title="Draft", body_md="no")
        status, headers, text = self.get("/feed.xml")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("application/atom+xml"))
        root = ET.fromstring(text.encode())
        self.assertEqual(root.tag, ATOM + "feed")
        entries = root.findall(ATOM + "entry")
        self.assertEqual([e.find(ATOM + "title").text for e in entries], ["Feed & <entry>"])
        self.assertIn("<strong>bold</strong>", entries[0].find(ATOM + "content").text)
        self.assertTrue(entries[0].find(ATOM + "id").text.startswith("http"))
        for tag in ("id", "title", "updated"):
            self.assertIsNotNone(root.find(ATOM + tag), tag)
        status, headers, text = self.get("/sitemap.xml")
        self.assertEqual(status, 200)
        locs = [e.text for e in ET.fromstring(text.encode()).iter(
            "{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
        self.assertEqual(len(locs), 3)
        self.assertTrue(any(l.endswith("/page-one") for l in locs))
        self.assertFalse(any("draft" in l for l in locs))

    def test_contact_form(self):
        status, _, html = self.get("/contact")
        self.assertEqual(status, 200)
        self.assertIn('name="website"', html)  # the honeypot
        status, headers, _ = self.form({"name": "Ada", "email": "ada@example.org",
                                        "message": "Hello there"})
        self.assertEqual(status, 303)
        self.assertEqual(headers["location"], "/contact?sent=1")
        self.assertIn("Thank you", self.get("/contact?sent=1")[2])
        # invalid: 422, the form again with the input kept (escaped) and errors by the fields
        status, _, body = self.form({"name": '<b>"Eve"</b>', "email": "not-an-email",
                                     "message": ""})
        html = body.decode()
        self.assertEqual(status, 422)
        self.assertIn("&lt;b&gt;&quot;Eve&quot;&lt;/b&gt;", html)
        self.assertIn('id="email-error"', html)
        self.assertIn('id="message-error"', html)
        # a name is one line: CR/LF would forge lines in a notification built from it
        status, _, body = self.form({"name": "Eve\r\nBcc: all@example.org",
                                     "email": "eve@example.org", "message": "hi"})
        self.assertEqual(status, 422)
        self.assertIn('id="name-error"', body.decode())
        # a bot fills the honeypot: it is thanked and nothing is stored
        status, _, _ = self.form({"name": "Bot", "email": "bot@example.org",
                                  "message": "spam", "website": "http://spam"})
        self.assertEqual(status, 303)
        rows = self.sql("SELECT name, email, body, ip FROM messages")
        self.assertEqual(rows, [("Ada", "ada@example.org", "Hello there", "127.0.0.1")])
        # the API lists it
        status, _, body = self.s.request("GET", "/api/v1/messages",
                                         headers={"Authorization": "Bearer " + self.token})
        self.assertEqual(json.loads(body)["items"][0]["name"], "Ada")
        # multipart is refused
        status, _, _ = self.s.request(
            "POST", "/contact", body=b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--",
            headers={"Content-Type": "multipart/form-data; boundary=x"})
        self.assertEqual(status, 415)

    def test_contact_rate_limit(self):
        codes = [self.form({"name": "A", "email": "a@example.org", "message": "m%d" % i})[0]
                 for i in range(7)]
        self.assertEqual(codes[:4], [303] * 4)  # one already spent by nobody: burst of 5
        self.assertIn(429, codes)
        status, headers, _ = self.form({"name": "A", "email": "a@example.org", "message": "x"})
        self.assertEqual(status, 429)
        self.assertGreater(int(headers["retry-after"]), 0)

    def test_client_address_behind_a_trusted_proxy_only(self):
        import os
        # a client-sent Fly-Client-IP (Caddy passes it through) and a forged first hop
        spoof = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "Fly-Client-IP": "192.0.2.66"}
        self.form({"name": "A", "email": "a@example.org", "message": "direct"}, headers=spoof)
        ips = {}
        for name, env in (("one_hop", {"ONEFILE_TRUST_PROXY": 1}),
                          ("two_hops", {"ONEFILE_TRUST_PROXY": 2}),
                          ("fly", {"ONEFILE_TRUST_PROXY": 1,
                                   "ONEFILE_CLIENT_IP_HEADER": "Fly-Client-IP"})):
            db = self.other_db(name)
            other = self.serve(env=harness.clean_env(**env), db=db)
            h = {"Content-Type": "application/x-www-form-urlencoded"}
            h.update(spoof)
            other.request("POST", "/contact", body=b"name=B&email=b%40example.org&message=p",
                          headers=h)
            self.stop_clean(other)
            ips[name] = self.sql("SELECT ip FROM messages", db=db)
        direct = self.sql("SELECT ip FROM messages")
        self.assertEqual(direct, [("127.0.0.1",)])  # a header is not trusted by default
        # one proxy: the entry it appended; Fly-Client-IP is not the header named: ignored
        self.assertEqual(ips["one_hop"], [("198.51.100.7",)])
        self.assertEqual(ips["two_hops"], [("203.0.113.9",)])
        self.assertEqual(ips["fly"], [("192.0.2.66",)])  # named: the one header trusted

    def test_static_files(self):
        status, headers, css = self.get("/static/style.css")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/css; charset=utf-8")
        self.assertIn("max-age", headers["cache-control"])
        status, _, _ = self.get("/static/style.css", headers={"If-None-Match": headers["etag"]})
        self.assertEqual(status, 304)
        self.assertEqual(self.get("/static/favicon.svg")[1]["content-type"], "image/svg+xml")
        for path in ("/static/../migrations/0001_init.sql", "/static/%2e%2e/x",
                     "/static/templates/post.html", "/static/nope.css", "/static/"):
            self.assertIn(self.get(path)[0], (404,), path)

    def test_security_headers_everywhere(self):
        for path in ("/", "/nope/x", "/static/style.css", "/api/v1/posts", "/contact"):
            _, headers, _ = self.get(path)
            csp = headers["content-security-policy"]
            self.assertIn("frame-ancestors 'none'", csp)
            self.assertNotIn("unsafe-inline", csp)
            self.assertEqual(headers["x-content-type-options"], "nosniff")
            self.assertIn("referrer-policy", headers)

    def test_page_views_recorded_without_waiting(self):
        post = self.post(title="Counted", status="published")
        for _ in range(5):
            self.assertEqual(self.get("/posts/counted")[0], 200)
        deadline, count = time.time() + 5, 0
        while time.time() < deadline:
            row = self.sql("SELECT sum(count) FROM post_views WHERE post_id = %d" % post["id"])
            count = row[0][0] or 0
            if count == 5:
                break
            time.sleep(0.05)
        self.assertEqual(count, 5)


if __name__ == "__main__":
    unittest.main()
