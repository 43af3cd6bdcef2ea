"""A small S3 endpoint that VERIFIES AWS Signature Version 4, for onefile's tests.

s3rver (the npm S3 server used by the backup system test) accepts any secret and answers
405 to multipart abort, so signing is proved here instead: every request must carry a
valid SigV4 Authorization header for the configured key pair, an x-amz-content-sha256 that
is signed and matches the body, and every x-amz-* header it sends must be signed. A wrong
secret fails every request type with 403 SignatureDoesNotMatch; an unknown key id with 403
InvalidAccessKeyId.

Operations (path-style, one bucket, objects in memory): PUT object (and CopyObject with
x-amz-copy-source, metadata COPY or REPLACE), GET (with Range), HEAD, DELETE,
ListObjectsV2 (prefix, continuation tokens, max-keys), multipart initiate / upload part /
complete / abort; path-style or virtual-hosted (bucket.host). Faults for retry tests:
`server.fail_next(n, status)` answers the next n requests with that status before looking
at them. `server.secret_after = n` verifies the first n requests with the right secret and
every later one with another (a client whose secret is wrong from request n+1 on).
`server.log` records every request as (kind, method, path, query, status), kind one of
PUT, COPY, INITIATE, UPLOAD_PART, COMPLETE, ABORT, GET, HEAD, LIST, DELETE.

Python standard library only. Use:
    srv = SigV4S3("AKID", "secret", bucket="b"); srv.start(); ... srv.stop()
or run it: python3 sigv4_s3.py PORT KEY SECRET BUCKET
"""
import datetime
import hashlib
import hmac
import http.server
import sys
import threading
import urllib.parse
import uuid
from xml.sax.saxutils import escape

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def aws_quote(s, safe=""):
    return urllib.parse.quote(s, safe=UNRESERVED + safe)


def canonical_query(raw):
    if not raw:
        return ""
    pairs = []
    for part in raw.split("&"):
        k, _, v = part.partition("=")
        pairs.append((aws_quote(urllib.parse.unquote(k)), aws_quote(urllib.parse.unquote(v))))
    pairs.sort()
    return "&".join("%s=%s" % kv for kv in pairs)


