/*
 * s3.c - the S3 client; see s3.h for what it does and the libcurl traps it avoids.
 *
 * Every request goes through perform(): build the URL (addressing, AWS-encoded key,
 * canonical query), set x-amz-content-sha256 to the SHA-256 of the in-memory body, let
 * libcurl sign with SigV4, and retry transient failures with backoff. A GET streams its
 * body into the caller's stream and, when a connection drops, resumes with a Range from
 * the bytes already delivered (so nothing reaches the stream twice). Error bodies never
 * reach the stream: they are kept to explain the failure.
 *
 * Upload, as a sink:
 *
 *   write   -> part buffer; once it is full and more comes: initiate the multipart upload
 *              (first time), upload the buffer as part N, start the next part
 *   finish  -> no upload yet: one PUT of the buffer with every x-amz-meta-* header
 *              otherwise: upload the last part, complete, then CopyObject the object onto
 *              itself with the full metadata (the SHA-256 is only known at the end)
 *   free    -> an unfinished multipart upload is aborted
 */
#include "remote/s3.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"

#define RESP_LIMIT (8u << 20)  /* a listing page of 1000 keys is ~300 KiB */
#define COPY_LIMIT (5LL << 30) /* CopyObject's limit for one request */
#define MAX_PARTS 10000

struct s3 {
    char *bucket, *prefix, *endpoint, *region, *access_key, *secret_key;
    enum s3_addressing addressing;
    size_t part_bytes;
    char *sigv4;
};

struct req {
    const char *method;         /* GET PUT POST DELETE HEAD */
    const char *name;           /* object name under the prefix; NULL: the bucket */
    const char *query;          /* canonical query string without '?', or NULL */
    struct curl_slist *headers; /* extra headers (borrowed) */
    const uint8_t *body;
    size_t body_len;
    struct stream *into;      /* GET: where a 2xx body goes */
    struct remote_meta *meta; /* HEAD: filled from x-amz-meta-* */
    /* results */
    long status;
    struct buf resp; /* the body when not streamed; error bodies */
    char etag[128];
    long long content_length;
    uint64_t streamed;    /* bytes handed to `into`, across attempts */
    uint64_t resume_from; /* this attempt asked for bytes from here on */
    uint64_t skip;        /* bytes to drop (a server that ignored our Range) */
    size_t body_pos;
    int into_failed;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct s3 *s3_new(const struct s3_options *o)
{
    pthread_once(&curl_once, curl_setup);
    struct s3 *s = xcalloc(1, sizeof(*s));
    s->bucket = xstrdup(o->bucket);
    s->prefix = xstrdup(o->prefix ? o->prefix : "");
    s->endpoint = o->endpoint ? xstrdup(o->endpoint) : NULL;
    s->region = xstrdup(o->region ? o->region : "us-east-1");
    s->access_key = o->access_key ? xstrdup(o->access_key) : NULL;
    s->secret_key = o->secret_key ? xstrdup(o->secret_key) : NULL;
    s->addressing = o->addressing;
    s->part_bytes = o->part_bytes ? o->part_bytes : S3_PART_BYTES;
    s->sigv4 = xasprintf("aws:amz:%s:s3", s->region);
    if (s->endpoint) {
        size_t n = strlen(s->endpoint);
        while (n > 0 && s->endpoint[n - 1] == '/')
            s->endpoint[--n] = '\0';
    }
    return s;
}

void s3_free(struct s3 *s)
{
    if (!s)
        return;
    free(s->bucket);
    free(s->prefix);
    free(s->endpoint);
    free(s->region);
    free(s->access_key);
    if (s->secret_key)
        sodium_memzero(s->secret_key, strlen(s->secret_key));
    free(s->secret_key);
    free(s->sigv4);
    free(s);
}

void s3_uri_encode(const char *s, int keep_slash, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/')) {
            buf_addc(out, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_add(out, e, 3);
        }
    }
}

static int path_style(const struct s3 *s)
{
    return s->addressing == S3_PATH || (s->addressing == S3_AUTO && s->endpoint);
}

