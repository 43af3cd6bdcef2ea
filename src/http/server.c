/*
 * server.c - libmicrohttpd glue; see server.h for the lifecycle and the limits.
 *
 * A request goes through the access handler several times:
 *
 *   (before)      http/gate.c checked the framing of the bytes libmicrohttpd parses:
 *                 smuggling, malformed heads and bodies over the cap were answered
 *                 there (400/413/414/431/501/505) and never reach this file
 *   first call    headers are in: allocate struct request, return MHD_YES and queue
 *                 nothing - a response queued in the first call makes libmicrohttpd
 *                 0.9.75 close the connection (no keep-alive, ~5x slower)
 *   body calls    append to request.body (capped as well, though the gate already
 *                 refused a body over the cap)
 *   last call     body complete: route, run the handler, queue its response
 *   completed     (notify_completed) log the request line, free everything it allocated
 *
 * Slow requests: every connection is tracked from accept (notify_connection) in a list
 * with a deadline; while a request is being received, the deadline is "first byte +
 * ONEFILE_REQUEST_TIMEOUT_S". A sweeper thread shuts down the socket of any connection past
 * its deadline; libmicrohttpd then sees the end of the stream and frees the connection.
 * The list is only changed under `mu`, and a connection is removed from it in the
 * CLOSED notification, before libmicrohttpd closes its socket: so the sweeper never
 * shuts down a descriptor that was already reused.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "http/app.h"
#include "http/gate.h"
#include "http/httpdate.h"
#include "http/metrics.h"
#include "http/request.h"
#include "http/server.h"
#include "http/upload.h"

#define CONN_MEMORY_LIMIT (32 * 1024) /* MHD clears it per request: larger is slower */
#define SWEEP_INTERVAL_MS 200
#define WORKER_NICE 3

struct tracked {
    struct tracked *prev, *next;
    int fd;
    int64_t deadline_us;   /* INT64_MAX while a handler runs or a response is sent */
    int64_t first_byte_us; /* the first byte must have come by then */
    int cut;               /* the sweeper shut it down */
    struct request *spare; /* the last request's struct, for the next one on this connection */
    struct gate_conn gate; /* the framing check of what the client sends (http/gate.h) */
};

struct server {
    struct MHD_Daemon *d;
    struct app *app;
    int64_t request_timeout_us, idle_timeout_us, first_byte_timeout_us;
    struct framing_limits limits;

    pthread_mutex_t mu; /* guards the list below and `stopping` */
    pthread_cond_t cv;
    struct tracked head; /* circular list of open connections */
    int stopping;
    pthread_t sweeper;

    atomic_int active;
    atomic_uint_fast64_t requests, timeouts, rejected, idle_cuts;
};

/* Connections cut or closed by their clients are ordinary on the Internet and come in
   floods under attack: their lines are rate-limited (the counters in /metrics are not). */
static struct log_limit mhd_log_limit = LOG_LIMIT_INIT(10);
static struct log_limit cut_log_limit = LOG_LIMIT_INIT(10);

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_event_limited(&mhd_log_limit, LOG_WARN, "libmicrohttpd", json_pack("{s:s}", "detail", msg));
}

/* ---- connection tracking and the sweeper ---- */

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
    struct server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct tracked *t = xcalloc(1, sizeof(*t));
        t->fd = ci ? ci->connect_fd : -1;
        t->deadline_us = clock_mono_us() + s->request_timeout_us;
        t->first_byte_us = clock_mono_us() + s->first_byte_timeout_us;
        if (gate_attach(&t->gate, t->fd, &s->limits) != 0)
            shutdown(t->fd, SHUT_RDWR); /* a descriptor the gate cannot watch */
        pthread_mutex_lock(&s->mu);
        t->next = s->head.next;
        t->prev = &s->head;
        s->head.next->prev = t;
        s->head.next = t;
        pthread_mutex_unlock(&s->mu);
        *socket_context = t;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        struct tracked *t = *socket_context;
        pthread_mutex_lock(&s->mu);
        t->prev->next = t->next;
        t->next->prev = t->prev;
        pthread_mutex_unlock(&s->mu);
        gate_detach(&t->gate);
        free(t->spare);
        free(t);
        *socket_context = NULL;
    }
}

static struct tracked *tracked_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void set_deadline(struct server *s, struct MHD_Connection *c, int64_t deadline_us)
{
    struct tracked *t = tracked_of(c);
    if (!t)
        return;
    pthread_mutex_lock(&s->mu);
    t->deadline_us = deadline_us;
    pthread_mutex_unlock(&s->mu);
}