def hmac256(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    # --- plumbing ---
    def reply(self, status, body=b"", headers=None):
        srv = self.server.s3
        srv.log.append((self.kind(), self.command, self.path_only, self.query, status))
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", str((headers or {}).get("X-Length", 0)))
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def kind(self):
        m, q = self.command, self.query
        if m == "PUT":
            return ("UPLOAD_PART" if "partNumber=" in q else
                    "COPY" if self.headers.get("x-amz-copy-source") else "PUT")
        if m == "POST":
            return "INITIATE" if q.startswith("uploads") else "COMPLETE"
        if m == "DELETE":
            return "ABORT" if "uploadId=" in q else "DELETE"
        if m == "GET":
            return "LIST" if "list-type=" in q else "GET"
        return m

    def error(self, status, code, message):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code><Message>%s"
                "</Message></Error>" % (code, escape(message))).encode()
        self.reply(status, body, {"Content-Type": "application/xml"})

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # --- SigV4 ---
    def verify(self, body):
        srv = self.server.s3
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return self.error(403, "AccessDenied", "missing or non-SigV4 Authorization")
        fields = {}
        for item in auth[len("AWS4-HMAC-SHA256 "):].split(","):
            k, _, v = item.strip().partition("=")
            fields[k] = v
        try:
            akid, date, region, service, term = fields["Credential"].split("/")
            signed = fields["SignedHeaders"].split(";")
            signature = fields["Signature"]
        except (KeyError, ValueError):
            return self.error(400, "AuthorizationHeaderMalformed", auth)
        if akid != srv.access_key:
            return self.error(403, "InvalidAccessKeyId",
                              "The AWS Access Key Id you provided does not exist in our records.")
        if service != "s3" or term != "aws4_request" or region != srv.region:
            return self.error(400, "AuthorizationHeaderMalformed", "bad scope " + fields["Credential"])
        present = {k.lower() for k in self.headers.keys()}
        for h in present:
            if h.startswith("x-amz-") and h not in signed:
                return self.error(403, "AccessDenied", "header %s is not signed" % h)
        for h in ("host", "x-amz-date", "x-amz-content-sha256"):
            if h not in signed:
                return self.error(403, "AccessDenied", "header %s must be signed" % h)
        amz_date = self.headers.get("x-amz-date", "")
        if not amz_date.startswith(date):
            return self.error(403, "SignatureDoesNotMatch", "date mismatch")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            return self.error(403, "AccessDenied", "bad x-amz-date")
        if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 900:
            return self.error(403, "RequestTimeTooSkewed", "x-amz-date too far")
        payload = self.headers.get("x-amz-content-sha256", "")
        if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
            return self.error(400, "XAmzContentSHA256Mismatch",
                              "x-amz-content-sha256 does not match the body")
        canon_headers = ""
        for h in signed:
            values = self.headers.get_all(h) or []
            canon_headers += "%s:%s\n" % (h, ",".join(" ".join(v.split()) for v in values))
        creq = "\n".join([self.command, self.path_only, canonical_query(self.query),
                          canon_headers, ";".join(signed), payload])
        scope = "%s/%s/%s/%s" % (date, region, service, term)
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        with srv.lock:
            srv.verified += 1
            secret = srv.secret_key
            if srv.secret_after is not None and srv.verified > srv.secret_after:
                secret = "not-" + secret
        key = hmac256(("AWS4" + secret).encode(), date)
        for part in (region, service, term):
            key = hmac256(key, part)
        want = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, signature):
            srv.mismatches.append(creq)
            return self.error(403, "SignatureDoesNotMatch",
                              "The request signature we calculated does not match the "
                              "signature you provided.")
        return True

    # --- dispatch ---
    def handle_any(self):
        srv = self.server.s3
        self.path_only, _, self.query = self.path.partition("?")
        body = self.read_body() if self.command in ("PUT", "POST") else b""
        with srv.lock:
            if srv.faults:
                status = srv.faults.pop(0)
                return self.error(status, "InternalError" if status >= 500 else "SlowDown",
                                  "injected fault")
        if self.verify(body) is not True:
            return None
        host = self.headers.get("Host", "").split(":")[0]
        if host.endswith(".localhost"):  # virtual-hosted: bucket.localhost:PORT/key
            srv.virtual_requests += 1
            bucket = host[:-len(".localhost")]
            key = urllib.parse.unquote(self.path_only.lstrip("/"))
        else:
            parts = self.path_only.lstrip("/").split("/", 1)
            bucket = urllib.parse.unquote(parts[0])
            key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        q = urllib.parse.parse_qs(self.query, keep_blank_values=True)
        if bucket != srv.bucket:
            return self.error(404, "NoSuchBucket", "The specified bucket does not exist")
        with srv.lock:
            return self.operation(srv, key, q, body)

    def operation(self, srv, key, q, body):
        m = self.command
        if not key:
            if m == "GET" and q.get("list-type") == ["2"]:
                return self.list_objects(srv, q)
            return self.error(405, "MethodNotAllowed", "bucket operation not supported")
        if m == "POST" and "uploads" in q:
            uid = uuid.uuid4().hex
            srv.uploads[uid] = {"key": key, "parts": {}, "meta": self.meta_headers()}
            return self.reply(200, ("<InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s"
                                    "</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>"
                                    % (srv.bucket, escape(key), uid)).encode())
        if "uploadId" in q:
            up = srv.uploads.get(q["uploadId"][0])
            if not up or up["key"] != key:
                return self.error(404, "NoSuchUpload", "no such upload")
            if m == "PUT":
                etag = '"%s"' % hashlib.md5(body).hexdigest()
                up["parts"][int(q["partNumber"][0])] = (body, etag)
                return self.reply(200, b"", {"ETag": etag})
            if m == "DELETE":
                del srv.uploads[q["uploadId"][0]]
                return self.reply(204)
            if m == "POST":
                nums = sorted(up["parts"])
                for n in nums[:-1]:
                    if len(up["parts"][n][0]) < srv.min_part:
                        return self.error(400, "EntityTooSmall", "part %d too small" % n)
                text = body.decode()
                for n in nums:
                    if up["parts"][n][1] not in text:
                        return self.error(400, "InvalidPart", "part %d etag missing" % n)
                data = b"".join(up["parts"][n][0] for n in nums)
                srv.objects[key] = (data, up["meta"])
                del srv.uploads[q["uploadId"][0]]
                srv.multipart_completed += 1
                return self.reply(200, ("<CompleteMultipartUploadResult><Key>%s</Key>"
                                        "</CompleteMultipartUploadResult>" % escape(key)).encode())
        if m == "PUT":
            src = self.headers.get("x-amz-copy-source")
            if src:
                sk = urllib.parse.unquote(src).lstrip("/").split("/", 1)[1]
                if sk not in srv.objects:
                    return self.error(404, "NoSuchKey", "copy source missing")
                data, meta = srv.objects[sk]
                if self.headers.get("x-amz-metadata-directive") == "REPLACE":
                    meta = self.meta_headers()
                srv.objects[key] = (data, meta)
                return self.reply(200, b"<CopyObjectResult><ETag>\"x\"</ETag></CopyObjectResult>")
            srv.objects[key] = (body, self.meta_headers())
            return self.reply(200, b"", {"ETag": '"%s"' % hashlib.md5(body).hexdigest()})
        obj = srv.objects.get(key)
        if m == "DELETE":
            srv.objects.pop(key, None)
            return self.reply(204)
        if obj is None:
            return self.error(404, "NoSuchKey", "The specified key does not exist.")
        data, meta = obj
        headers = dict(meta)
        if m == "HEAD":
            headers["X-Length"] = len(data)
            return self.reply(200, b"", headers)
        rng = self.headers.get("Range")
        if srv.drop_get_after and not rng:
            # the connection drops mid-body: the client must resume with a Range
            n, srv.drop_get_after = srv.drop_get_after, None
            srv.log.append((self.kind(), self.command, self.path_only, self.query, 200))
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:n])
            self.wfile.flush()
            self.close_connection = True
            return None
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(data) - 1, len(data))
            return self.reply(206, data[start:], headers)
        return self.reply(200, data, headers)

    def meta_headers(self):
        return {k.lower(): v for k, v in self.headers.items()
                if k.lower().startswith("x-amz-meta-")}

    def list_objects(self, srv, q):
        prefix = q.get("prefix", [""])[0]
        after = q.get("continuation-token", [""])[0]
        keys = sorted(k for k in srv.objects if k.startswith(prefix) and k > after)
        page, rest = keys[:srv.max_keys], keys[srv.max_keys:]
        items = "".join("<Contents><Key>%s</Key><LastModified>2026-01-01T00:00:00.000Z"
                        "</LastModified><Size>%d</Size></Contents>"
                        % (escape(k), len(srv.objects[k][0])) for k in page)
        more = ("<IsTruncated>true</IsTruncated><NextContinuationToken>%s</NextContinuationToken>"
                % escape(page[-1])) if rest else "<IsTruncated>false</IsTruncated>"
        return self.reply(200, ("<ListBucketResult><Name>%s</Name><Prefix>%s</Prefix>%s%s"
                                "</ListBucketResult>" % (srv.bucket, escape(prefix), more,
                                                         items)).encode(),
                          {"Content-Type": "application/xml"})

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class SigV4S3:
    def __init__(self, access_key, secret_key, bucket="bucket", region="us-east-1", port=0,
                 max_keys=1000, min_part=5 * 1024 * 1024):
        self.access_key, self.secret_key, self.bucket, self.region = (
            access_key, secret_key, bucket, region)
        self.max_keys, self.min_part = max_keys, min_part
        self.objects, self.uploads, self.faults = {}, {}, []
        self.log, self.mismatches = [], []
        self.multipart_completed = 0
        self.secret_after = None
        self.drop_get_after = None
        self.verified = 0
        self.virtual_requests = 0
        self.lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.s3 = self
        self.port = self.httpd.server_address[1]
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.thread = None

    def fail_next(self, n, status=503):
        with self.lock:
            self.faults.extend([status] * n)

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    port, key, secret, bucket = sys.argv[1:5]
    srv = SigV4S3(key, secret, bucket=bucket, port=int(port))
    print("listening on", srv.endpoint, flush=True)
    srv.httpd.serve_forever()