/* The request URL: scheme, host, the bucket (path-style), the key, the query. */
static char *request_url(const struct s3 *s, const char *name, const char *query)
{
    struct buf u = BUF_INIT;
    if (s->endpoint) {
        const char *rest = strstr(s->endpoint, "://");
        rest = rest ? rest + 3 : s->endpoint;
        if (path_style(s))
            buf_addf(&u, "%s/%s", s->endpoint, s->bucket);
        else
            buf_addf(&u, "%.*s%s.%s", (int)(rest - s->endpoint), s->endpoint, s->bucket, rest);
    } else if (path_style(s)) {
        buf_addf(&u, "https://s3.%s.amazonaws.com/%s", s->region, s->bucket);
    } else {
        buf_addf(&u, "https://%s.s3.%s.amazonaws.com", s->bucket, s->region);
    }
    buf_addc(&u, '/');
    if (name) {
        char *key = xasprintf("%s%s", s->prefix, name);
        s3_uri_encode(key, 1, &u);
        free(key);
    }
    if (query)
        buf_addf(&u, "?%s", query);
    return buf_detach(&u, NULL);
}

/* "s3://bucket/prefix/name" for messages. */
static char *display(const struct s3 *s, const char *name)
{
    return xasprintf("s3://%s/%s%s", s->bucket, s->prefix, name ? name : "");
}

static void sha256_hex(const uint8_t *p, size_t n, char out[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, p, n);
    sodium_bin2hex(out, 65, d, sizeof(d));
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct req *rq = ctx;
    size_t n = size * nmemb;
    if (rq->into && rq->status >= 200 && rq->status < 300) {
        const char *d = p;
        size_t left = n;
        if (rq->skip > 0) {
            size_t drop = rq->skip < left ? (size_t)rq->skip : left;
            rq->skip -= drop;
            d += drop;
            left -= drop;
        }
        if (left && stream_write(rq->into, d, left) < 0) {
            rq->into_failed = 1;
            return 0;
        }
        rq->streamed += left;
        return n;
    }
    buf_add(&rq->resp, p, n); /* past the limit: kept truncated, still an answer */
    return n;
}

static void copy_value(char *out, size_t outlen, const char *v, size_t n)
{
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct req *rq = ctx;
    size_t n = size * nmemb;
    if (n > 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* a new response (after a 100 Continue or a redirect): its own status */
        long code = 0;
        const char *sp = memchr(p, ' ', n);
        if (sp)
            code = strtol(sp + 1, NULL, 10);
        rq->status = code;
        return n;
    }
    if (n <= 2 && rq->status == 200 && rq->resume_from > 0)
        rq->skip = rq->resume_from; /* end of headers: a full body although we asked a range */
    const char *colon = memchr(p, ':', n);
    if (!colon)
        return n;
    size_t klen = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vlen = n - klen - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
    char val[256];
    copy_value(val, sizeof(val), v, vlen);
#define IS(h) (klen == sizeof(h) - 1 && strncasecmp(p, h, klen) == 0)
    if (IS("etag"))
        copy_value(rq->etag, sizeof(rq->etag), v, vlen);
    else if (IS("content-length"))
        rq->content_length = strtoll(val, NULL, 10);
    if (!rq->meta)
        return n;
    struct remote_meta *m = rq->meta;
    if (IS("x-amz-meta-sha256"))
        copy_value(m->sha256, sizeof(m->sha256), v, vlen);
    else if (IS("x-amz-meta-source-size"))
        m->source_size = strtoll(val, NULL, 10);
    else if (IS("x-amz-meta-schema-version"))
        m->schema_version = strtoll(val, NULL, 10);
    else if (IS("x-amz-meta-onefile-version"))
        copy_value(m->onefile_version, sizeof(m->onefile_version), v, vlen);
    else if (IS("x-amz-meta-compression"))
        copy_value(m->compression, sizeof(m->compression), v, vlen);
    else if (IS("x-amz-meta-key-id"))
        copy_value(m->key_id, sizeof(m->key_id), v, vlen);
    else if (IS("x-amz-meta-created-at"))
        copy_value(m->created_at, sizeof(m->created_at), v, vlen);
#undef IS
    return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct req *rq = ctx;
    size_t n = size * nmemb, left = rq->body_len - rq->body_pos;
    if (n > left)
        n = left;
    memcpy(p, rq->body + rq->body_pos, n);
    rq->body_pos += n;
    return n;
}