static void *sweeper_main(void *arg)
{
    struct server *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += SWEEP_INTERVAL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        int64_t now = clock_mono_us();
        for (struct tracked *t = s->head.next; t != &s->head; t = t->next) {
            if (t->cut || t->fd < 0)
                continue;
            /* a connection that sends nothing is cut sooner than a slow request (nginx's
               client_header_timeout, h2o's http1-request-timeout) */
            if (t->first_byte_us <= now && !atomic_load(&t->gate.got_bytes)) {
                t->cut = 1;
                shutdown(t->fd, SHUT_RDWR);
                atomic_fetch_add(&s->idle_cuts, 1);
                log_event_limited(&cut_log_limit, LOG_WARN,
                                  "nothing sent on a new connection, connection closed",
                                  json_pack("{s:I}", "first_byte_timeout_s",
                                            (json_int_t)(s->first_byte_timeout_us / 1000000)));
                continue;
            }
            if (t->deadline_us > now)
                continue;
            t->cut = 1;
            shutdown(t->fd, SHUT_RDWR);
            atomic_fetch_add(&s->timeouts, 1);
            log_event_limited(&cut_log_limit, LOG_WARN,
                              "request took too long to arrive, connection closed",
                              json_pack("{s:I}", "request_timeout_s",
                                        (json_int_t)(s->request_timeout_us / 1000000)));
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- requests ---- */

/* Whether an If-None-Match header value lists etag (or is "*"). */
static int etag_matches(const char *header, const char *etag)
{
    if (!header)
        return 0;
    if (strcmp(header, "*") == 0)
        return 1;
    size_t n = strlen(etag);
    for (const char *p = header; (p = strstr(p, etag)) != NULL; p += n)
        if (p == header || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/')
            return 1;
    return 0;
}

/* Whether a GET/HEAD request's validators say the client's copy is current (RFC 9110
   13.2.2): If-None-Match against the ETag when sent (then If-Modified-Since is ignored),
   else If-Modified-Since against a Last-Modified the response carries. */
static int not_modified(struct request *r, const char *etag)
{
    const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
    if (inm)
        return etag_matches(inm, etag);
    const char *ims = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-Modified-Since");
    time_t since, modified;
    if (!ims || httpdate_parse(ims, &since) != 0)
        return 0;
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i][0], "Last-Modified") == 0)
            return httpdate_parse(r->headers[i][1], &modified) == 0 && modified <= since;
    return 0;
}

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' https: data:; object-src 'none'; base-uri 'self'; "
                          "form-action 'self'; frame-ancestors 'none'";

static enum MHD_Result queue(struct request *r)
{
    char etag[24] = "";
    int conditional = r->status == 200 && !r->no_etag &&
                      (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0);
    if (conditional) {
        for (int i = 0; i < r->nheaders; i++)
            if (strcasecmp(r->headers[i][0], "ETag") == 0)
                snprintf(etag, sizeof(etag), "%s", r->headers[i][1]), conditional = 0;
        if (conditional) {
            request_etag(r->out.data ? r->out.data : "", r->out.len, etag);
            request_set_header(r, "ETag", etag);
        }
        if (not_modified(r, etag)) {
            r->status = 304;
            buf_reset(&r->out);
        }
    }
    size_t len;
    struct MHD_Response *resp;
    if (r->has_pipe) { /* a streamed download of unknown length (chunked) */
        r->has_pipe = 0;
        resp = MHD_create_response_from_pipe(r->pipe_fd);
        if (!resp) {
            close(r->pipe_fd);
            return MHD_NO;
        }
        r->bytes_sent = 0;
    } else if (r->has_file) { /* a download: libmicrohttpd sends the file and closes it */
        r->has_file = 0;
        resp = MHD_create_response_from_fd64(r->file_size, r->file_fd);
        if (!resp) {
            close(r->file_fd);
            return MHD_NO;
        }
        r->bytes_sent = (size_t)r->file_size;
    } else {
        char *data = buf_detach(&r->out, &len);
        resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
            free(data);
            return MHD_NO;
        }
        r->bytes_sent = len;
    }
    if (r->status != 204 && r->status != 304)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                r->content_type ? r->content_type : "text/html; charset=utf-8");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "Referrer-Policy", "strict-origin-when-cross-origin");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    for (int i = 0; i < r->nheaders; i++)
        if (r->status != 304 || strcasecmp(r->headers[i][0], "Content-Encoding") != 0)
            MHD_add_response_header(resp, r->headers[i][0], r->headers[i][1]);
    if (r->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned int)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Answers before the handler (and before the body): 400/413, connection closed. */
