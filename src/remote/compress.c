/*
 * compress.c - gzip (zlib) and zstd stream filters; see compress.h.
 *
 * Each filter owns one output buffer of OUT_BYTES. A write feeds the codec until it has
 * consumed the input, handing every full output buffer to the next stage; finish drives
 * the codec to its end marker the same way. Nothing grows with the data.
 */
#include "remote/compress.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "core/mem.h"

#define OUT_BYTES (256 * 1024)

/* A codec that cannot allocate its state: like every allocation failure (core/mem.h). */
static void oom(const char *what)
{
    fprintf(stderr, "onefile: out of memory creating a %s context\n", what);
    abort();
}

int compress_parse(const char *name, enum compress_kind *out)
{
    static const struct {
        const char *name;
        enum compress_kind kind;
    } kinds[] = {{"gzip", COMPRESS_GZIP}, {"zstd", COMPRESS_ZSTD}, {"none", COMPRESS_NONE}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i].name, name) == 0) {
            *out = kinds[i].kind;
            return 0;
        }
    }
    return -1;
}

const char *compress_name(enum compress_kind k)
{
    return k == COMPRESS_GZIP ? "gzip" : k == COMPRESS_ZSTD ? "zstd" : "none";
}

const char *compress_suffix(enum compress_kind k)
{
    return k == COMPRESS_GZIP ? ".gz" : k == COMPRESS_ZSTD ? ".zst" : "";
}

int compress_level_check(enum compress_kind k, int level, char *err, size_t errlen)
{
    int max = k == COMPRESS_GZIP ? 9 : k == COMPRESS_ZSTD ? 19 : 0;
    if (level == 0 || (level >= 1 && level <= max))
        return 0;
    if (max == 0)
        snprintf(err, errlen, "no level goes with compression 'none'");
    else
        snprintf(err, errlen, "%s level %d: allowed 1-%d", compress_name(k), level, max);
    return -1;
}

/* --- none: a pass-through --- */

static int pass_write(struct stream *s, const uint8_t *p, size_t n)
{
    return stream_write(s->next, p, n);
}

static int pass_finish(struct stream *s)
{
    return stream_finish(s->next);
}

static void pass_free(struct stream *s)
{
    free(s);
}

static struct stream *pass_new(struct stream *next)
{
    struct stream *s = xcalloc(1, sizeof(*s));
    stream_init(s, pass_write, pass_finish, pass_free, next, NULL, 0);
    return s;
}

/* --- gzip --- */

struct gz {
    struct stream s;
    z_stream z;
    int decode;
    int ended; /* decoder: the end of the gzip member was seen */
    uint8_t out[OUT_BYTES];
};

/* Runs deflate/inflate over the pending input with flush; hands full buffers on. */
static int gz_run(struct gz *g, int flush)
{
    for (;;) {
        g->z.next_out = g->out;
        g->z.avail_out = OUT_BYTES;
        int zr = g->decode ? inflate(&g->z, Z_NO_FLUSH) : deflate(&g->z, flush);
        size_t have = OUT_BYTES - g->z.avail_out;
        if (have && stream_write(g->s.next, g->out, have) < 0)
            return -1;
        if (g->decode) {
            if (zr == Z_STREAM_END) {
                g->ended = 1;
                if (g->z.avail_in > 0)
                    return stream_fail(&g->s, "gzip: trailing data after the end of the stream");
                return 0;
            }
            if (zr == Z_BUF_ERROR && g->z.avail_in == 0)
                return 0; /* needs more input */
            if (zr != Z_OK)
                return stream_fail(&g->s, "gzip: corrupt data (%s)",
                                   g->z.msg ? g->z.msg : zError(zr));
            if (g->z.avail_in == 0 && g->z.avail_out > 0)
                return 0;
            continue;
        }
        if (zr == Z_STREAM_END)
            return 0;
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return stream_fail(&g->s, "gzip: %s", zError(zr));
        if (flush == Z_NO_FLUSH && g->z.avail_in == 0 && g->z.avail_out > 0)
            return 0;
    }
}

static int gz_write(struct stream *s, const uint8_t *p, size_t n)
{
    struct gz *g = (struct gz *)s;
    if (g->decode && g->ended)
        return stream_fail(s, "gzip: trailing data after the end of the stream");
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        g->z.next_in = (Bytef *)(uintptr_t)p;
        g->z.avail_in = chunk;
        if (gz_run(g, Z_NO_FLUSH) < 0)
            return -1;
        p += chunk;
        n -= chunk;
    }
    return 0;
}

static int gz_finish(struct stream *s)
{
    struct gz *g = (struct gz *)s;
    if (g->decode) {
        if (!g->ended)
            return stream_fail(s, "gzip: the stream is truncated (it ends before its end "
                                  "marker)");
    } else {
        g->z.next_in = NULL;
        g->z.avail_in = 0;
        if (gz_run(g, Z_FINISH) < 0)
            return -1;
    }
    return stream_finish(s->next);
}

