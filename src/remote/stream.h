/*
 * stream.h - byte streams as a chain of stages, pushed from the top.
 *
 * A backup is one pass over the snapshot: read a block, push it through
 *
 *     compress -> encrypt -> hash -> destination
 *
 * and a restore is the same chain the other way (hash -> decrypt -> decompress -> file).
 * Each stage transforms what it is given and writes the result to the stage after it
 * (`next`), through fixed buffers: memory is bounded by the stages, never by the size of
 * the data. stream_finish() flushes a stage (the compressor's tail, the last encrypted
 * chunk, the digest), then finishes the next one; the destination commits the object only
 * there. stream_free() frees a stage and every stage after it; a destination freed before
 * it finished throws its partial object away (a temporary file removed, a multipart upload
 * aborted), so a failure anywhere in the chain leaves nothing half-stored.
 *
 * Errors: every stage of a chain shares one error buffer, the one given to the last stage
 * (the sink). The first failure writes its message there (stream_fail) and returns -1;
 * stages above pass -1 up without writing again, so the message names the real cause.
 *
 * Threads: a chain belongs to one thread.
 */
#ifndef ONEFILE_REMOTE_STREAM_H
#define ONEFILE_REMOTE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct stream;
typedef int stream_write_fn(struct stream *s, const uint8_t *p, size_t n);
typedef int stream_finish_fn(struct stream *s);
typedef void stream_free_fn(struct stream *s);

/* The common head of every stage; a stage's own struct starts with it. */
struct stream {
    stream_write_fn *write;
    stream_finish_fn *finish; /* flushes this stage, then must finish `next` */
    stream_free_fn *free;     /* frees this stage only (stream_free walks the chain) */
    struct stream *next;      /* owned; NULL for a sink */
    char *err;                /* the chain's error buffer */
    size_t errlen;
    int failed; /* set by stream_fail: later writes are refused */
};

/* Sets up the head of a new stage: a filter in front of next (err taken from it), or a
   sink when next is NULL (err and errlen given). */
void stream_init(struct stream *s, stream_write_fn *w, stream_finish_fn *f, stream_free_fn *fr,
                 struct stream *next, char *err, size_t errlen);

/* Pushes n bytes. 0, or -1 with the chain's error filled. */
int stream_write(struct stream *s, const void *p, size_t n);
/* Flushes and finishes s and everything after it. 0, or -1 with the error filled. */
int stream_finish(struct stream *s);
/* Frees s and every stage after it. NULL is fine. */
void stream_free(struct stream *s);
/* Marks s failed and writes the message into the chain's error buffer unless an earlier
   failure already did. Returns -1. */
int stream_fail(struct stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sink: writes to fd (left open). */
struct stream *stream_fd_new(int fd, const char *what, char *err, size_t errlen);
/* Sink: appends to b, whose limit applies (an overflow is an error). */
struct stream *stream_buf_new(struct buf *b, char *err, size_t errlen);
/* Sink: counts and discards (benchmarks, tests). *count is updated as bytes arrive. */
struct stream *stream_null_new(uint64_t *count, char *err, size_t errlen);

/* Filter: passes everything through unchanged, computing its SHA-256 and length. At
   finish, before next is finished, hex (65 bytes) receives the digest in lower-case hex
   and *bytes the length; both pointers must stay valid until then. */
struct stream *stream_hash_new(char *hex, uint64_t *bytes, struct stream *next);

/* Filter: passes everything through, and fails ("exceeds N bytes") once more than limit
   bytes went by (a decompression bomb, a runaway object). */
struct stream *stream_limit_new(uint64_t limit, struct stream *next);

/* Filter: passes everything to next until next fails; then it swallows the rest of the
   input (writes return 0) so the stages above still see all of it - a hash above it
   still digests the whole object - and finish returns -1 with next's error. */
struct stream *stream_latch_new(struct stream *next);

/* Progress: done bytes of total (0 when unknown). Called often; must be quick. */
typedef void stream_progress_fn(void *ctx, uint64_t done, uint64_t total);
/* Filter: passes everything through, calling fn after each write. */
struct stream *stream_progress_new(stream_progress_fn *fn, void *ctx, uint64_t total,
                                   struct stream *next);
#endif
