/*
 * server.h - the HTTP server: libmicrohttpd glue, limits, request log, graceful stop.
 *
 * Lifecycle, driven by src/cmd/serve.c:
 *
 *   server_start()      listen; worker threads (ONEFILE_HTTP_THREADS, each its own poll())
 *      |                accept, parse, call the router's handlers
 *   server_quiesce()    stop accepting (the listening socket is closed); connections
 *      |                already open are served
 *   server_wait_idle()  wait, bounded, until no request is in flight
 *   server_stop()       close every connection and join the threads
 *
 * Limits: every byte a client sends first passes the framing check of http/gate.h
 * (http/framing.h lists what it refuses): the body is capped at ONEFILE_MAX_BODY_BYTES
 * (413 before the body when Content-Length says so, at the chunk line that would pass
 * it when chunked); the request line at 8 KiB (414), a header line at 8 KiB and the
 * head at 12 KiB (431); an idle connection is closed after ONEFILE_CONN_TIMEOUT_S; and a request
 * must arrive whole within ONEFILE_REQUEST_TIMEOUT_S of the connection opening (or of the previous
 * request ending, plus the idle allowance) - a client trickling one header line a second is cut off
 * (the inactivity timeout alone would let it stay for ever). A request with two Content-Length
 * headers, or Content-Length and Transfer-Encoding, is refused with 400 and the connection closed
 * (request smuggling; libmicrohttpd 0.9.75 does not refuse it itself), and so is any other
 * malformed framing.
 *
 * Threads: the start/stop functions from the main thread only.
 *
 * The folder src/http/ owns HTTP: the libmicrohttpd glue, framing, routing, requests and
 * responses, forms, the response cache, /healthz, /readyz and /metrics. It may call core/,
 * db/ and store/; today health.c and metrics.c also call jobs/ and remote/ for their
 * fields (the registries of issue 14's step 4 would remove that).
 */
#ifndef ONEFILE_HTTP_SERVER_H
#define ONEFILE_HTTP_SERVER_H
#include <stddef.h>
#include <stdint.h>

#include "http/gate.h"

struct app;
struct server;

struct server_stats {
    uint64_t requests;         /* completed */
    uint64_t timeouts;         /* connections cut for a request that arrived too slowly */
    uint64_t idle_cuts;        /* new connections cut for sending nothing in time */
    uint64_t rejected;         /* answered before the handler (the gate's and 413) */
    struct gate_stats refused; /* the gate's answers, by status */
    int active;                /* requests in flight */
};

/* Starts listening on the configured address. The server, or NULL with err filled. */
struct server *server_start(struct app *app, char *err, size_t errlen);
void server_quiesce(struct server *s);
/* 0 once no request is in flight, -1 when timeout_ms passed first. */
int server_wait_idle(struct server *s, long timeout_ms);
/* Stops and frees (NULL is fine). */
void server_stop(struct server *s);
void server_get_stats(struct server *s, struct server_stats *st);
#endif
