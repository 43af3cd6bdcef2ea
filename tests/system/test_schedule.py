"""Scheduled publishing over real HTTP: a published post or page whose published_at is
still to come is absent from every public surface (home, its page, the navigation, the
Atom feed, the sitemap, the API without a token) and appears on all of them when the time
comes, with nothing but time passing; the response cache is kept for an hour here, so it is
the cache noticing the due time that makes the stale listings go, not their age. The API
with a token and the admin list see it beforehand, the admin as "scheduled for ..."."""
import json
import time
import unittest
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import harness
from harness import clean_env, run
from test_admin import EMAIL, PASSWORD, Browser

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class ScheduleTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        self.token = run(["token", "create", "sched", "--db", self.db]).stdout.strip()
        self.s = self.serve(env=clean_env(ONEFILE_CACHE_MAX_AGE_MS=3600000,
                                          ONEFILE_ADMIN_EMAIL=EMAIL,
                                          ONEFILE_ADMIN_PASSWORD=PASSWORD))

    def tearDown(self):
        self.stop_clean(self.s)
        super().tearDown()

    def api(self, method, path, fields=None, token=True):
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + self.token
        status, _, body = self.s.request(method, path, headers=h,
                                         body=json.dumps(fields).encode() if fields else None)
        return status, json.loads(body) if body else None

    def surfaces(self, post_id):
        """What the public sees of the scheduled post and page, surface by surface."""
        seen = {}
        status, _, home = self.s.request("GET", "/")
        seen["home"] = b"Due soon" in home
        seen["nav"] = b'href="/later-page"' in home
        seen["post page"] = self.s.request("GET", "/posts/due-soon")[0] == 200
        seen["page"] = self.s.request("GET", "/later-page")[0] == 200
        feed = ET.fromstring(self.s.request("GET", "/feed.xml")[2])
        seen["feed"] = any(e.findtext(ATOM + "title") == "Due soon"
                           for e in feed.iter(ATOM + "entry"))
        sitemap = ET.fromstring(self.s.request("GET", "/sitemap.xml")[2])
        locs = [u.findtext(SITEMAP + "loc") for u in sitemap.iter(SITEMAP + "url")]
        seen["sitemap"] = any(l.endswith("/posts/due-soon") for l in locs)
        status, body = self.api("GET", "/api/v1/posts", token=False)
        seen["api list"] = any(p["slug"] == "due-soon" for p in body["items"])
        seen["api get"] = self.api("GET", "/api/v1/posts/%d" % post_id, token=False)[0] == 200
        return seen

    def test_a_post_due_in_two_seconds_appears_everywhere_by_itself(self):
        self.api("POST", "/api/v1/posts", {"title": "Already out", "status": "published"})
        due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=3)
        status, post = self.api("POST", "/api/v1/posts", {
            "title": "Due soon", "status": "published", "published_at": iso(due)})
        self.assertEqual(status, 201, post)
        status, page = self.api("POST", "/api/v1/posts", {
            "title": "Later page", "kind": "page", "status": "published",
            "published_at": iso(due)})
        self.assertEqual(status, 201, page)
        # twice: the second answer of each cached surface comes from the cache
        for _ in range(2):
            before = self.surfaces(post["id"])
            self.assertEqual([k for k, v in before.items() if v], [], before)
        self.assertEqual(self.s.request("GET", "/")[1].get("x-cache"), "hit")
        # a token sees it; the admin list says when it will be out
        self.assertEqual(self.api("GET", "/api/v1/posts/%d" % post["id"])[0], 200)
        b = Browser(self.s)
        self.assertEqual(b.login()[0], 303)
        status, _, html = b.request("GET", "/admin/posts")
        self.assertEqual(status, 200)
        self.assertIn("scheduled for", html)
        self.assertIn(iso(due), html)
        # nothing but time passes
        time.sleep(max(0.0, (due - datetime.now(timezone.utc)).total_seconds()) + 0.2)
        after = self.surfaces(post["id"])
        self.assertEqual([k for k, v in after.items() if not v], [], after)
        status, _, html = b.request("GET", "/admin/posts")
        self.assertNotIn("scheduled for", html)

    def test_the_admin_editor_schedules_and_refuses_a_bad_time(self):
        b = Browser(self.s)
        self.assertEqual(b.login()[0], 303)
        later = iso(datetime.now(timezone.utc) + timedelta(days=2))
        csrf = b.csrf("/admin/posts/new")
        status, _, html = b.request("POST", "/admin/posts", {
            "_csrf": csrf, "title": "Next week", "slug": "", "kind": "post",
            "status": "published", "published_at": "tomorrow", "body_md": "x"})
        self.assertEqual(status, 422)
        self.assertIn('id="published_at-error"', html)
        status, headers, _ = b.request("POST", "/admin/posts", {
            "_csrf": csrf, "title": "Next week", "slug": "", "kind": "post",
            "status": "published", "published_at": later, "body_md": "x"})
        self.assertEqual(status, 303)
        self.assertEqual(self.s.request("GET", "/posts/next-week")[0], 404)
        status, body = self.api("GET", "/api/v1/posts?status=published")
        self.assertEqual([p["published_at"] for p in body["items"]], [later])
        # an empty time publishes now
        pid = body["items"][0]["id"]
        csrf = b.csrf("/admin/posts/%d/edit" % pid)
        status, _, _ = b.request("POST", "/admin/posts/%d" % pid, {
            "_csrf": csrf, "title": "Next week", "slug": "next-week", "kind": "post",
            "status": "published", "published_at": "", "body_md": "x"})
        self.assertEqual(status, 303)
        self.assertEqual(self.s.request("GET", "/posts/next-week")[0], 200)


if __name__ == "__main__":
    unittest.main()
