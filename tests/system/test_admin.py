"""The admin panel over real HTTP: no page or data without a session, login (wrong then
right, same answer for unknown accounts; failed logins throttled per address and per
account with 429 and Retry-After, never locking the owner out from a clean address, and
`onefile user unlock`), CSRF and Origin checks, cookie flags, logout and
password change ending sessions, content management with hostile titles, tokens shown
once, and a dashboard that agrees with `onefile check --json`."""
import html as html_module
import http.client
import json
import re
import subprocess
import unittest
import urllib.parse

import harness
from harness import clean_env, run

EMAIL, PASSWORD = "owner@example.org", "correct horse battery"
html_unescape = html_module.unescape


class Browser:
    """A cookie jar and same-origin headers over http.client."""

    def __init__(self, server):
        self.s = server
        self.cookies = {}

    def request(self, method, path, form=None, headers=None, origin=True):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
            if origin:
                h.setdefault("Origin", "http://127.0.0.1:%d" % self.s.port)
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        for k, v in resp.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";", 1)[0]
                if "Max-Age=0" in v:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        headers = {}
        for k, v in resp.getheaders():
            headers.setdefault(k.lower(), []).append(v)
        conn.close()
        return resp.status, {k: v[0] if len(v) == 1 else v for k, v in headers.items()}, data

    def csrf(self, path):
        status, _, html = self.request("GET", path)
        m = re.search(r'name="_csrf" value="([^"]+)"', html)
        assert m, "no CSRF field on %s (%d)" % (path, status)
        return m.group(1)

    def login(self, email=EMAIL, password=PASSWORD, headers=None):
        token = self.csrf("/admin/login")
        return self.request("POST", "/admin/login",
                            {"_csrf": token, "email": email, "password": password},
                            headers=headers)


class AdminTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.env = clean_env(ONEFILE_ADMIN_EMAIL=EMAIL, ONEFILE_ADMIN_PASSWORD=PASSWORD,
                             ONEFILE_LOGIN_WINDOW_S=3600, ONEFILE_TRUST_PROXY=1)
        self.s = self.serve(env=self.env)
        self.b = Browser(self.s)

    def tearDown(self):
        self.stop_clean(self.s)
        super().tearDown()

    def test_nothing_without_a_session(self):
        for path in ("/admin", "/admin/", "/admin/posts", "/admin/posts/new", "/admin/posts/1/edit",
                     "/admin/messages", "/admin/messages/1", "/admin/users", "/admin/jobs",
                     "/admin/backups", "/admin/anything/else"):
            status, headers, body = self.b.request("GET", path)
            self.assertEqual(status, 303, path)
            self.assertEqual(headers["location"], "/admin/login", path)
            self.assertNotIn(EMAIL, body)
        for path in ("/admin/posts", "/admin/preview", "/admin/tokens", "/admin/users",
                     "/admin/posts/1/delete", "/admin/logout"):
            status, _, body = self.b.request("POST", path, {"title": "x"})
            self.assertIn(status, (303, 403), path)
            self.assertNotIn("<form", body)

    def test_login_wrong_then_right_and_cookie_flags(self):
        status, _, html = self.b.login(password="wrong password!")
        self.assertEqual(status, 401)
        self.assertIn("Wrong email or password.", html)
        status, _, html2 = self.b.login(email="nobody@example.org", password="wrong password!")
        self.assertEqual(status, 401)  # the same answer for an unknown account
        self.assertIn("Wrong email or password.", html2)
        status, headers, _ = self.b.login()
        self.assertEqual((status, headers["location"]), (303, "/admin"))
        cookies = headers["set-cookie"]
        cookies = cookies if isinstance(cookies, list) else [cookies]
        session = [c for c in cookies if c.startswith("onefile_session=")][0]
        for flag in ("HttpOnly", "SameSite=Lax", "Path=/"):
            self.assertIn(flag, session)
        self.assertNotIn("Secure", session)  # http base URL
        status, headers, html = self.b.request("GET", "/admin")
        self.assertEqual(status, 200)
        self.assertEqual(headers["cache-control"], "no-store")
        self.assertIn(EMAIL, html)

    def test_login_throttle_counts_failures_and_never_locks_the_owner_out(self):
        # the window (an hour) never ends inside the test: nothing here depends on timing
        def login(address, email=EMAIL, password=PASSWORD):
            return Browser(self.s).login(email, password, {"X-Forwarded-For": address})

        # right passwords never count, however many
        for _ in range(8):
            self.assertEqual(login("203.0.113.1")[0], 303)
        # one address guessing the owner's password: refused after 5 failures, even the
        # right password, with a Retry-After inside the window
        codes = [login("203.0.113.1", password="wrong %d" % i)[0] for i in range(5)]
        self.assertEqual(codes, [401] * 5)
        status, headers, html = login("203.0.113.1")
        self.assertEqual(status, 429)
        self.assertIn("Too many failed attempts", html)
        self.assertTrue(3500 < int(headers["retry-after"]) <= 3600, headers["retry-after"])
        # the owner, from an address that never failed, is let in
        self.assertEqual(login("198.51.100.7")[0], 303)
        # one address guessing many accounts: refused after 10, on the owner's account too
        for i in range(10):
            self.assertEqual(login("203.0.113.2", "nobody%d@example.org" % i)[0], 401)
        self.assertEqual(login("203.0.113.2")[0], 429)
        # many addresses guessing the owner's password (5 + 15 = 20 failures): every address
        # that failed on it is refused; a clean address still gets in
        for a in ("203.0.113.3", "203.0.113.4", "203.0.113.5"):
            for i in range(5):
                self.assertEqual(login(a, password="guess %d" % i)[0], 401)
        self.assertEqual(login("203.0.113.6", password="one guess")[0], 401)
        self.assertEqual(login("203.0.113.6")[0], 429)
        self.assertEqual(login("198.51.100.8")[0], 303)
        # `user unlock` forgets the account's failures at once, on the running server
        r = run(["user", "unlock", "someone@example.org", "--db", self.db], env=self.env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no user with this email", r.stderr)
        r = run(["user", "unlock", EMAIL.upper(), "--db", self.db], env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)  # emails compare without case
        self.assertIn("failed logins from 5 addresses forgotten", r.stderr)
        for a in ("203.0.113.1", "203.0.113.6"):
            self.assertEqual(login(a)[0], 303)
        # the address guessing other accounts stays refused: unlock is about the account
        self.assertEqual(login("203.0.113.2")[0], 429)
        self.assertEqual(run(["user", "unlock", "--db", self.db], env=self.env).returncode, 2)
        self.assertEqual(run(["user", "unlock", "not-an-email", "--db", self.db],
                             env=self.env).returncode, 2)

    def test_csrf_and_origin_checks(self):
        self.b.login()
        # no token, a wrong token, a foreign origin, a cross-site fetch: all refused
        self.assertEqual(self.b.request("POST", "/admin/posts", {"title": "x"})[0], 403)
        self.assertEqual(self.b.request("POST", "/admin/posts", {"title": "x", "_csrf": "bad"})[0], 403)
        token = self.b.csrf("/admin/posts/new")
        status, _, _ = self.b.request("POST", "/admin/posts", {"title": "x", "_csrf": token},
                                      headers={"Origin": "https://evil.example"})
        self.assertEqual(status, 403)
        status, _, _ = self.b.request("POST", "/admin/posts", {"title": "x", "_csrf": token},
                                      headers={"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(status, 403)
        # the login form too: without its cookie-bound token it is refused
        status, _, _ = Browser(self.s).request("POST", "/admin/login",
                                               {"email": EMAIL, "password": PASSWORD})
        self.assertEqual(status, 403)
        status, _, _ = self.b.request("POST", "/admin/posts", {"title": "Fine", "_csrf": token})
        self.assertEqual(status, 303)

    def test_posts_with_hostile_titles(self):
        self.b.login()
        token = self.b.csrf("/admin/posts/new")
        hostile = "<script>alert(1)</script>"
        status, headers, _ = self.b.request("POST", "/admin/posts", {
            "_csrf": token, "title": hostile, "slug": "hostile", "kind": "post",
            "status": "published", "body_md": "Hello **world**"})
        self.assertEqual(status, 303)
        edit = headers["location"]
        for path in ("/admin/posts", edit.split("?")[0], "/posts/hostile"):
            status, _, html = self.b.request("GET", path)
            self.assertEqual(status, 200, path)
            self.assertNotIn(hostile, html, path)
            self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html, path)
        self.assertIn("<strong>world</strong>", self.b.request("GET", "/posts/hostile")[2])
        # a slug conflict keeps the input and says so by the field
        status, _, html = self.b.request("POST", "/admin/posts", {
            "_csrf": token, "title": "Another", "slug": "hostile", "body_md": "kept text"})
        self.assertEqual(status, 409)
        self.assertIn('id="slug-error"', html)
        self.assertIn("kept text", html)
        # the live preview renders with the site's renderer
        status, _, frag = self.b.request("POST", "/admin/preview",
                                         {"_csrf": token, "body_md": "# Title\n[x](javascript:alert(1))"})
        self.assertEqual(status, 200)
        self.assertIn("<h1>Title</h1>", frag)
        self.assertNotIn("javascript:", frag)
        # delete with confirmation
        pid = re.search(r"/admin/posts/(\d+)/edit", edit).group(1)
        self.assertIn("cannot be undone", self.b.request("GET", "/admin/posts/%s/delete" % pid)[2])
        status, _, _ = self.b.request("POST", "/admin/posts/%s/delete" % pid,
                                      {"_csrf": token, "confirm": "1"})
        self.assertEqual(status, 303)
        self.assertEqual(self.b.request("GET", "/posts/hostile")[0], 404)

    def test_posts_search_keeps_its_term_on_the_next_page(self):
        """Issue 14: the posts list's "Older" link dropped the search term, so page two
        listed every older post instead of the older matches."""
        self.b.login()
        token = self.b.csrf("/admin/posts/new")
        titles = ["other %d" % i for i in range(3)] + ["needle & thread %d" % i for i in range(52)]
        for i, title in enumerate(titles):
            status, _, _ = self.b.request("POST", "/admin/posts", {
                "_csrf": token, "title": title, "slug": "p%d" % i, "body_md": ""})
            self.assertEqual(status, 303, title)
        status, _, html = self.b.request(
            "GET", "/admin/posts?" + urllib.parse.urlencode({"q": "needle & thread"}))
        self.assertEqual(status, 200)
        rows = lambda page: len(re.findall(r"needle &amp; thread \d+", page))
        self.assertEqual(rows(html), 50)
        link = re.search(r'<a href="([^"]+)">Older', html)
        self.assertIsNotNone(link, "no next-page link")
        url = html_unescape(link.group(1))
        self.assertEqual(urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["q"],
                         ["needle & thread"])
        status, _, html = self.b.request("GET", url)
        self.assertEqual(status, 200)
        self.assertEqual(rows(html), 2)
        self.assertNotIn("other ", html)
        self.assertNotIn("Older", html)

    def test_logout_and_password_change_end_sessions(self):
        self.b.login()
        stolen = dict(self.b.cookies)
        token = self.b.csrf("/admin")
        self.assertEqual(self.b.request("POST", "/admin/logout", {"_csrf": token})[0], 303)
        thief = Browser(self.s)
        thief.cookies = stolen
        self.assertEqual(thief.request("GET", "/admin")[0], 303)  # the old cookie is dead
        other = Browser(self.s)
        other.login()
        self.assertEqual(other.request("GET", "/admin")[0], 200)
        r = run(["user", "passwd", EMAIL, "--db", self.db], env=self.env,
                input="a brand new password\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(other.request("GET", "/admin")[0], 303)
        self.assertEqual(Browser(self.s).login(password="a brand new password")[0], 303)

    def test_tokens_shown_once_and_revoked(self):
        self.b.login()
        token = self.b.csrf("/admin/users")
        status, headers, html = self.b.request("POST", "/admin/tokens", {"_csrf": token, "name": "ci"})
        self.assertEqual(status, 201)
        self.assertEqual(headers["cache-control"], "no-store")
        api_token = re.search(r'<code id="new-token">(of_[^<]+)</code>', html).group(1)
        status, _, _ = self.s.request("GET", "/api/v1/messages",
                                      headers={"Authorization": "Bearer " + api_token})
        self.assertEqual(status, 200)
        page = self.b.request("GET", "/admin/users")[2]
        self.assertNotIn(api_token, page)
        tid = re.search(r'action="/admin/tokens/(\d+)/revoke"', page).group(1)
        self.assertEqual(self.b.request("POST", "/admin/tokens/%s/revoke" % tid,
                                        {"_csrf": token, "confirm": "1"})[0], 303)
        status, _, _ = self.s.request("GET", "/api/v1/messages",
                                      headers={"Authorization": "Bearer " + api_token})
        self.assertEqual(status, 401)

    def test_messages(self):
        self.s.request("POST", "/contact", body=b"name=Ada&email=ada%40example.org&message=%3Cb%3Ehi%3C%2Fb%3E",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.b.login()
        html = self.b.request("GET", "/admin/messages")[2]
        self.assertIn("Ada", html)
        mid = re.search(r'href="/admin/messages/(\d+)"', html).group(1)
        status, _, page = self.b.request("GET", "/admin/messages/" + mid)
        self.assertEqual(status, 200)
        self.assertIn("&lt;b&gt;hi&lt;/b&gt;", page)
        token = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
        self.assertEqual(self.b.request("POST", "/admin/messages/%s/delete" % mid,
                                        {"_csrf": token, "confirm": "1"})[0], 303)
        self.assertNotIn("Ada", self.b.request("GET", "/admin/messages")[2])

    def test_jobs_page(self):
        self.b.login()
        status, _, html = self.b.request("GET", "/admin/jobs")
        self.assertEqual(status, 200)
        for job in ("checkpoint", "quick-check", "backup", "restore-drill"):
            self.assertIn("<td>%s</td>" % job, html)
        self.assertIn("The queue is empty.", html)

    @harness.sqlite_only("backups copy the SQLite file (PostgreSQL's: docs/postgres.md)")
    def test_jobs_and_backups_pages(self):
        import os
        self.b.login()
        status, _, html = self.b.request("GET", "/admin/jobs")
        self.assertEqual(status, 200)
        for job in ("checkpoint", "quick-check", "backup", "restore-drill"):
            self.assertIn("<td>%s</td>" % job, html)
        self.assertIn("The queue is empty.", html)
        status, _, html = self.b.request("GET", "/admin/backups")
        self.assertEqual(status, 200)
        self.assertIn("Backups are off", html)
        # with a destination: back up now, and the backup is listed
        self.stop_clean(self.s)
        dest = os.path.join(self.dir, "backups")
        os.makedirs(dest)
        env = dict(self.env, ONEFILE_BACKUP_URL="file://" + dest)
        self.s = self.serve(env=env)
        self.b = Browser(self.s)
        self.b.login()
        token = self.b.csrf("/admin/backups")
        status, _, html = self.b.request("POST", "/admin/backups/run", {"_csrf": token})
        self.assertEqual(status, 200, html[-2000:])
        self.assertIn("stored", html)
        self.assertRegex(html, r"<td>ok</td><td><a [^>]*>onefile-\d{8}T\d{6}Z\.sqlite")
        self.assertTrue(any(n.startswith("onefile-") for n in os.listdir(dest)))
        # and it can be downloaded, byte for byte what is stored
        link = re.search(r'href="(/admin/backups/download/(onefile-[^"]+))"', html)
        self.assertIsNotNone(link, html[-3000:])
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        conn.request("GET", link.group(1), headers={
            "Cookie": "; ".join("%s=%s" % kv for kv in self.b.cookies.items())})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        self.assertEqual(resp.status, 200)
        self.assertIn("attachment", resp.getheader("Content-Disposition"))
        with open(os.path.join(dest, link.group(2)), "rb") as f:
            self.assertEqual(data, f.read())
        self.assertEqual(Browser(self.s).request("GET", link.group(1))[0], 303)  # not anonymous
        self.assertEqual(self.b.request("GET", "/admin/backups/download/..%2Fetc%2Fpasswd")[0], 404)

    @harness.sqlite_only("`onefile check` reads the SQLite file")
    def test_dashboard_agrees_with_check(self):
        self.b.login()
        html = self.b.request("GET", "/admin")[2]
        facts = dict(re.findall(r'data-fact="(\w+)">([^<]+)<', html))
        r = run(["check", "--db", self.db, "--json"])
        report = json.loads(r.stdout)
        self.assertEqual(facts["journal_mode"], report["journal_mode"])
        for key in ("page_size", "page_count", "freelist_count"):
            self.assertEqual(int(facts[key]), report[key], key)
        self.assertEqual(int(facts["file_bytes"].split()[0]), report["file_bytes"])
        self.assertIn("<svg", html)


if __name__ == "__main__":
    unittest.main()
