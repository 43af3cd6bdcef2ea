/*
 * encoding.c - content-coding negotiation and one-shot compression; see encoding.h.
 *
 * Accept-Encoding is parsed without allocating: a comma-separated list of tokens, each
 * with an optional ";q=0.xyz" weight (RFC 9110 12.5.3). A token not understood is
 * skipped; "*" stands for every coding not named; q=0 excludes.
 */
#include "http/encoding.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "core/mem.h"

#define GZIP_LEVEL 6  /* zlib's default: level 9 is ~3x slower for ~1% less */
#define ZSTD_LEVEL 12 /* once per entry: still ~20 MB/s, and smaller than gzip -9 */

static const char *const names[ENCODING_COUNT] = {NULL, "gzip", "zstd"};
static const char *const suffixes[ENCODING_COUNT] = {"", "-gz", "-zst"};

const char *encoding_name(enum encoding e)
{
    return names[e];
}

/* The weight of a "q=..." parameter in [p, end), in thousandths; 1000 when absent. */
static int weight_of(const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            if (p < end && *p == '0') {
                int w = 0, digits = 0;
                p++;
                if (p < end && *p == '.')
                    for (p++; p < end && digits < 3 && isdigit((unsigned char)*p); p++)
                        w = w * 10 + (*p - '0'), digits++;
                for (; digits < 3; digits++)
                    w *= 10;
                return w;
            }
            return 1000; /* "1", "1.0", "1.000" (anything larger is invalid: treat as 1) */
        }
        while (p < end && *p != ';')
            p++;
    }
    return 1000;
}

enum encoding encoding_choose(const char *accept, unsigned available)
{
    if (!accept)
        return ENCODING_IDENTITY;
    int q[ENCODING_COUNT] = {-1, -1, -1}, star = -1;
    const char *p = accept;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - tok);
        const char *params = p;
        while (*p && *p != ',')
            p++;
        if (!n)
            continue;
        int w = weight_of(params, p);
        if (n == 1 && *tok == '*')
            star = w;
        else if ((n == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
                 (n == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
            q[ENCODING_GZIP] = w;
        else if (n == 4 && strncasecmp(tok, "zstd", 4) == 0)
            q[ENCODING_ZSTD] = w;
    }
    enum encoding best = ENCODING_IDENTITY;
    int best_q = 0;
    static const enum encoding order[] = {ENCODING_ZSTD, ENCODING_GZIP}; /* preferred first */
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        enum encoding e = order[i];
        int w = q[e] >= 0 ? q[e] : star;
        if ((available & (1u << e)) && w > best_q) {
            best = e;
            best_q = w;
        }
    }
    return best;
}

int encoding_compressible(const char *ct)
{
    if (!ct)
        ct = "text/html"; /* the server's default type */
    static const char *const types[] = {"text/",
                                        "application/json",
                                        "application/xml",
                                        "application/atom+xml",
                                        "application/rss+xml",
                                        "application/javascript",
                                        "application/manifest+json",
                                        "image/svg+xml"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strncasecmp(ct, types[i], strlen(types[i])) == 0)
            return 1;
    return 0;
}

int encoding_worth(const char *ct, size_t len)
{
    return len >= ENCODING_MIN_BYTES && encoding_compressible(ct);
}

static int gzip_of(const char *data, size_t len, char **out, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* windowBits 15 + 16: a gzip wrapper, not zlib's */
    if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        fprintf(stderr, "onefile: out of memory creating a gzip context\n");
        abort();
    }
    size_t cap = deflateBound(&z, (uLong)len);
    char *buf = xmalloc(cap);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END || n >= len) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

static int zstd_of(const char *data, size_t len, char **out, size_t *outlen)
{
    size_t cap = ZSTD_compressBound(len);
    char *buf = xmalloc(cap);
    size_t n = ZSTD_compress(buf, cap, data, len, ZSTD_LEVEL);
    if (ZSTD_isError(n) || n >= len) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

int encoding_compress(enum encoding e, const char *data, size_t len, char **out, size_t *outlen)
{
    if (len > 0xffffffffu) /* zlib's counters are 32-bit; nothing this large is cached */
        return -1;
    switch (e) {
    case ENCODING_GZIP:
        return gzip_of(data, len, out, outlen);
    case ENCODING_ZSTD:
        return zstd_of(data, len, out, outlen);
    default:
        return -1;
    }
}

void encoding_etag(const char *etag, enum encoding e, char *out, size_t outlen)
{
    size_t n = strlen(etag);
    if (e == ENCODING_IDENTITY || n < 2 || etag[n - 1] != '"') {
        snprintf(out, outlen, "%s", etag);
        return;
    }
    snprintf(out, outlen, "%.*s%s\"", (int)(n - 1), etag, suffixes[e]);
}