static enum MHD_Result refuse(struct server *s, struct request *r, int status, const char *msg)
{
    atomic_fetch_add(&s->rejected, 1);
    r->close = 1;
    r->status = request_error(r, status, msg);
    return queue(r);
}

static void dispatch(struct server *s, struct request *r)
{
    char allow[128];
    switch (router_match(&s->app->router, r->method, r->path, &r->match, allow, sizeof(allow))) {
    case ROUTER_FOUND:
        r->route = r->match.route->name;
        r->status = r->match.route->fn(r);
        break;
    case ROUTER_NO_METHOD:
        request_set_header(r, "Allow", allow);
        r->status = request_error(r, 405, "This address does not accept that method.");
        break;
    case ROUTER_NOT_FOUND:
        r->status = request_error(r, 404, "There is nothing at this address.");
        break;
    }
}

/* HTTP workers run one notch nicer than the writer: when the CPU is short, the one thread
   every write waits for is scheduled first (raising one's own nice value needs no
   privilege; the writer keeps the process's default). */
static void worker_nice(void)
{
    static _Thread_local int done;
    if (!done) {
        done = 1;
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WORKER_NICE);
    }
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *c, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    (void)version;
    struct server *s = cls;
    struct request *r = *con_cls;
    if (!r) {
        worker_nice();
        /* a keep-alive connection reuses its last request's struct (3 KB: calloc'ing it
           took glibc's slow path and a fastbin consolidation per request) */
        struct tracked *t = tracked_of(c);
        if (t && t->spare) {
            r = t->spare;
            t->spare = NULL;
            memset(r, 0, sizeof(*r));
        } else {
            r = xcalloc(1, sizeof(*r));
        }
        r->conn = c;
        r->app = s->app;
        r->method = method;
        r->path = url;
        r->route = "-";
        r->started_us = clock_mono_us();
        buf_init(&r->body, (size_t)s->app->cfg->max_body_bytes);
        *con_cls = r;
        atomic_fetch_add(&s->active, 1);
        /* the framing (Content-Length, chunks, the body cap, Host, ...) was checked by
           the gate before libmicrohttpd parsed it: see http/gate.h */
        request_note_proxy_headers(r);
        if (strcmp(method, "POST") == 0 && upload_path(url)) {
            r->upload = upload_new(c, (uint64_t)s->app->cfg->max_upload_bytes);
            if (!r->upload)
                return refuse(s, r, 503, "The upload cannot be stored now.");
        }
        return MHD_YES;
    }
    if (*upload_data_size && r->upload) {
        upload_feed(r->upload, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->body.toobig)
            buf_add(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->then) { /* resumed: its deferred write is done, the handler finishes */
        int (*then)(struct request *, int, const char *) = r->then;
        r->then = NULL;
        r->status = then(r, r->deferred_rc, r->deferred_err);
        return queue(r);
    }
    if (r->status || r->dispatched) /* already answered (refused), or waiting */
        return MHD_YES;
    if (r->body.toobig)
        return refuse(s, r, 413, "The request body is too large.");
    if (r->upload && (upload_finish(r->upload), r->upload->toobig)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "The file is larger than the upload limit (%ld bytes).",
                 s->app->cfg->max_upload_bytes);
        return refuse(s, r, 413, msg);
    }
    /* the whole request is in: the handler and the response are not "receiving" */
    set_deadline(s, c, INT64_MAX);
    r->dispatched = 1;
    dispatch(s, r);
    if (r->status == REQUEST_DEFERRED)
        return MHD_YES; /* suspended until the writer resumes it */
    return queue(r);
}

/* A JSON string of s, which comes from the client and may not be UTF-8. */
static json_t *client_string(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_string("(not UTF-8)");
}

static void notify_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                             enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct request *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    /* the next request on this connection: idle allowance, then its own receive time */
    set_deadline(s, c, clock_mono_us() + s->idle_timeout_us + s->request_timeout_us);
    int64_t us = clock_mono_us() - r->started_us;
    if (log_enabled(LOG_INFO)) {
        json_t *f =
            json_pack("{s:o,s:o,s:s,s:i,s:I,s:f}", "method", client_string(r->method), "path",
                      client_string(r->path), "route", r->route, "status", r->status, "bytes",
                      (json_int_t)r->bytes_sent, "duration_ms", (double)us / 1000.0);
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            json_object_set_new(f, "terminated", json_integer(toe));
        log_event(LOG_INFO, "request", f);
    }
    metrics_http_observe(r->method, r->route, r->status, (double)us / 1e6);
    atomic_fetch_add(&s->requests, 1);
    for (int i = 0; i < r->nheaders; i++) {
        free(r->headers[i][0]);
        free(r->headers[i][1]);
    }
    if (r->state_free)
        r->state_free(r->state);
    if (r->has_file) /* never sent */
        close(r->file_fd);
    if (r->has_pipe)
        close(r->pipe_fd);
    upload_free(r->upload);
    buf_release(&r->body);
    buf_release(&r->out);
    struct tracked *t = tracked_of(c);
    if (t)
        gate_completed(&t->gate);
    if (t && !t->spare)
        t->spare = r;
    else
        free(r);
    atomic_fetch_sub(&s->active, 1);
}

