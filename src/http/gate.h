/*
 * gate.h - every byte a client sends passes http/framing.c before libmicrohttpd sees it;
 * a request that breaks the framing gets one clean answer of ours and the connection
 * is closed.
 *
 * libmicrohttpd 0.9.75 has no hook between its recv() and its parser, and its own error
 * answers are broken (two status lines for a malformed Content-Length, a silent close
 * when its pool runs out). So this module defines recv(): the process's recv calls bind
 * to it (the executable comes first in symbol lookup), it calls the next recv
 * (dlsym RTLD_NEXT: libc, or the sanitizer's interceptor) and, for a descriptor attached
 * here, feeds what was read to the connection's framing check:
 *
 *   well-formed      passed on unchanged
 *   broken request   the bytes before it are passed on; the answer (status, JSON error,
 *                    Connection: close) is written straight to the socket as soon as
 *                    every earlier request on the connection has been answered - at once
 *                    when libmicrohttpd is reading this very request (it reads only
 *                    between answers), else when the last earlier one completes
 *                    (gate_completed) - then libmicrohttpd reads end of stream and
 *                    closes the connection.
 *
 * Descriptors of other sockets (libcurl's) pass straight through. gate_check() proves at
 * start-up that libmicrohttpd's recv really is this one.
 *
 * Threads: a struct gate_conn belongs to its connection's worker thread (attach, recv,
 * completed, detach all happen there); the descriptor table is atomic; the counters are
 * atomic.
 */
#ifndef ONEFILE_HTTP_GATE_H
#define ONEFILE_HTTP_GATE_H
#include <stddef.h>
#include <stdint.h>

#include "http/framing.h"

#define GATE_MAX_FD 65536 /* connections on higher descriptors are refused */

struct gate_conn {
    struct framing f;
    int fd;
    int pending;           /* a status to answer once `before` requests completed */
    int closed;            /* answered: libmicrohttpd reads end of stream from now on */
    _Atomic int got_bytes; /* the client sent something (read by the sweeper) */
    uint64_t before, completed;
};

/* Attaches a new connection's descriptor. 0, or -1 when fd >= GATE_MAX_FD. */
int gate_attach(struct gate_conn *g, int fd, const struct framing_limits *lim);
/* Detaches it (before libmicrohttpd closes the descriptor). */
void gate_detach(struct gate_conn *g);
/* libmicrohttpd finished a request on the connection (its completed callback). */
void gate_completed(struct gate_conn *g);

/* Writes a whole answer of ours (status, JSON error body, Connection: close) on fd and
   counts it; for answers given before libmicrohttpd parses a request. */
void gate_answer(int fd, int status, const char *message);

/* 0 when this module's recv() is the one libmicrohttpd calls; -1 with err filled. */
int gate_check(char *err, size_t errlen);

/* Answers given by the gate, by status (400, 413, 414, 431, 501, 505, other). */
struct gate_stats {
    uint64_t s400, s413, s414, s431, s501, s505, other;
};
void gate_get_stats(struct gate_stats *st);
#endif
