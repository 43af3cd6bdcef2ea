"""`onefile export --markdown` and `onefile import` (a Markdown folder) with the real
binary: a site made through the API (posts, a page, a draft, a body linking uploaded
media) exported, imported into an empty database and exported again gives identical files
and identical rows (ids aside) and the same media hashes; a second import changes nothing;
odd front matter (unquoted dates, yes/no, a colon in a quoted title, tags, an unknown key)
is read; malformed YAML, a missing title or a bad date name the file and line and import
nothing; symbolic links are not followed."""
import filecmp
import json
import os
import sqlite3
import unittest

import harness
from harness import run
from test_media import png


def tree(d):
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, d)] = fh.read()
    return out


def rows(db, sql):
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchall()


POSTS = "SELECT slug, title, body_md, kind, status, published_at, created_at, updated_at " \
        "FROM posts ORDER BY slug"
MEDIA = "SELECT sha256, filename, mime, bytes, width, height FROM media ORDER BY sha256"


class PortTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)

    def fresh(self, name):
        db = os.path.join(self.dir, name)
        self.assertEqual(run(["migrate", "--db", db]).returncode, 0)
        return db

    def test_round_trip(self):
        token = run(["token", "create", "t", "--db", self.db]).stdout.strip()
        s = self.serve()
        h = {"Authorization": "Bearer " + token}
        st, _, out = s.request("POST", "/api/v1/media?filename=pic.png", body=png(30, 20),
                               headers=dict(h, **{"Content-Type": "image/png"}))
        self.assertEqual(st, 201, out)
        pic = json.loads(out)
        st, _, out = s.request("POST", "/api/v1/media?filename=doc.pdf",
                               body=b"%PDF-1.4\n" + b"z" * 1000 + b"\n%%EOF\n",
                               headers=dict(h, **{"Content-Type": "application/pdf"}))
        self.assertEqual(st, 201, out)
        pdf = json.loads(out)
        path = pic["url"][pic["url"].index("/media/"):]
        for body in ({"title": "Yes: a title with a colon", "status": "published",
                      "body_md": "![pic](%s)\n\nSee [the PDF](/media/%s/doc.pdf).\n" %
                      (path, pdf["sha256"])},
                     {"title": "About", "kind": "page", "status": "published",
                      "body_md": "---\nnot front matter, a rule\n"},
                     {"title": "Unfinished", "body_md": "draft *text*"}):
            st, _, out = s.request("POST", "/api/v1/posts", body=json.dumps(body).encode(),
                                   headers=dict(h, **{"Content-Type": "application/json"}))
            self.assertEqual(st, 201, out)
        self.stop_clean(s)
        out1 = os.path.join(self.dir, "out1")
        r = run(["export", "--markdown", out1, "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 post(s), 1 page(s), 2 media file(s)", r.stdout)
        files = tree(out1)
        self.assertIn("posts/yes-a-title-with-a-colon.md", files)
        self.assertIn("pages/about.md", files)
        self.assertIn("media/%s/pic.png" % pic["sha256"], files)
        self.assertTrue(files["posts/unfinished.md"].startswith(b"---\n"))
        self.assertIn(b"draft: true", files["posts/unfinished.md"])
        # an export never overwrites
        r = run(["export", "--markdown", out1, "--db", self.db])
        self.assertEqual(r.returncode, 1)
        db2 = self.fresh("second.db")
        r = run(["import", out1, "--db", db2])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("3 created, 0 updated, 0 unchanged; media: 2 stored", r.stdout)
        self.assertEqual(rows(db2, POSTS), rows(self.db, POSTS))
        self.assertEqual(rows(db2, MEDIA), rows(self.db, MEDIA))
        out2 = os.path.join(self.dir, "out2")
        self.assertEqual(run(["export", "--markdown", out2, "--db", db2]).returncode, 0)
        self.assertEqual(tree(out2), files)
        r = run(["import", out1, "--db", db2])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("0 created, 0 updated, 3 unchanged; media: 0 stored, 2 already there",
                      r.stdout)
        self.assertEqual(rows(db2, "SELECT count(*) FROM posts"), [(3,)])

    def write(self, d, name, text):
        p = os.path.join(d, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)

    def test_odd_front_matter(self):
        d = os.path.join(self.dir, "md")
        self.write(d, "hello.md", "---\ntitle: 'Hello: world'\ndate: 2024-05-01\ndraft: no\n"
                   "tags: [a, b]\nmood: sunny\n---\nBody *one*\n")
        self.write(d, "pages/colophon.md", "---\ntitle: Colophon\nslug: made-with\n"
                   "updated: 2024-06-01 10:11:12\n---\n")
        self.write(d, "posts/later.md", "---\ntitle: Later\ndraft: yes\n---\nsoon")
        r = run(["import", "--dry-run", d, "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("would import 2 post(s), 1 page(s)", r.stdout)
        self.assertEqual(rows(self.db, "SELECT count(*) FROM posts"), [(0,)])
        r = run(["import", d, "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("'tags' is not imported", r.stderr)
        self.assertIn("'mood' is not a key onefile knows", r.stderr)
        got = {x[0]: x for x in rows(self.db, POSTS)}
        self.assertEqual(got["hello-world"][1:6], ("Hello: world", "Body *one*\n", "post",
                                                   "published", "2024-05-01T00:00:00Z"))
        self.assertEqual(got["made-with"][3], "page")
        self.assertEqual(got["made-with"][7], "2024-06-01T10:11:12Z")
        self.assertEqual(got["later"][4], "draft")

    def test_problems_named_and_nothing_imported(self):
        for name, text, want in (
                ("bad.md", "---\ntitle: ok\nslug: [unclosed\n---\n",
                 "bad.md:4: did not find expected ',' or ']' (while parsing a flow sequence, "
                 "from line 3)"),
                ("notitle.md", "---\nslug: x\n---\n", "notitle.md:2: title is missing"),
                ("date.md", "---\ntitle: t\ndate: last tuesday\n---\n", "date.md:3: date"),
                ("nofence.md", "title: t\n", "nofence.md:1:")):
            d = os.path.join(self.dir, "p-" + name)
            self.write(d, "good.md", "---\ntitle: Good\n---\nfine\n")
            self.write(d, name, text)
            r = run(["import", d, "--db", self.db])
            self.assertEqual(r.returncode, 1, (name, r.stdout))
            self.assertIn(want, r.stderr)
            self.assertIn("nothing imported", r.stderr)
            self.assertEqual(rows(self.db, "SELECT count(*) FROM posts"), [(0,)])
        # two files, one slug
        d = os.path.join(self.dir, "dup")
        self.write(d, "a.md", "---\ntitle: Same\n---\n")
        self.write(d, "posts/b.md", "---\ntitle: Other\nslug: same\n---\n")
        r = run(["import", d, "--db", self.db])
        self.assertEqual(r.returncode, 1)
        self.assertIn("slug 'same' is also", r.stderr)
        # a symbolic link to a file outside the folder is not read
        outside = os.path.join(self.dir, "secret.md")
        self.write(self.dir, "secret.md", "---\ntitle: Secret\n---\n")
        d = os.path.join(self.dir, "links")
        os.makedirs(d)
        os.symlink(outside, os.path.join(d, "link.md"))
        r = run(["import", d, "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(rows(self.db, "SELECT count(*) FROM posts"), [(0,)])


if __name__ == "__main__":
    unittest.main()