static void gz_free(struct stream *s)
{
    struct gz *g = (struct gz *)s;
    if (g->decode)
        inflateEnd(&g->z);
    else
        deflateEnd(&g->z);
    free(g);
}

static struct stream *gz_new(int decode, int level, struct stream *next)
{
    struct gz *g = xcalloc(1, sizeof(*g));
    stream_init(&g->s, gz_write, gz_finish, gz_free, next, NULL, 0);
    g->decode = decode;
    /* windowBits 15 + 16: a gzip header and trailer (CRC-32, length), not raw zlib */
    int zr =
        decode ? inflateInit2(&g->z, 15 + 16)
               : deflateInit2(&g->z, level ? level : 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (zr != Z_OK)
        oom("zlib"); /* only Z_MEM_ERROR is possible with valid arguments */
    return &g->s;
}

/* --- zstd --- */

struct zs {
    struct stream s;
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
    size_t frame_left; /* decoder: ZSTD_decompressStream's last hint; 0 at a frame's end */
    int started;
    uint8_t out[OUT_BYTES];
};

static int zs_write(struct stream *s, const uint8_t *p, size_t n)
{
    struct zs *z = (struct zs *)s;
    ZSTD_inBuffer in = {p, n, 0};
    while (in.pos < in.size) {
        ZSTD_outBuffer out = {z->out, OUT_BYTES, 0};
        size_t r;
        if (z->d) {
            if (z->started && z->frame_left == 0)
                return stream_fail(s, "zstd: trailing data after the end of the stream");
            z->started = 1;
            r = ZSTD_decompressStream(z->d, &out, &in);
            if (!ZSTD_isError(r))
                z->frame_left = r;
        } else {
            r = ZSTD_compressStream2(z->c, &out, &in, ZSTD_e_continue);
        }
        if (ZSTD_isError(r))
            return stream_fail(s, "zstd: %s", ZSTD_getErrorName(r));
        if (out.pos && stream_write(s->next, z->out, out.pos) < 0)
            return -1;
    }
    if (z->d && z->frame_left != 0) {
        /* flush what the decoder still holds for this input (not after the frame's end:
           a finished context already hints at the next frame's header) */
        for (;;) {
            ZSTD_outBuffer out = {z->out, OUT_BYTES, 0};
            ZSTD_inBuffer none = {NULL, 0, 0};
            size_t r = ZSTD_decompressStream(z->d, &out, &none);
            if (ZSTD_isError(r))
                return stream_fail(s, "zstd: %s", ZSTD_getErrorName(r));
            z->frame_left = r;
            if (out.pos && stream_write(s->next, z->out, out.pos) < 0)
                return -1;
            if (out.pos < OUT_BYTES)
                break;
        }
    }
    return 0;
}

static int zs_finish(struct stream *s)
{
    struct zs *z = (struct zs *)s;
    if (z->d) {
        if (!z->started || z->frame_left != 0)
            return stream_fail(s, "zstd: the stream is truncated (it ends inside a frame)");
        return stream_finish(s->next);
    }
    size_t left;
    do {
        ZSTD_outBuffer out = {z->out, OUT_BYTES, 0};
        ZSTD_inBuffer in = {NULL, 0, 0};
        left = ZSTD_compressStream2(z->c, &out, &in, ZSTD_e_end);
        if (ZSTD_isError(left))
            return stream_fail(s, "zstd: %s", ZSTD_getErrorName(left));
        if (out.pos && stream_write(s->next, z->out, out.pos) < 0)
            return -1;
    } while (left != 0);
    return stream_finish(s->next);
}

static void zs_free(struct stream *s)
{
    struct zs *z = (struct zs *)s;
    ZSTD_freeCCtx(z->c);
    ZSTD_freeDCtx(z->d);
    free(z);
}

static struct stream *zs_new(int decode, int level, struct stream *next)
{
    struct zs *z = xcalloc(1, sizeof(*z));
    stream_init(&z->s, zs_write, zs_finish, zs_free, next, NULL, 0);
    if (decode) {
        z->d = ZSTD_createDCtx();
        if (!z->d)
            oom("zstd");
        z->frame_left = 1;
    } else {
        z->c = ZSTD_createCCtx();
        if (!z->c)
            oom("zstd");
        ZSTD_CCtx_setParameter(z->c, ZSTD_c_compressionLevel, level ? level : 3);
        ZSTD_CCtx_setParameter(z->c, ZSTD_c_checksumFlag, 1);
    }
    return &z->s;
}

struct stream *compress_encoder_new(enum compress_kind k, int level, struct stream *next)
{
    return k == COMPRESS_GZIP   ? gz_new(0, level, next)
           : k == COMPRESS_ZSTD ? zs_new(0, level, next)
                                : pass_new(next);
}

struct stream *compress_decoder_new(enum compress_kind k, struct stream *next)
{
    return k == COMPRESS_GZIP   ? gz_new(1, 0, next)
           : k == COMPRESS_ZSTD ? zs_new(1, 0, next)
                                : pass_new(next);
}