static int transient(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ||
           cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING ||
           cc == CURLE_PARTIAL_FILE || cc == CURLE_COULDNT_RESOLVE_HOST ||
           cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM;
}

/* The text between <tag> and </tag> in xml (entities decoded), searching from *from and
   moving it past the match. 0 found, -1 not. */
static int xml_value(const char **from, const char *end, const char *tag, char *out, size_t outlen)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = strstr(*from, open);
    if (!a || (end && a >= end))
        return -1;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (!b || (end && b > end))
        return -1;
    size_t o = 0;
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    for (const char *p = a; p < b && o + 1 < outlen;) {
        size_t i;
        for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
            if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0)
                break;
        if (i < sizeof(ents) / sizeof(ents[0])) {
            out[o++] = ents[i].c;
            p += strlen(ents[i].ent);
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    *from = b + strlen(close);
    return 0;
}

/* Writes the explanation of a failed request into err. */
static void explain(const struct s3 *s, const struct req *rq, CURLcode cc, const char *curl_err,
                    char *err, size_t errlen)
{
    char *what = display(s, rq->name);
    const char *body = buf_str(&rq->resp), *p = body;
    char code[128] = "", msg[256] = "";
    xml_value(&p, NULL, "Code", code, sizeof(code));
    p = body;
    xml_value(&p, NULL, "Message", msg, sizeof(msg));
    const char *hint = "";
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "s3: %s %s: cannot reach %s: %s", rq->method, what,
                 s->endpoint ? s->endpoint : "AWS S3",
                 curl_err[0] ? curl_err : curl_easy_strerror(cc));
        free(what);
        return;
    }
    if (rq->status == 403) {
        if (strcmp(code, "InvalidAccessKeyId") == 0)
            hint = " - check AWS_ACCESS_KEY_ID";
        else if (strcmp(code, "SignatureDoesNotMatch") == 0)
            hint = " - check AWS_SECRET_ACCESS_KEY and AWS_REGION";
        else
            hint = " - check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's policy";
        snprintf(err, errlen, "s3: %s %s: access denied (403 %s%s%s)%s", rq->method, what,
                 code[0] ? code : "Forbidden", msg[0] ? ": " : "", msg, hint);
    } else if (rq->status == 404 && (strcmp(code, "NoSuchBucket") == 0 || !rq->name)) {
        snprintf(err, errlen, "s3: bucket '%s' does not exist (404 %s)%s", s->bucket,
                 code[0] ? code : "Not Found",
                 s->endpoint ? "" : " - check the bucket name and AWS_REGION");
    } else if (rq->status == 404) {
        snprintf(err, errlen, "s3: %s %s: no such object (404)", rq->method, what);
    } else {
        snprintf(err, errlen, "s3: %s %s: HTTP %ld%s%s%s%s", rq->method, what, rq->status,
                 code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
    }
    free(what);
}

/* Runs one request with retries. 0 on a 2xx answer; REMOTE_ENOTFOUND on 404 for an
   object; -1 otherwise; err filled on failure. rq->resp holds the body (not streamed). */
