"""Media over real HTTP against the real binary: uploads through the API (multipart and raw
bodies), what is stored and served (sniffed type, EXIF orientation applied, GPS metadata
gone, read from the served bytes), deduplication, the refusals (forged type, oversized,
decompression bomb, truncated image, SVG with script, HTML, a path in the name, no token),
stable URLs with ETag / immutable caching / single ranges / 416 / 304, list, delete (409
while a post uses the file) and the rows left in the database. Images are made here: PNG
with an eXIf chunk, written with zlib."""
import json
import os
import sqlite3
import struct
import time
import unittest
import zlib

import harness
from harness import run


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xffffffff)


def exif(orientation=6):
    """A little-endian TIFF block: IFD0 with Orientation and a GPS IFD (latitude 'N', 48)."""
    # IFD0 at 8: 2 entries; GPS IFD right after
    ifd0_off = 8
    gps_off = ifd0_off + 2 + 2 * 12 + 4
    ifd0 = struct.pack("<H", 2)
    ifd0 += struct.pack("<HHII", 0x0112, 3, 1, orientation)
    ifd0 += struct.pack("<HHII", 0x8825, 4, 1, gps_off)
    ifd0 += struct.pack("<I", 0)
    rational_off = gps_off + 2 + 2 * 12 + 4
    gps = struct.pack("<H", 2)
    gps += struct.pack("<HHI4s", 0x0001, 2, 2, b"N\0\0\0")
    gps += struct.pack("<HHII", 0x0002, 5, 3, rational_off)
    gps += struct.pack("<I", 0)
    rationals = struct.pack("<6I", 48, 1, 51, 1, 29, 1)
    return b"II*\0" + struct.pack("<I", ifd0_off) + ifd0 + gps + rationals


def png(width, height, with_exif=False, rows=None):
    raw = b"".join(b"\0" + b"".join(bytes(((x * 7 + y * 13) & 0xff, (x * 3) & 0xff,
                                             (y * 5) & 0xff)) for x in range(width))
                   for y in range(height)) if rows is None else rows
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                  0, 0, 0))
    if with_exif:
        out += png_chunk(b"eXIf", exif())
    out += png_chunk(b"IDAT", zlib.compress(raw, 9))
    return out + png_chunk(b"IEND", b"")


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    return struct.unpack(">II", data[16:24])


def png_chunks(data):
    kinds, i = [], 8
    while i < len(data):
        n = struct.unpack(">I", data[i:i + 4])[0]
        kinds.append(data[i + 4:i + 8])
        i += 12 + n
    return kinds


def webp_width(data):
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", data[:16]
    kind = data[12:16]
    if kind == b"VP8 ":
        return struct.unpack("<H", data[26:28])[0] & 0x3fff
    if kind == b"VP8X":
        return 1 + int.from_bytes(data[24:27], "little")
    if kind == b"VP8L":
        return 1 + (struct.unpack("<I", data[21:25])[0] & 0x3fff)
    raise AssertionError(kind)


def multipart(filename, data, content_type="image/png", extra=None):
    b = "----onefiletest7MA4YWxk"
    out = b""
    for k, v in (extra or {}).items():
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" %
                (b, k, v)).encode()
    out += ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: %s\r\n\r\n" % (b, filename, content_type)).encode()
    out += data + ("\r\n--%s--\r\n" % b).encode()
    return out, "multipart/form-data; boundary=" + b


class MediaTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.assertEqual(run(["migrate", "--db", self.db]).returncode, 0)
        r = run(["token", "create", "tests", "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.token = r.stdout.strip()
        self.s = self.serve(env={"ONEFILE_MAX_UPLOAD_BYTES": str(2 * 1024 * 1024)})

    def tearDown(self):
        self.stop_clean(self.s)
        super().tearDown()

    def upload(self, filename, data, content_type="image/png", token=True, raw=False):
        h = {}
        if token:
            h["Authorization"] = "Bearer " + self.token
        if raw:
            path = "/api/v1/media?filename=" + filename
            body = data
            h["Content-Type"] = content_type
        else:
            path = "/api/v1/media"
            body, h["Content-Type"] = multipart(filename, data, content_type)
        status, rh, out = self.s.request("POST", path, body=body, headers=h, timeout=30)
        return status, json.loads(out) if out else None

    def get(self, url, headers=None):
        path = url[url.index("/media/"):]
        return self.s.request("GET", path, headers=headers or {})

    def rows(self, sql):
        with sqlite3.connect(self.db) as c:
            return c.execute(sql).fetchall()

    def assertNothingStored(self):
        self.assertEqual(self.rows("SELECT count(*) FROM media")[0][0], 0)
        self.assertEqual(self.rows("SELECT count(*) FROM media_chunks")[0][0], 0)

    def test_image_is_oriented_and_stripped(self):
        src = png(16, 8, with_exif=True)
        self.assertIn(b"eXIf", png_chunks(src))
        status, m = self.upload("holiday photo.png", src, content_type="application/pdf")
        self.assertEqual(status, 201, m)
        self.assertEqual(m["mime"], "image/png")  # sniffed, the client's type ignored
        self.assertEqual((m["width"], m["height"]), (8, 16))  # orientation 6: turned
        self.assertEqual(m["filename"], "holiday-photo.png")
        self.assertTrue(m["url"].endswith("/media/%s/holiday-photo.png" % m["sha256"]))
        status, h, body = self.get(m["url"])
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "image/png")
        self.assertEqual(png_size(body), (8, 16))
        self.assertNotIn(b"eXIf", png_chunks(body))
        self.assertNotIn(b"Exif", body)
        self.assertNotIn(b"II*\0", body)  # no TIFF block (where GPS lives) anywhere
        self.assertEqual(h["x-content-type-options"], "nosniff")
        self.assertEqual(h["cache-control"], "public, max-age=31536000, immutable")
        self.assertEqual(h["etag"], '"%s"' % m["sha256"])
        self.assertTrue(h["content-disposition"].startswith("inline;"))
        self.assertEqual(len(body), m["bytes"])
        import hashlib
        self.assertEqual(hashlib.sha256(body).hexdigest(), m["sha256"])
        # the same bytes again: found, not stored twice; a raw body works too
        status, again = self.upload("other.png", src, raw=True)
        self.assertEqual(status, 200, again)
        self.assertEqual(again["id"], m["id"])
        self.assertEqual(self.rows("SELECT count(*), min(state) FROM media"), [(1, "ready")])

    def test_variants_made_by_the_job(self):
        status, m = self.upload("wide.png", png(1000, 20))
        self.assertEqual(status, 201, m)
        self.assertEqual(m["variants"], [])  # made by a job, after the answer
        h = {"Authorization": "Bearer " + self.token}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, got = self.s.json("GET", "/api/v1/media/%d" % m["id"], headers=h)
            if len(got["variants"]) == 2:
                break
            time.sleep(0.1)
        # 480 and 960 are below the image's 1000 px; 1600 is not made (never enlarged)
        self.assertEqual([(v["width"], v["height"]) for v in got["variants"]],
                         [(480, 10), (960, 19)])
        for v in got["variants"]:
            self.assertTrue(v["url"].endswith("/w/%d.webp" % v["width"]), v)
            status, hh, body = self.get(v["url"])
            self.assertEqual(status, 200)
            self.assertEqual(hh["content-type"], "image/webp")
            self.assertEqual(hh["cache-control"], "public, max-age=31536000, immutable")
            self.assertEqual(webp_width(body), v["width"])
            self.assertEqual(self.get(v["url"], {"If-None-Match": hh["etag"]})[0], 304)
        self.assertEqual(self.get(m["url"].rsplit("/", 1)[0] + "/w/123.webp")[0], 404)
        # done: the job row is gone, nothing failed
        self.assertEqual(self.rows("SELECT count(*) FROM jobs"), [(0,)])
        self.assertEqual(self.rows("SELECT count(*) FROM failed_jobs"), [(0,)])

    def test_range_and_conditional(self):
        data = b"%PDF-1.4\n" + os.urandom(700 * 1024) + b"\n%%EOF\n"  # spans two chunks
        status, m = self.upload("report.pdf", data, raw=True, content_type="text/plain")
        self.assertEqual(status, 201, m)
        self.assertEqual(m["mime"], "application/pdf")
        self.assertEqual(self.rows("SELECT count(*) FROM media_chunks")[0][0], 2)
        size = len(data)
        status, h, body = self.get(m["url"])
        self.assertEqual((status, body), (200, data))
        self.assertTrue(h["content-disposition"].startswith("attachment;"))
        self.assertEqual(h["accept-ranges"], "bytes")
        for rng, first, last in (("bytes=0-9", 0, 9), ("bytes=524280-524300", 524280, 524300),
                                 ("bytes=%d-" % (size - 5), size - 5, size - 1),
                                 ("bytes=-7", size - 7, size - 1),
                                 ("bytes=10-%d" % (size * 2), 10, size - 1)):
            status, h, body = self.get(m["url"], {"Range": rng})
            self.assertEqual(status, 206, rng)
            self.assertEqual(body, data[first:last + 1], rng)
            self.assertEqual(h["content-range"], "bytes %d-%d/%d" % (first, last, size))
        for rng in ("bytes=%d-" % size, "bytes=-0"):
            status, h, _ = self.get(m["url"], {"Range": rng})
            self.assertEqual(status, 416, rng)
            self.assertEqual(h["content-range"], "bytes */%d" % size)
        status, _, body = self.get(m["url"], {"Range": "bytes=0-1,5-6"})
        self.assertEqual((status, len(body)), (200, size))  # several ranges: the whole file
        status, _, body = self.get(m["url"], {"Range": "bytes=0-9", "If-Range": '"other"'})
        self.assertEqual((status, len(body)), (200, size))
        status, h, body = self.get(m["url"], {"If-None-Match": "\"%s\"" % m["sha256"]})
        self.assertEqual((status, body), (304, b""))
        status, _, _ = self.get(m["url"].replace(m["sha256"], "0" * 64))
        self.assertEqual(status, 404)

    def test_refusals_store_nothing(self):
        big = b"%PDF-1.4\n" + b"x" * (2 * 1024 * 1024)
        cases = [
            ("forged", "evil.png", b"MZ\x90\0 not an image at all" * 10, 415),
            ("svg", "x.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
             b'<script>alert(1)</script></svg>', 415),
            ("html", "x.png", b"<!DOCTYPE html><html><script>alert(1)</script>", 415),
            ("truncated", "t.png", png(64, 64)[:200], 422),
            ("bomb", "bomb.png", png(50000, 50000, rows=b"")[:60] + png_chunk(
                b"IDAT", zlib.compress(b"\0" * 100000)) + png_chunk(b"IEND", b""), 422),
            ("path", "../../etc/passwd.png", png(4, 4), 400),
            ("backslash", "..\\x.png", png(4, 4), 400),
            ("empty", "e.png", b"", 400),
        ]
        for what, name, data, want in cases:
            status, out = self.upload(name, data)
            self.assertEqual(status, want, (what, out))
            self.assertIn("message", out["error"], what)
        status, out = self.upload("big.pdf", big, raw=True)
        self.assertEqual(status, 413, out)
        self.assertIn("upload limit", out["error"]["message"])
        status, out = self.upload("ok.png", png(4, 4), token=False)
        self.assertEqual(status, 401)
        self.assertNothingStored()
        self.assertEqual(self.s.request("GET", "/healthz")[0], 200)

    def test_list_and_delete(self):
        ids = []
        for i in range(3):
            status, m = self.upload("pic%d.png" % i, png(4 + i, 4))
            self.assertEqual(status, 201, m)
            ids.append(m)
        h = {"Authorization": "Bearer " + self.token}
        status, out = self.s.json("GET", "/api/v1/media?limit=2", headers=h)
        self.assertEqual(status, 200)
        self.assertEqual([x["id"] for x in out["items"]], [ids[2]["id"], ids[1]["id"]])
        status, out2 = self.s.json("GET", "/api/v1/media?limit=2&cursor=%s" % out["next_cursor"],
                                   headers=h)
        self.assertEqual([x["id"] for x in out2["items"]], [ids[0]["id"]])
        self.assertIsNone(out2["next_cursor"])
        status, out = self.s.json("GET", "/api/v1/media?q=PIC1", headers=h)
        self.assertEqual([x["id"] for x in out["items"]], [ids[1]["id"]])
        # a post uses pic0: delete refused, then forced
        post = {"title": "Uses it", "body_md": "![a](%s)" % ids[0]["url"]}
        hp = dict(h, **{"Content-Type": "application/json"})
        status, _, _ = self.s.request("POST", "/api/v1/posts", body=json.dumps(post).encode(),
                                      headers=hp)
        self.assertEqual(status, 201)
        path = "/api/v1/media/%d" % ids[0]["id"]
        status, out = self.s.json("DELETE", path, headers=h)
        self.assertEqual(status, 409, out)
        status, _, _ = self.s.request("DELETE", path + "?force=1", headers=h)
        self.assertEqual(status, 204)
        self.assertEqual(self.get(ids[0]["url"])[0], 404)
        self.assertEqual(self.s.request("DELETE", path, headers=h)[0], 404)
        status, _, _ = self.s.request("DELETE", "/api/v1/media/%d" % ids[1]["id"], headers=h)
        self.assertEqual(status, 204)
        self.assertEqual(self.rows("SELECT count(*) FROM media"), [(1,)])
        self.assertEqual(self.rows(
            "SELECT count(*) FROM media_chunks WHERE media_id <> %d" % ids[2]["id"]), [(0,)])
        status, out = self.s.json("GET", "/api/v1/media/%d" % ids[2]["id"], headers=h)
        self.assertEqual((status, out["id"]), (200, ids[2]["id"]))


class AdminMediaTest(harness.TestCase):
    """The admin's upload without JavaScript (multipart form, CSRF field in it) and delete."""

    def setUp(self):
        super().setUp()
        from test_admin import EMAIL, PASSWORD, Browser
        self.s = self.serve(env=harness.clean_env(ONEFILE_ADMIN_EMAIL=EMAIL,
                                                  ONEFILE_ADMIN_PASSWORD=PASSWORD))
        self.b = Browser(self.s)
        self.assertEqual(self.b.login()[0], 303)

    def tearDown(self):
        self.stop_clean(self.s)
        super().tearDown()

    def post_file(self, name, data, csrf, origin=True, accept=None):
        import http.client
        body, ct = multipart(name, data, extra={"_csrf": csrf} if csrf else None)
        h = {"Content-Type": ct,
             "Cookie": "; ".join("%s=%s" % kv for kv in self.b.cookies.items())}
        h["Origin"] = "http://127.0.0.1:%d" % self.s.port if origin is True else origin
        if accept:
            h["Accept"] = accept
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        conn.request("POST", "/admin/media/upload", body=body, headers=h)
        resp = conn.getresponse()
        out = resp.read()
        conn.close()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), out

    def count(self):
        with sqlite3.connect(self.db) as c:
            return c.execute("SELECT count(*) FROM media").fetchone()[0]

    def test_upload_list_delete(self):
        csrf = self.b.csrf("/admin/media")
        self.assertEqual(self.post_file("a.png", png(4, 4), None)[0], 403)
        self.assertEqual(self.post_file("a.png", png(4, 4), "wrong" + csrf[5:])[0], 403)
        self.assertEqual(self.post_file("a.png", png(4, 4), csrf,
                                        origin="http://evil.example")[0], 403)
        self.assertEqual(self.count(), 0)
        status, h, _ = self.post_file("first pic.png", png(6, 4), csrf)
        self.assertEqual((status, h["location"]), (303, "/admin/media?done=media-uploaded"))
        status, _, out = self.post_file("doc.pdf", b"%PDF-1.4\n%%EOF\n", csrf,
                                        accept="application/json")
        self.assertEqual(status, 201, out)
        pdf = json.loads(out)
        status, _, out = self.post_file("x.svg", b"<svg><script>1</script></svg>", csrf,
                                        accept="application/json")
        self.assertEqual(status, 415)
        self.assertIn("SVG", json.loads(out)["error"]["message"])
        status, _, page = self.b.request("GET", "/admin/media")
        self.assertEqual(status, 200)
        self.assertIn("first-pic.png", page)
        self.assertRegex(page, r"!\[first-pic\.png\]\(/media/[0-9a-f]{64}/first-pic\.png\)")  # the Markdown to paste
        self.assertIn("2 file(s)", page)
        # the Delete button asks first; the answer deletes
        status, _, page = self.b.request("POST", "/admin/media/%d/delete" % pdf["id"],
                                         {"_csrf": csrf})
        self.assertEqual(status, 200)
        self.assertIn("No post or page uses it", page)
        self.assertEqual(self.count(), 2)
        status, headers, _ = self.b.request("POST", "/admin/media/%d/delete" % pdf["id"],
                                            {"_csrf": csrf, "confirm": "1"})
        self.assertEqual(status, 303)
        self.assertEqual(headers["location"], "/admin/media?done=media-deleted")
        self.assertEqual(self.count(), 1)
        status, _, page = self.b.request("GET", "/admin")
        self.assertRegex(page, r'1 file\(s\)</a>, \d+ bytes in the database')
        status, _, page = self.b.request("GET", "/admin/media?q=nothing-like-it")
        self.assertIn("No files yet.", page)


if __name__ == "__main__":
    unittest.main()
