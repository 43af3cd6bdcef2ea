/*
 * buf.h - a growable byte buffer, always NUL-terminated, with an optional size limit.
 *
 * Modelled on git's strbuf and curl's dynbuf: `struct buf b = BUF_INIT;` is a valid empty
 * buffer. Growth driven by outside input is capped: when `limit` is non-zero, an append
 * that would make len exceed it appends nothing, sets `toobig` and returns -1 (a hostile
 * body becomes a 413, not a 2 GB allocation). Other allocation failure aborts (mem.h).
 * Not thread-safe; a buffer belongs to one thread at a time.
 */
#ifndef ONEFILE_CORE_BUF_H
#define ONEFILE_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;   /* NUL-terminated; never NULL after the first append (see buf_str) */
    size_t len;   /* bytes used, excluding the NUL */
    size_t cap;   /* bytes allocated */
    size_t limit; /* 0 = unlimited */
    int toobig;   /* set once an append hit the limit */
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        0                                                                                          \
    }

/* Starts an empty buffer that refuses to grow past limit bytes (0 = no limit). */
void buf_init(struct buf *b, size_t limit);
/* Frees the memory and leaves an empty buffer with the same limit. */
void buf_release(struct buf *b);
/* Empties without freeing. */
void buf_reset(struct buf *b);
/* Returns the data (malloc'ed, caller frees) and leaves the buffer empty. */
char *buf_detach(struct buf *b, size_t *len);
/* The contents as a C string; "" for a buffer that never grew. Valid until next change. */
const char *buf_str(const struct buf *b);

/* Makes room for extra more bytes in one allocation, when the size is known ahead. 0, or -1
   when that would exceed the limit (nothing changes). */
int buf_reserve(struct buf *b, size_t extra);
/* Appends; 0 on success, -1 when the limit would be exceeded (nothing appended). */
int buf_add(struct buf *b, const void *data, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends s with &<>"' replaced by HTML entities. */
int buf_add_html(struct buf *b, const char *s);

#endif