static int perform(struct s3 *s, struct req *rq, char *err, size_t errlen)
{
    char *url = request_url(s, rq->name, rq->query);
    char hash[65], curl_err[CURL_ERROR_SIZE];
    sha256_hex(rq->body ? rq->body : (const uint8_t *)"", rq->body ? rq->body_len : 0, hash);
    char *hash_header = xasprintf("x-amz-content-sha256: %s", hash);
    struct curl_slist *hs = NULL;
    for (struct curl_slist *h = rq->headers; h; h = h->next)
        hs = curl_slist_append(hs, h->data);
    hs = curl_slist_append(hs, hash_header);
    hs = curl_slist_append(hs, "Expect:");
    if (strcmp(rq->method, "POST") == 0)
        hs = curl_slist_append(hs, "Content-Type: application/xml");
    CURL *c = curl_easy_init();
    int rc = -1;
    CURLcode cc = CURLE_OK;
    buf_init(&rq->resp, RESP_LIMIT);
    if (!c || !hs) {
        snprintf(err, errlen, "s3: cannot set up a request");
        goto out;
    }
    for (int attempt = 0;; attempt++) {
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, S3_STALL_S);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, rq);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, rq);
        if (s->access_key && s->secret_key) {
            curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
            curl_easy_setopt(c, CURLOPT_USERNAME, s->access_key);
            curl_easy_setopt(c, CURLOPT_PASSWORD, s->secret_key);
        }
        if (strcmp(rq->method, "HEAD") == 0) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (strcmp(rq->method, "PUT") == 0) {
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, rq);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
        } else if (strcmp(rq->method, "POST") == 0) {
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        } else if (strcmp(rq->method, "DELETE") == 0) {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
        }
        rq->resume_from = rq->into ? rq->streamed : 0;
        if (rq->resume_from > 0)
            curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)rq->resume_from);
        rq->status = 0;
        rq->etag[0] = '\0';
        rq->content_length = -1;
        rq->body_pos = 0;
        rq->skip = 0;
        curl_err[0] = '\0';
        buf_reset(&rq->resp);
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rq->status);
        if (rq->into_failed) {
            if (rq->into->err != err) /* the stream's own message */
                snprintf(err, errlen, "%s", rq->into->err);
            goto out;
        }
        int retry = (cc != CURLE_OK && transient(cc)) ||
                    (cc == CURLE_OK && (rq->status >= 500 || rq->status == 429));
        if (!retry || attempt + 1 >= S3_ATTEMPTS)
            break;
        long wait_ms = 250L << attempt;
        log_warn("s3: %s %s: %s, retrying in %ld ms (attempt %d of %d)", rq->method, url,
                 cc != CURLE_OK ? curl_easy_strerror(cc) : "server error", wait_ms, attempt + 2,
                 S3_ATTEMPTS);
        struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (cc == CURLE_OK && rq->status >= 200 && rq->status < 300) {
        rc = 0;
        goto out;
    }
    explain(s, rq, cc, curl_err, err, errlen);
    if (cc == CURLE_OK && rq->status == 404 && rq->name) {
        const char *p = buf_str(&rq->resp);
        char code[64] = "";
        xml_value(&p, NULL, "Code", code, sizeof(code));
        if (strcmp(code, "NoSuchBucket") != 0)
            rc = REMOTE_ENOTFOUND;
    }
out:
    curl_easy_cleanup(c);
    curl_slist_free_all(hs);
    free(hash_header);
    free(url);
    return rc;
}

/* x-amz-meta-* headers for m (the SHA-256 only when known). */
static struct curl_slist *meta_headers(const struct remote_meta *m)
{
    struct curl_slist *h = NULL;
    char line[160];
#define ADD(...)                                                                                   \
    do {                                                                                           \
        snprintf(line, sizeof(line), __VA_ARGS__);                                                 \
        h = curl_slist_append(h, line);                                                            \
    } while (0)
    if (m->sha256[0])
        ADD("x-amz-meta-sha256: %s", m->sha256);
    if (m->source_size >= 0)
        ADD("x-amz-meta-source-size: %lld", m->source_size);
    if (m->schema_version >= 0)
        ADD("x-amz-meta-schema-version: %lld", m->schema_version);
    if (m->onefile_version[0])
        ADD("x-amz-meta-onefile-version: %s", m->onefile_version);
    if (m->compression[0])
        ADD("x-amz-meta-compression: %s", m->compression);
    if (m->key_id[0])
        ADD("x-amz-meta-key-id: %s", m->key_id);
    if (m->created_at[0])
        ADD("x-amz-meta-created-at: %s", m->created_at);
#undef ADD
    return h;
}

