"""The admin says what it did and asks before it destroys: every write redirects with
?done=CODE and the next page shows that code's fixed text (never the query's own text);
deleting a post, a message, a file or revoking a token goes through a confirmation page
first (a POST without confirm=1 changes nothing); a refused post keeps what was typed and
puts the error by its field; the editor and the list link to the post on the site."""
import re
import unittest

import harness
from harness import clean_env
from test_admin import EMAIL, PASSWORD, Browser


def notice(html):
    m = re.search(r'<p class="notice" role="status">([^<]*)</p>', html)
    return m.group(1) if m else None


class AdminFeedbackTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.env = clean_env(ONEFILE_ADMIN_EMAIL=EMAIL, ONEFILE_ADMIN_PASSWORD=PASSWORD)
        self.s = self.serve(env=self.env)
        self.b = Browser(self.s)
        self.assertEqual(self.b.login()[0], 303)
        self.token = self.b.csrf("/admin/posts/new")

    def tearDown(self):
        self.stop_clean(self.s)
        super().tearDown()

    def post(self, path, **form):
        form["_csrf"] = self.token
        return self.b.request("POST", path, form)

    def follow(self, headers):
        return self.b.request("GET", headers["location"])

    def create(self, title, slug, **extra):
        fields = dict(title=title, slug=slug, kind="post", status="published", body_md="Hi")
        fields.update(extra)
        status, headers, _ = self.post("/admin/posts", **fields)
        self.assertEqual(status, 303)
        return headers

    def test_writes_say_what_they_did(self):
        headers = self.create("First", "first")
        self.assertRegex(headers["location"], r"^/admin/posts/\d+/edit\?done=post-created$")
        status, _, html = self.follow(headers)
        self.assertEqual(status, 200)
        self.assertEqual(notice(html), "Created.")
        edit = headers["location"].split("?")[0]
        pid = edit.split("/")[3]
        status, headers, _ = self.post("/admin/posts/" + pid, title="First, again", slug="first",
                                       kind="post", status="published", body_md="Hi")
        self.assertEqual(headers["location"], edit + "?done=post-saved")
        self.assertEqual(notice(self.follow(headers)[2]), "Saved.")
        # the plain page says nothing; a code from the table shows only its own text;
        # anything else (a made-up code, markup, a sentence) shows nothing at all
        self.assertIsNone(notice(self.b.request("GET", edit)[2]))
        self.assertEqual(notice(self.b.request("GET", "/admin/posts?done=user-added")[2]),
                         "User added.")
        for bad in ("%3Cscript%3Ealert(1)%3C%2Fscript%3E", "You+were+hacked", "saved", ""):
            html = self.b.request("GET", "/admin/posts?done=" + bad)[2]
            self.assertIsNone(notice(html), bad)
            self.assertNotIn("<script>alert", html)
            self.assertNotIn("You were hacked", html)
        # users
        status, headers, _ = self.post("/admin/users", email="second@example.org",
                                       password="another long password")
        self.assertEqual(headers["location"], "/admin/users?done=user-added")
        self.assertEqual(notice(self.follow(headers)[2]), "User added.")

    def test_a_refused_post_keeps_the_input_and_marks_the_field(self):
        self.create("Taken", "taken")
        body = "A long **draft** I do not want to lose"
        status, _, html = self.post("/admin/posts", title="Mine", slug="taken", kind="post",
                                    status="draft", body_md=body)
        self.assertEqual(status, 409)
        self.assertIn('id="slug" name="slug" value="taken" aria-invalid="true" '
                      'aria-describedby="slug-error"', html)
        self.assertIn('<span class="field-error" id="slug-error">Another post has this slug.',
                      html)
        self.assertIn('value="Mine"', html)
        self.assertIn("A long **draft** I do not want to lose</textarea>", html)
        self.assertIsNone(notice(html))
        status, _, html = self.post("/admin/posts", title="Dated", slug="dated", kind="post",
                                    status="published", body_md="x", published_at="yesterday")
        self.assertEqual(status, 422)
        self.assertIn('id="published_at-error"', html)
        self.assertIn('value="yesterday"', html)

    def test_deleting_a_post_asks_first(self):
        edit = self.create("Doomed", "doomed")["location"].split("?")[0]
        pid = edit.split("/")[3]
        # a POST that did not come from the confirmation page deletes nothing
        status, headers, _ = self.post("/admin/posts/%s/delete" % pid)
        self.assertEqual(status, 303)
        self.assertEqual(headers["location"], "/admin/posts/%s/delete" % pid)
        self.assertEqual(self.b.request("GET", edit)[0], 200)
        status, _, page = self.follow(headers)
        self.assertIn("cannot be undone", page)
        self.assertIn('name="confirm" value="1"', page)
        status, headers, _ = self.post("/admin/posts/%s/delete" % pid, confirm="1")
        self.assertEqual(headers["location"], "/admin/posts?done=post-deleted")
        self.assertEqual(notice(self.follow(headers)[2]), "Deleted.")
        self.assertEqual(self.b.request("GET", edit)[0], 404)

    def test_deleting_a_message_and_revoking_a_token_ask_first(self):
        self.s.request("POST", "/contact", body=b"name=Ada&email=ada%40example.org&message=hello",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        mid = re.search(r'href="/admin/messages/(\d+)"',
                        self.b.request("GET", "/admin/messages")[2]).group(1)
        status, _, page = self.post("/admin/messages/%s/delete" % mid)
        self.assertEqual(status, 200)
        self.assertIn("<h1>Delete this message?</h1>", page)
        self.assertIn('action="/admin/messages/%s/delete"' % mid, page)
        self.assertIn('name="confirm" value="1"', page)
        self.assertIn("Ada", self.b.request("GET", "/admin/messages")[2])  # still there
        status, headers, _ = self.post("/admin/messages/%s/delete" % mid, confirm="1")
        self.assertEqual(headers["location"], "/admin/messages?done=message-deleted")
        html = self.follow(headers)[2]
        self.assertEqual(notice(html), "Message deleted.")
        self.assertNotIn("Ada", html)

        status, _, html = self.post("/admin/tokens", name="ci")
        self.assertEqual(status, 201)
        api_token = re.search(r'<code id="new-token">(of_[^<]+)</code>', html).group(1)
        tid = re.search(r'action="/admin/tokens/(\d+)/revoke"', html).group(1)
        auth = {"Authorization": "Bearer " + api_token}
        status, _, page = self.post("/admin/tokens/%s/revoke" % tid)
        self.assertEqual(status, 200)
        self.assertIn("<h1>Revoke this token?</h1>", page)
        self.assertEqual(self.s.request("GET", "/api/v1/messages", headers=auth)[0], 200)
        status, headers, _ = self.post("/admin/tokens/%s/revoke" % tid, confirm="1")
        self.assertEqual(headers["location"], "/admin/users?done=token-revoked")
        self.assertEqual(notice(self.follow(headers)[2]), "Token revoked: it no longer works.")
        self.assertEqual(self.s.request("GET", "/api/v1/messages", headers=auth)[0], 401)

    def test_editor_and_list_link_to_the_post_on_the_site(self):
        post = self.create("Live", "live")["location"].split("?")[0]
        page = self.create("About", "about", kind="page")["location"].split("?")[0]
        draft = self.create("Later", "later", status="draft")["location"].split("?")[0]
        self.assertIn('<a href="/posts/live">View on the site: /posts/live</a>',
                      self.b.request("GET", post)[2])
        self.assertIn('<a href="/about">View on the site: /about</a>',
                      self.b.request("GET", page)[2])
        self.assertNotIn("View on the site", self.b.request("GET", draft)[2])
        html = self.b.request("GET", "/admin/posts")[2]
        self.assertIn('<small><a href="/posts/live">/posts/live</a></small>', html)
        self.assertIn('<small><a href="/about">/about</a></small>', html)
        self.assertIn("<small>/posts/later</small>", html)  # a draft: no link to a 404
        self.assertEqual(self.s.request("GET", "/posts/live")[0], 200)
        self.assertEqual(self.s.request("GET", "/about")[0], 200)


if __name__ == "__main__":
    unittest.main()
