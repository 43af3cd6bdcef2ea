/*
 * framing.h - a strict, streaming check of HTTP/1.1 request framing (RFC 9112), fed the
 * raw bytes a client sends, before libmicrohttpd parses them.
 *
 * libmicrohttpd 0.9.75 is lenient where the RFC says "MUST reject" (whitespace before a
 * header's colon, bare CR and NUL in values, obs-fold joined without a space, HTTP/1.1
 * without Host), reads a chunked body past any cap, and answers a malformed
 * Content-Length with two status lines. This module decides instead: one request at a
 * time it follows the request line, each field line and the body (Content-Length bytes,
 * or chunk lines, chunk data and trailers) and stops at the first byte that breaks the
 * grammar or a limit, with the status to answer:
 *
 *   400  grammar: method, target, spacing, header names (whitespace before the colon),
 *        control characters (CR, NUL, ...) in values, obs-fold, an absent or repeated
 *        Host on HTTP/1.1, repeated or malformed Content-Length, Content-Length with
 *        Transfer-Encoding, Transfer-Encoding on HTTP/1.0, chunk lines (hex digits only,
 *        CRLF only), "%00" in the path
 *   413  a body (announced, or chunks so far) over max_body - at the chunk line that
 *        would pass it, before its data
 *   414  a request line over max_line, or more than max_params query parameters
 *   431  a field line over max_field, a head over max_head, more than max_fields
 *        fields or more than max_cookies cookie pairs
 *   501  a Transfer-Encoding other than "chunked" (RFC 9112 6.1)
 *   505  an HTTP major version other than 1 (1.2-1.9 are read as 1.1, RFC 9110 2.5)
 *
 * Accepted leniencies, as nginx and h2o accept them: bare LF ending a head line (RFC 9112
 * 2.2 "MAY"), empty lines before a request line (2.2 "SHOULD ignore"), bytes >= 0x80 in
 * the target and in values (obs-text).
 *
 * The struct is plain data (no allocation); framing_init() resets it. Threads: a struct
 * belongs to one connection, fed by the thread that reads that connection.
 */
#ifndef ONEFILE_HTTP_FRAMING_H
#define ONEFILE_HTTP_FRAMING_H
#include <stddef.h>
#include <stdint.h>

struct framing_limits {
    size_t max_line;      /* request line bytes (414 beyond) */
    size_t max_field;     /* one field line, name and value (431) */
    size_t max_head;      /* request line and fields together (431) */
    unsigned max_fields;  /* field lines per head (431) */
    unsigned max_params;  /* query parameters ('&'-separated) (414) */
    unsigned max_cookies; /* cookie pairs over all Cookie fields (431) */
    uint64_t max_body;    /* body bytes, announced or chunked (413) */
    uint64_t max_upload;  /* the same for a path upload_path accepts (may be NULL) */
    int (*upload_path)(const char *path); /* http/upload.h's, given by the server */
};

struct framing {
    const struct framing_limits *lim;
    int state, after_cr; /* where the parser is; where an LF after a CR leads */
    int status;          /* 0, or the answer once the stream broke (sticky) */
    const char *reason;  /* why, for the log and the answer's message */
    uint64_t requests;   /* request lines begun on this connection */
    /* the request being read */
    size_t line_len, head_len, blank;
    unsigned fields, params, cookies, method_len;
    int version, in_query, pct, in_trailer;
    int hosts, cls, tes, te_bad, cl_bad, cl_digits, host_ws, val_ws, val_seen;
    uint64_t cl, body_left, body_total;
    unsigned chunk_digits, ext_len;
    char name[20]; /* the current field name, lower case, if short */
    unsigned name_len;
    int field; /* which field that is (FIELD_* in framing.c) */
    char ver[10];
    unsigned ver_len;
    char te[10];
    unsigned te_len;
    char path[24]; /* the start of the target's path, NUL-terminated (for upload_path) */
    unsigned path_len;
    int path_long; /* the path did not fit in `path` */
};

void framing_init(struct framing *f, const struct framing_limits *lim);

/* Feeds the next n bytes the client sent. Returns 0 while the stream is well-formed (a
   request may be incomplete); otherwise the status to answer (f->status, f->reason set;
   every later call returns it too). *good is set to how many of these n bytes can be
   passed on: all n on success; on failure, the bytes before the first byte of the
   offending request (0 when it began in an earlier feed). */
int framing_feed(struct framing *f, const unsigned char *p, size_t n, size_t *good);

/* Whether the parser is between requests (nothing of a next request seen yet). */
int framing_idle(const struct framing *f);
#endif
