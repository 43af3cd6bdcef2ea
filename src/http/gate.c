/*
 * gate.c - the recv() in front of libmicrohttpd; see gate.h for why and how.
 *
 * The table `conns` maps a descriptor to its struct gate_conn while the connection is
 * open (attach in libmicrohttpd's STARTED notification, detach in CLOSED, both before
 * the descriptor can be reused). recv() on any other descriptor costs one atomic load.
 *
 * Invariant: bytes are passed to libmicrohttpd only while the framing check accepts
 * them, so libmicrohttpd never parses (and never answers, with its broken error
 * responses) a malformed request; an answer of ours is written only while
 * libmicrohttpd has nothing of its own to send on the connection.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "core/log.h"
#include "http/gate.h"

typedef ssize_t (*recv_fn)(int, void *, size_t, int);

static _Atomic(struct gate_conn *) conns[GATE_MAX_FD];
static _Atomic(recv_fn) next_recv;
static atomic_uint_fast64_t counts[7]; /* 400 413 414 431 501 505 other */
static struct log_limit refused_log = LOG_LIMIT_INIT(10);

static recv_fn next(void)
{
    recv_fn fn = atomic_load_explicit(&next_recv, memory_order_acquire);
    if (!fn) {
        fn = (recv_fn)dlsym(RTLD_NEXT, "recv");
        atomic_store_explicit(&next_recv, fn, memory_order_release);
    }
    return fn;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

static const char *code_name(int status)
{
    switch (status) {
    case 413:
        return "payload_too_large";
    case 414:
        return "uri_too_long";
    case 431:
        return "header_too_large";
    case 501:
        return "not_implemented";
    case 503:
        return "unavailable";
    case 505:
        return "version_not_supported";
    default:
        return "bad_request";
    }
}

static void count(int status)
{
    int i = status == 400   ? 0
            : status == 413 ? 1
            : status == 414 ? 2
            : status == 431 ? 3
            : status == 501 ? 4
            : status == 505 ? 5
                            : 6;
    atomic_fetch_add(&counts[i], 1);
}

static void log_refused(int fd, int status, const char *message)
{
    char ip[INET6_ADDRSTRLEN] = "unknown";
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
    }
    log_event_limited(
        &refused_log, LOG_WARN, "request refused, connection closed",
        json_pack("{s:i,s:s,s:s}", "status", status, "reason", message, "client", ip));
}

void gate_answer(int fd, int status, const char *message)
{
    char date[64], head[512], body[320];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    /* the messages are ours (framing.c): no character needs escaping in JSON */
    int blen = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n",
                        code_name(status), message);
    if (blen < 0 || (size_t)blen >= sizeof(body))
        blen = 0;
    int hlen = snprintf(head, sizeof(head),
                        "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\nConnection: close\r\n"
                        "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n\r\n",
                        status, reason_phrase(status), date, blen);
    if (hlen < 0 || (size_t)hlen >= sizeof(head))
        return;
    struct iovec iov[2] = {{head, (size_t)hlen}, {body, (size_t)blen}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    /* a few hundred bytes into an empty send buffer: one call, never blocks */
    (void)sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    count(status);
    log_refused(fd, status, message);
}

static void answer_now(struct gate_conn *g)
{
    gate_answer(g->fd, g->f.status, g->f.reason ? g->f.reason : "Malformed request.");
    g->pending = 0;
    g->closed = 1;
    /* our answer, then FIN; libmicrohttpd reads end of stream and closes */
    shutdown(g->fd, SHUT_WR);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    ssize_t n = next()(fd, buf, len, flags);
    if (fd < 0 || fd >= GATE_MAX_FD || (flags & MSG_PEEK))
        return n;
    struct gate_conn *g = atomic_load_explicit(&conns[fd], memory_order_acquire);
    if (!g)
        return n;
    if (g->closed)
        return 0;
    if (g->pending) { /* libmicrohttpd reads again: every earlier request is answered */
        answer_now(g);
        return 0;
    }
    if (n <= 0)
        return n;
    if (!atomic_load_explicit(&g->got_bytes, memory_order_relaxed))
        atomic_store_explicit(&g->got_bytes, 1, memory_order_relaxed);
    size_t good;
    if (framing_feed(&g->f, buf, (size_t)n, &good) == 0)
        return n;
    if (good == 0) { /* libmicrohttpd is reading this very request */
        answer_now(g);
        return 0;
    }
    g->pending = 1;
    g->before = g->f.requests - 1;
    return (ssize_t)good;
}

int gate_attach(struct gate_conn *g, int fd, const struct framing_limits *lim)
{
    memset(g, 0, sizeof(*g));
    g->fd = fd;
    if (fd < 0 || fd >= GATE_MAX_FD)
        return -1;
    framing_init(&g->f, lim);
    atomic_store_explicit(&conns[fd], g, memory_order_release);
    return 0;
}

void gate_detach(struct gate_conn *g)
{
    if (g->fd >= 0 && g->fd < GATE_MAX_FD)
        atomic_store_explicit(&conns[g->fd], NULL, memory_order_release);
}

void gate_completed(struct gate_conn *g)
{
    g->completed++;
    if (g->pending && g->completed >= g->before) {
        answer_now(g);
        /* libmicrohttpd waits for the next request: make it read (end of stream) */
        shutdown(g->fd, SHUT_RD);
    }
}

int gate_check(char *err, size_t errlen)
{
    recv_fn seen = (recv_fn)dlsym(RTLD_DEFAULT, "recv");
    if (next() && seen == recv)
        return 0;
    snprintf(err, errlen,
             "the HTTP request gate is not in front of libmicrohttpd's recv() "
             "(the binary must be linked dynamically, without -Bsymbolic)");
    return -1;
}

void gate_get_stats(struct gate_stats *st)
{
    st->s400 = atomic_load(&counts[0]);
    st->s413 = atomic_load(&counts[1]);
    st->s414 = atomic_load(&counts[2]);
    st->s431 = atomic_load(&counts[3]);
    st->s501 = atomic_load(&counts[4]);
    st->s505 = atomic_load(&counts[5]);
    st->other = atomic_load(&counts[6]);
}