struct put {
    struct stream s;
    struct s3 *s3;
    char *name;
    struct remote_meta *meta;
    uint8_t *part;
    size_t have, alloc, cap;
    char *upload_id;
    struct buf parts; /* <Part> elements of the parts uploaded so far */
    int nparts;
    uint64_t total;
    int committed;
};

static int put_initiate(struct put *p)
{
    struct req rq = {.method = "POST", .name = p->name, .query = "uploads="};
    struct curl_slist *h = meta_headers(p->meta);
    rq.headers = h;
    int rc = -1;
    if (perform(p->s3, &rq, p->s.err, p->s.errlen) < 0)
        goto out;
    const char *x = buf_str(&rq.resp);
    char id[1024];
    if (xml_value(&x, NULL, "UploadId", id, sizeof(id)) < 0) {
        stream_fail(&p->s, "s3: starting a multipart upload of %s: no UploadId in the answer",
                    p->name);
        goto out;
    }
    p->upload_id = xstrdup(id);
    rc = 0;
out:
    curl_slist_free_all(h);
    buf_release(&rq.resp);
    return rc;
}

/* "partNumber=N&uploadId=ID", or "uploadId=ID" when n is 0: sorted, encoded. */
static char *upload_query(const char *upload_id, int n)
{
    struct buf q = BUF_INIT;
    if (n > 0)
        buf_addf(&q, "partNumber=%d&", n);
    buf_adds(&q, "uploadId=");
    s3_uri_encode(upload_id, 0, &q);
    return buf_detach(&q, NULL);
}

static int put_part(struct put *p)
{
    if (p->nparts >= MAX_PARTS)
        return stream_fail(&p->s, "s3: %s: more than %d parts", p->name, MAX_PARTS);
    if (!p->upload_id && put_initiate(p) < 0)
        return -1;
    char *q = upload_query(p->upload_id, p->nparts + 1);
    struct req rq = {
        .method = "PUT", .name = p->name, .query = q, .body = p->part, .body_len = p->have};
    int rc = perform(p->s3, &rq, p->s.err, p->s.errlen);
    if (rc == 0 && !rq.etag[0])
        rc = stream_fail(&p->s, "s3: part %d of %s: no ETag in the answer", p->nparts + 1, p->name);
    if (rc == 0) {
        p->nparts++;
        buf_addf(&p->parts, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", p->nparts,
                 rq.etag);
        p->have = 0;
    }
    buf_release(&rq.resp);
    free(q);
    return rc < 0 ? -1 : 0;
}

static int put_write(struct stream *s, const uint8_t *d, size_t n)
{
    struct put *p = (struct put *)s;
    while (n > 0) {
        if (p->have == p->cap && put_part(p) < 0)
            return -1;
        size_t take = p->cap - p->have < n ? p->cap - p->have : n;
        if (p->have + take > p->alloc) {
            size_t want = p->alloc ? p->alloc : 256 * 1024;
            while (want < p->have + take)
                want *= 2;
            p->alloc = want < p->cap ? want : p->cap;
            p->part = xrealloc(p->part, p->alloc);
        }
        memcpy(p->part + p->have, d, take);
        p->have += take;
        p->total += take;
        d += take;
        n -= take;
    }
    return 0;
}

