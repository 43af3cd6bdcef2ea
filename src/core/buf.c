/* buf.c - growable, optionally capped byte buffer; see buf.h. */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

void buf_init(struct buf *b, size_t limit)
{
    memset(b, 0, sizeof(*b));
    b->limit = limit;
}

void buf_release(struct buf *b)
{
    size_t limit = b->limit;
    free(b->data);
    buf_init(b, limit);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->toobig = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *p = b->data ? b->data : xstrdup("");
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    b->toobig = 0;
    return p;
}

const char *buf_str(const struct buf *b)
{
    return b->data ? b->data : "";
}

static int grow(struct buf *b, size_t extra)
{
    if (b->limit && (extra > b->limit || b->len > b->limit - extra)) {
        b->toobig = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int buf_reserve(struct buf *b, size_t extra)
{
    return grow(b, extra);
}

int buf_add(struct buf *b, const void *data, size_t len)
{
    if (grow(b, len) < 0)
        return -1;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

int buf_addc(struct buf *b, char c)
{
    return buf_add(b, &c, 1);
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
    /* formatted straight into the room there is; only a text that does not fit is
       formatted a second time, after growing */
    size_t room = b->cap - b->len;
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, cp);
    va_end(cp);
    if (n < 0 || grow(b, (size_t)n) < 0) {
        if (room)
            b->data[b->len] = '\0'; /* whatever was formatted is not appended */
        return -1;
    }
    if ((size_t)n >= room)
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int buf_add_html(struct buf *b, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *ent = NULL;
        switch (*s) {
        case '&':
            ent = "&amp;";
            break;
        case '<':
            ent = "&lt;";
            break;
        case '>':
            ent = "&gt;";
            break;
        case '"':
            ent = "&quot;";
            break;
        case '\'':
            ent = "&#39;";
            break;
        default:
            continue;
        }
        if (buf_add(b, run, (size_t)(s - run)) < 0 || buf_adds(b, ent) < 0)
            return -1;
        run = s + 1;
    }
    return buf_add(b, run, (size_t)(s - run));
}
