/*
 * stream.c - the stream chain, its sinks and the hashing filter; see stream.h.
 */
#include "remote/stream.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"

void stream_init(struct stream *s, stream_write_fn *w, stream_finish_fn *f, stream_free_fn *fr,
                 struct stream *next, char *err, size_t errlen)
{
    s->write = w;
    s->finish = f;
    s->free = fr;
    s->next = next;
    s->err = next ? next->err : err;
    s->errlen = next ? next->errlen : errlen;
    s->failed = 0;
    if (!next && errlen)
        err[0] = '\0';
}

int stream_fail(struct stream *s, const char *fmt, ...)
{
    s->failed = 1;
    if (s->errlen && s->err[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->err, s->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int stream_write(struct stream *s, const void *p, size_t n)
{
    if (s->failed)
        return -1;
    if (n == 0)
        return 0;
    if (s->write(s, p, n) < 0) {
        s->failed = 1;
        return -1;
    }
    return 0;
}

int stream_finish(struct stream *s)
{
    if (s->failed)
        return -1;
    if (s->finish(s) < 0) {
        s->failed = 1;
        return -1;
    }
    return 0;
}

void stream_free(struct stream *s)
{
    while (s) {
        struct stream *next = s->next;
        s->free(s);
        s = next;
    }
}

/* A filter's default finish: nothing buffered, finish the next stage. */
static int finish_next(struct stream *s)
{
    return stream_finish(s->next);
}

static void free_plain(struct stream *s)
{
    free(s);
}

/* --- fd sink --- */

struct fd_sink {
    struct stream s;
    int fd;
    const char *what;
};

static int fd_write(struct stream *s, const uint8_t *p, size_t n)
{
    struct fd_sink *f = (struct fd_sink *)s;
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return stream_fail(s, "writing %s: %s", f->what,
                               w < 0 ? strerror(errno) : "short write");
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fd_finish(struct stream *s)
{
    (void)s;
    return 0;
}

struct stream *stream_fd_new(int fd, const char *what, char *err, size_t errlen)
{
    struct fd_sink *f = xcalloc(1, sizeof(*f));
    stream_init(&f->s, fd_write, fd_finish, free_plain, NULL, err, errlen);
    f->fd = fd;
    f->what = what;
    return &f->s;
}

/* --- buffer sink --- */

struct buf_sink {
    struct stream s;
    struct buf *b;
};

static int buf_write(struct stream *s, const uint8_t *p, size_t n)
{
    struct buf_sink *b = (struct buf_sink *)s;
    if (buf_add(b->b, p, n) < 0)
        return stream_fail(s, "more than %zu bytes", b->b->limit);
    return 0;
}

struct stream *stream_buf_new(struct buf *b, char *err, size_t errlen)
{
    struct buf_sink *bs = xcalloc(1, sizeof(*bs));
    stream_init(&bs->s, buf_write, fd_finish, free_plain, NULL, err, errlen);
    bs->b = b;
    return &bs->s;
}

/* --- null sink --- */

struct null_sink {
    struct stream s;
    uint64_t *count;
};

static int null_write(struct stream *s, const uint8_t *p, size_t n)
{
    (void)p;
    *((struct null_sink *)s)->count += n;
    return 0;
}

struct stream *stream_null_new(uint64_t *count, char *err, size_t errlen)
{
    struct null_sink *ns = xcalloc(1, sizeof(*ns));
    stream_init(&ns->s, null_write, fd_finish, free_plain, NULL, err, errlen);
    ns->count = count;
    *count = 0;
    return &ns->s;
}

/* --- SHA-256 filter --- */

struct hash_filter {
    struct stream s;
    crypto_hash_sha256_state st;
    uint64_t n;
    char *hex;
    uint64_t *bytes;
};

static int hash_write(struct stream *s, const uint8_t *p, size_t n)
{
    struct hash_filter *h = (struct hash_filter *)s;
    crypto_hash_sha256_update(&h->st, p, n);
    h->n += n;
    return stream_write(s->next, p, n);
}

static int hash_finish(struct stream *s)
{
    struct hash_filter *h = (struct hash_filter *)s;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h->st, d);
    sodium_bin2hex(h->hex, 65, d, sizeof(d));
    *h->bytes = h->n;
    return stream_finish(s->next);
}

struct stream *stream_hash_new(char *hex, uint64_t *bytes, struct stream *next)
{
    struct hash_filter *h = xcalloc(1, sizeof(*h));
    stream_init(&h->s, hash_write, hash_finish, free_plain, next, NULL, 0);
    crypto_hash_sha256_init(&h->st);
    h->hex = hex;
    h->bytes = bytes;
    hex[0] = '\0';
    *bytes = 0;
    return &h->s;
}

/* --- size limit filter --- */

struct limit_filter {
    struct stream s;
    uint64_t limit, n;
};

static int limit_write(struct stream *s, const uint8_t *p, size_t n)
{
    struct limit_filter *l = (struct limit_filter *)s;
    l->n += n;
    if (l->n > l->limit)
        return stream_fail(s, "the data exceeds the %llu bytes it should have",
                           (unsigned long long)l->limit);
    return stream_write(s->next, p, n);
}

struct stream *stream_limit_new(uint64_t limit, struct stream *next)
{
    struct limit_filter *l = xcalloc(1, sizeof(*l));
    stream_init(&l->s, limit_write, finish_next, free_plain, next, NULL, 0);
    l->limit = limit;
    return &l->s;
}

/* --- progress filter --- */

struct progress_filter {
    struct stream s;
    stream_progress_fn *fn;
    void *ctx;
    uint64_t done, total;
};

static int progress_write(struct stream *s, const uint8_t *p, size_t n)
{
    struct progress_filter *f = (struct progress_filter *)s;
    f->done += n;
    f->fn(f->ctx, f->done, f->total);
    return stream_write(s->next, p, n);
}

struct stream *stream_progress_new(stream_progress_fn *fn, void *ctx, uint64_t total,
                                   struct stream *next)
{
    struct progress_filter *f = xcalloc(1, sizeof(*f));
    stream_init(&f->s, progress_write, finish_next, free_plain, next, NULL, 0);
    f->fn = fn;
    f->ctx = ctx;
    f->total = total;
    return &f->s;
}

/* --- latch filter --- */

struct latch_filter {
    struct stream s;
    int tripped;
};

static int latch_write(struct stream *s, const uint8_t *p, size_t n)
{
    struct latch_filter *l = (struct latch_filter *)s;
    if (!l->tripped && stream_write(s->next, p, n) < 0)
        l->tripped = 1;
    return 0;
}

static int latch_finish(struct stream *s)
{
    struct latch_filter *l = (struct latch_filter *)s;
    return l->tripped ? -1 : stream_finish(s->next);
}

struct stream *stream_latch_new(struct stream *next)
{
    struct latch_filter *l = xcalloc(1, sizeof(*l));
    stream_init(&l->s, latch_write, latch_finish, free_plain, next, NULL, 0);
    return &l->s;
}