/* After a multipart upload: the object copied onto itself with the full metadata. */
static int put_set_meta(struct put *p)
{
    struct buf src = BUF_INIT;
    buf_addf(&src, "x-amz-copy-source: /%s/", p->s3->bucket);
    char *key = xasprintf("%s%s", p->s3->prefix, p->name);
    s3_uri_encode(key, 1, &src);
    free(key);
    struct curl_slist *h = meta_headers(p->meta);
    h = curl_slist_append(h, buf_str(&src));
    h = curl_slist_append(h, "x-amz-metadata-directive: REPLACE");
    struct req rq = {.method = "PUT", .name = p->name, .headers = h};
    int rc = perform(p->s3, &rq, p->s.err, p->s.errlen);
    if (rc == 0 && strstr(buf_str(&rq.resp), "<Error>"))
        rc = stream_fail(&p->s, "s3: setting the metadata of %s: %s", p->name, buf_str(&rq.resp));
    curl_slist_free_all(h);
    buf_release(&rq.resp);
    buf_release(&src);
    return rc < 0 ? -1 : 0;
}

static int put_finish(struct stream *s)
{
    struct put *p = (struct put *)s;
    int rc = -1;
    p->meta->size = (long long)p->total;
    if (!p->upload_id) {
        struct curl_slist *h = meta_headers(p->meta);
        struct req rq = {
            .method = "PUT", .name = p->name, .headers = h, .body = p->part, .body_len = p->have};
        rc = perform(p->s3, &rq, s->err, s->errlen) < 0 ? -1 : 0;
        curl_slist_free_all(h);
        buf_release(&rq.resp);
        p->committed = rc == 0;
        return rc;
    }
    if (put_part(p) < 0)
        return -1;
    struct buf x = BUF_INIT;
    buf_addf(&x, "<CompleteMultipartUpload>%s</CompleteMultipartUpload>", buf_str(&p->parts));
    char *q = upload_query(p->upload_id, 0);
    struct req rq = {.method = "POST",
                     .name = p->name,
                     .query = q,
                     .body = (const uint8_t *)x.data,
                     .body_len = x.len};
    if (perform(p->s3, &rq, s->err, s->errlen) < 0)
        goto out;
    /* S3 may answer 200 and still fail, with an <Error> in the body */
    if (strstr(buf_str(&rq.resp), "<Error>")) {
        stream_fail(s, "s3: completing the upload of %s: %s", p->name, buf_str(&rq.resp));
        goto out;
    }
    p->committed = 1;
    if (p->total <= (uint64_t)COPY_LIMIT) {
        if (put_set_meta(p) < 0) {
            /* an object without its sha256 is not a finished backup: take it back */
            char e[256];
            struct req del = {.method = "DELETE", .name = p->name};
            if (perform(p->s3, &del, e, sizeof(e)) < 0)
                log_warn("%s", e);
            buf_release(&del.resp);
            goto out;
        }
    } else {
        log_warn("s3: %s is over 5 GiB: its sha256 is not in its metadata (only in the "
                 "backups table)",
                 p->name);
    }
    rc = 0;
out:
    buf_release(&rq.resp);
    buf_release(&x);
    free(q);
    return rc;
}

static void put_free(struct stream *s)
{
    struct put *p = (struct put *)s;
    if (p->upload_id && !p->committed) {
        char err[256];
        char *q = upload_query(p->upload_id, 0);
        struct req rq = {.method = "DELETE", .name = p->name, .query = q};
        if (perform(p->s3, &rq, err, sizeof(err)) < 0)
            log_warn("%s (the parts of the abandoned upload stay until the bucket's "
                     "lifecycle rule removes them)",
                     err);
        buf_release(&rq.resp);
        free(q);
    }
    free(p->part);
    free(p->name);
    free(p->upload_id);
    buf_release(&p->parts);
    free(p);
}

struct stream *s3_put(struct s3 *s, const char *name, struct remote_meta *meta, uint64_t size_hint,
                      char *err, size_t errlen)
{
    struct put *p = xcalloc(1, sizeof(*p));
    stream_init(&p->s, put_write, put_finish, put_free, NULL, err, errlen);
    p->s3 = s;
    p->name = xstrdup(name);
    p->meta = meta;
    p->cap = s->part_bytes;
    /* keep under MAX_PARTS with room to spare (a source that does not compress grows a
       little with the gzip framing or encryption) */
    uint64_t need = size_hint / (MAX_PARTS * 9 / 10) + 1;
    if (need > p->cap)
        p->cap = (size_t)((need + (1u << 20) - 1) & ~((uint64_t)(1u << 20) - 1));
    return &p->s;
}

