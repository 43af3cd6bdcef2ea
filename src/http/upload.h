/*
 * upload.h - a request body streamed to a temporary file instead of memory: for the few
 * routes that take files (upload_path()), so a 20 MiB upload never sits whole in memory.
 *
 * The server (http/server.c) creates the sink when the headers of a POST to such a path
 * are in, feeds it every body chunk, and finishes it before the handler runs; the handler
 * finds it in r->upload. Two body shapes:
 *
 *   multipart/form-data     parsed by libmicrohttpd's post processor: the part named
 *                           `file` goes to the file (one such part only), with the part's
 *                           filename; other fields (a CSRF token) are kept when short
 *   anything else           the raw body is the file; ?filename= names it
 *
 * Bounds: file bytes over `max` set `toobig` (the server answers 413 and the rest of the
 * body is discarded); at most UPLOAD_MAX_FIELDS fields of UPLOAD_FIELD_MAX bytes each.
 * The temporary file is unlinked at once (O_TMPFILE in $TMPDIR or /tmp): nothing is left
 * behind by a crash. Threads: a sink belongs to its request's worker thread.
 */
#ifndef ONEFILE_HTTP_UPLOAD_H
#define ONEFILE_HTTP_UPLOAD_H
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;

#define UPLOAD_MAX_FIELDS 4
#define UPLOAD_FIELD_MAX 256
#define UPLOAD_NAME_MAX 256

struct upload {
    int fd;        /* the file's bytes, from offset 0 */
    uint64_t size; /* bytes of the file */
    uint64_t max;
    int toobig;      /* the file went over max */
    int bad;         /* malformed: a second file part, a field too long... */
    const char *why; /* with bad: a literal, for the 400 */
    int multipart;
    int file_parts;                 /* parts named `file` seen */
    char filename[UPLOAD_NAME_MAX]; /* as the client sent it (not to be trusted) */
    char fields[UPLOAD_MAX_FIELDS][2][UPLOAD_FIELD_MAX];
    int nfields;
    struct MHD_PostProcessor *pp;
};

/* Whether POST to path streams its body through a sink. */
int upload_path(const char *path);
/* A sink for the request on conn; NULL (logged) when no temporary file can be made. */
struct upload *upload_new(struct MHD_Connection *conn, uint64_t max);
/* Feeds body bytes. */
void upload_feed(struct upload *u, const char *data, size_t len);
/* The body is complete: flushes the parser. 0, or -1 (u->bad set). */
int upload_finish(struct upload *u);
/* A short field's value (multipart), or NULL. */
const char *upload_field(const struct upload *u, const char *name);
/* A new unlinked temporary file open for reading and writing, or -1 (errno set). */
int upload_tmpfile(void);
/* Closes the file and frees; NULL is fine. */
void upload_free(struct upload *u);
#endif