/* ---- lifecycle ---- */

struct server *server_start(struct app *app, char *err, size_t errlen)
{
    const struct config *cfg = app->cfg;
    struct server *s = xcalloc(1, sizeof(*s));
    struct sockaddr_storage ss;
    /* poll(), not epoll: a deferred write suspends its connection and the writer resumes
       it, and with epoll libmicrohttpd takes the socket out of the set and puts it back
       (two epoll_ctl per request) and, edge-triggered, reads until EAGAIN (one more recv).
       poll() over a worker's share of the connections costs neither: 5 syscalls per API
       write instead of 8, about 7% more writes/s (bench/site_http.py). */
    unsigned int flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    memset(&ss, 0, sizeof(ss));
    if (strchr(cfg->listen_host, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)cfg->listen_port);
        if (inet_pton(AF_INET6, cfg->listen_host, &a6->sin6_addr) != 1)
            goto bad_addr;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)cfg->listen_port);
        if (inet_pton(AF_INET, cfg->listen_host, &a4->sin_addr) != 1)
            goto bad_addr;
    }
    if (gate_check(err, errlen) != 0) {
        free(s);
        return NULL;
    }
    s->app = app;
    s->request_timeout_us = cfg->request_timeout_s * 1000000LL;
    s->idle_timeout_us = cfg->conn_timeout_s * 1000000LL;
    s->first_byte_timeout_us = cfg->first_byte_timeout_s * 1000000LL;
    /* the limits of a request's framing (http/framing.h), sized so that libmicrohttpd's
       per-connection pool always holds what passes (it closes without an answer when
       it runs out): request line and header line 8 KiB like nginx's
       large_client_header_buffers, 414 / 431 beyond */
    s->limits = (struct framing_limits){
        .max_line = 8192,
        .max_field = 8192,
        .max_head = 12288,
        .max_fields = 64,
        .max_params = 128,
        .max_cookies = 64,
        .max_body = (uint64_t)cfg->max_body_bytes,
        /* the file plus room for a multipart envelope and a few short fields */
        .max_upload = (uint64_t)cfg->max_upload_bytes + 64 * 1024,
        .upload_path = upload_path,
    };
    s->head.next = s->head.prev = &s->head;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);

    errno = 0;
    /* one option per line: */
    /* clang-format off */
    s->d = MHD_start_daemon(
        flags, (uint16_t)cfg->listen_port, NULL, NULL, access_handler, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->http_threads,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->conn_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1000,
        /* over the cap, a new connection from that address is closed at accept (nginx's
           limit_conn); 0 turns it off (behind a proxy every client has its address) */
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)cfg->max_conns_per_ip,
        MHD_OPTION_NOTIFY_COMPLETED, notify_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_END);
    /* clang-format on */
    if (!s->d) {
        snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen,
                 errno ? strerror(errno) : "libmicrohttpd refused to start");
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    pthread_create(&s->sweeper, NULL, sweeper_main, s);
    return s;

bad_addr:
    snprintf(err, errlen, "cannot listen on %s: not an IP address", cfg->listen);
    free(s);
    return NULL;
}

void server_quiesce(struct server *s)
{
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

int server_wait_idle(struct server *s, long timeout_ms)
{
    int64_t deadline = clock_mono_us() + timeout_ms * 1000LL;
    while (atomic_load(&s->active) > 0) {
        if (clock_mono_us() >= deadline)
            return -1;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

void server_stop(struct server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->sweeper, NULL);
    MHD_stop_daemon(s->d);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void server_get_stats(struct server *s, struct server_stats *st)
{
    st->requests = atomic_load(&s->requests);
    st->timeouts = atomic_load(&s->timeouts);
    st->idle_cuts = atomic_load(&s->idle_cuts);
    gate_get_stats(&st->refused);
    st->rejected = atomic_load(&s->rejected) + st->refused.s400 + st->refused.s413 +
                   st->refused.s414 + st->refused.s431 + st->refused.s501 + st->refused.s505 +
                   st->refused.other;
    st->active = atomic_load(&s->active);
}