int s3_get(struct s3 *s, const char *name, struct stream *into, char *err, size_t errlen)
{
    struct req rq = {.method = "GET", .name = name, .into = into};
    int rc = perform(s, &rq, err, errlen);
    buf_release(&rq.resp);
    return rc;
}

int s3_head(struct s3 *s, const char *name, struct remote_meta *meta, char *err, size_t errlen)
{
    struct req rq = {.method = "HEAD", .name = name, .meta = meta};
    int rc = perform(s, &rq, err, errlen);
    if (rc == 0)
        meta->size = rq.content_length;
    buf_release(&rq.resp);
    return rc;
}

int s3_delete(struct s3 *s, const char *name, char *err, size_t errlen)
{
    struct req rq = {.method = "DELETE", .name = name};
    int rc = perform(s, &rq, err, errlen);
    buf_release(&rq.resp);
    return rc == REMOTE_ENOTFOUND ? 0 : rc;
}

static long long parse_time(const char *iso)
{
    struct tm tm = {0};
    if (!strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (long long)timegm(&tm);
}

int s3_list(struct s3 *s, struct remote_object **out, size_t *n, char *err, size_t errlen)
{
    struct remote_object *items = NULL;
    size_t count = 0, alloc = 0;
    char token[1024] = "";
    char *prefix = xasprintf("%sonefile-", s->prefix);
    int rc = -1;
    for (;;) {
        struct buf q = BUF_INIT;
        if (token[0]) {
            buf_adds(&q, "continuation-token=");
            s3_uri_encode(token, 0, &q);
            buf_addc(&q, '&');
        }
        buf_adds(&q, "list-type=2&prefix=");
        s3_uri_encode(prefix, 0, &q);
        struct req rq = {.method = "GET", .query = buf_str(&q)};
        int r = perform(s, &rq, err, errlen);
        buf_release(&q);
        if (r < 0) {
            buf_release(&rq.resp);
            goto out;
        }
        const char *x = buf_str(&rq.resp), *end;
        const char *c;
        while ((c = strstr(x, "<Contents>"))) {
            end = strstr(c, "</Contents>");
            if (!end)
                break;
            char key[1024], size[32], mod[64] = "";
            const char *f = c;
            if (xml_value(&f, end, "Key", key, sizeof(key)) == 0 &&
                strncmp(key, s->prefix, strlen(s->prefix)) == 0) {
                const char *nm = key + strlen(s->prefix);
                size_t len = strlen(nm);
                f = c;
                if (xml_value(&f, end, "Size", size, sizeof(size)) < 0)
                    strcpy(size, "0");
                f = c;
                xml_value(&f, end, "LastModified", mod, sizeof(mod));
                if (!strchr(nm, '/') && len < sizeof(items->name) &&
                    !(len > 5 && strcmp(nm + len - 5, ".json") == 0)) {
                    if (count == alloc) {
                        alloc = alloc ? alloc * 2 : 64;
                        items = xrealloc(items, alloc * sizeof(*items));
                    }
                    snprintf(items[count].name, sizeof(items[count].name), "%s", nm);
                    items[count].size = strtoll(size, NULL, 10);
                    items[count].mtime = parse_time(mod);
                    count++;
                }
            }
            x = end;
        }
        const char *t = buf_str(&rq.resp);
        char truncated[16] = "";
        xml_value(&t, NULL, "IsTruncated", truncated, sizeof(truncated));
        t = buf_str(&rq.resp);
        int more = strcmp(truncated, "true") == 0 &&
                   xml_value(&t, NULL, "NextContinuationToken", token, sizeof(token)) == 0;
        buf_release(&rq.resp);
        if (!more)
            break;
    }
    *out = items;
    *n = count;
    items = NULL;
    rc = 0;
out:
    free(items);
    free(prefix);
    return rc;
}
