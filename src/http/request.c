/*
 * request.c - request accessors and response builders; see request.h.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/jsonenc.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/driver.h"
#include "http/app.h"
#include "http/request.h"

const char *request_header(struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *request_query(struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *request_param(struct request *r, const char *name)
{
    return router_param(&r->match, name);
}

int request_wants_json(struct request *r)
{
    if (r->path && strncmp(r->path, "/api/", 5) == 0)
        return 1;
    const char *accept = r->conn ? request_header(r, "Accept") : NULL;
    return accept && strstr(accept, "application/json") && !strstr(accept, "text/html");
}

void request_set_header(struct request *r, const char *name, const char *value)
{
    if (r->nheaders == REQUEST_MAX_HEADERS) {
        log_err("http: too many response headers, dropped %s", name);
        return;
    }
    r->headers[r->nheaders][0] = xstrdup(name);
    r->headers[r->nheaders][1] = xstrdup(value);
    r->nheaders++;
}

int request_json(struct request *r, int status, json_t *v)
{
    buf_reset(&r->out); /* encoded straight into the body */
    int rc = jsonenc_value(&r->out, v);
    json_decref(v);
    if (rc != 0)
        return request_text(r, 500, "cannot encode JSON\n");
    buf_addc(&r->out, '\n');
    r->content_type = "application/json";
    return status;
}

int request_text(struct request *r, int status, const char *text)
{
    buf_reset(&r->out);
    buf_adds(&r->out, text);
    r->content_type = "text/plain; charset=utf-8";
    return status;
}

static const char *status_code_name(int status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 409:
        return "conflict";
    case 411:
        return "length_required";
    case 413:
        return "payload_too_large";
    case 415:
        return "unsupported_media_type";
    case 422:
        return "invalid";
    case 429:
        return "too_many_requests";
    case 503:
        return "unavailable";
    default:
        return status >= 500 ? "internal" : "error";
    }
}

int request_error_field(struct request *r, int status, const char *code, const char *message,
                        const char *field)
{
    if (request_wants_json(r)) {
        json_t *e = json_pack("{s:s,s:s}", "code", code, "message", message);
        if (field)
            json_object_set_new(e, "field", json_string(field));
        return request_json(r, status, json_pack("{s:o}", "error", e));
    }
    return request_error(r, status, message);
}

int request_redirect(struct request *r, int status, const char *location)
{
    request_set_header(r, "Location", location);
    buf_reset(&r->out);
    r->content_type = "text/plain; charset=utf-8";
    buf_addf(&r->out, "See %s\n", location);
    return status;
}

/* Loopback, RFC 1918, CGNAT (100.64/10, where some platforms' proxies sit), link-local,
   and IPv6 ULA (fc00::/7, Fly's private network) or link-local: the addresses a reverse
   proxy on the same machine or network connects from. */
static int peer_is_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        uint32_t a = ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr);
        return (a >> 24) == 127 || (a >> 24) == 10 || (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8 ||
               (a >> 22) == (100u << 2 | 1) || (a >> 16) == 0xa9fe;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            struct sockaddr_in v4 = {.sin_family = AF_INET};
            memcpy(&v4.sin_addr, &a6->s6_addr[12], 4);
            return peer_is_private((const struct sockaddr *)(const void *)&v4);
        }
        return IN6_IS_ADDR_LOOPBACK(a6) || IN6_IS_ADDR_LINKLOCAL(a6) ||
               (a6->s6_addr[0] & 0xfe) == 0xfc;
    }
    return 0;
}

void request_note_proxy_headers(struct request *r)
{
    static atomic_int warned;
    if (!r->app || r->app->cfg->trust_proxy || !r->conn || atomic_load(&warned))
        return;
    const char *name = request_header(r, "Fly-Client-IP")     ? "Fly-Client-IP"
                       : request_header(r, "X-Forwarded-For") ? "X-Forwarded-For"
                       : request_header(r, "Forwarded")       ? "Forwarded"
                                                              : NULL;
    if (!name)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr || !peer_is_private(ci->client_addr))
        return;
    if (atomic_exchange(&warned, 1))
        return;
    log_event(LOG_WARN, "proxy headers ignored",
              json_pack("{s:s,s:s}", "header", name, "advice",
                        "requests come through a reverse proxy but ONEFILE_TRUST_PROXY is "
                        "not set: every visitor shares the proxy's address, so the contact "
                        "form and login limits count them all together. Set "
                        "ONEFILE_TRUST_PROXY=1 (docs/operations.md, behind a proxy)"));
}

const char *request_client_ip(struct request *r, char *buf, size_t len)
{
    if (r->app && r->app->cfg->trust_proxy > 0 && r->conn) {
        /* Behind N proxies you run, each appending the address it received from to the
           one header named (nginx's real_ip_header with set_real_ip_from, Express's
           "trust proxy" hop count): the client is the Nth entry from the right; entries
           further left were written by the client and are never read. Fewer entries
           than N: the leftmost (Express does the same). Another header a client sends
           (Fly-Client-IP, X-Real-IP, ...) is ignored unless it is the one named. */
        const char *h = request_header(r, r->app->cfg->client_ip_header);
        if (h) {
            const char *end = h + strlen(h), *start = end;
            for (long hop = 0; hop < r->app->cfg->trust_proxy && end > h; hop++) {
                const char *comma = end;
                while (comma > h && comma[-1] != ',')
                    comma--;
                start = comma;
                if (hop + 1 < r->app->cfg->trust_proxy && comma > h)
                    end = comma - 1;
            }
            while (*start == ' ' || *start == '\t')
                start++;
            size_t n = strcspn(start, ", \t");
            if (n && n < len && strspn(start, "0123456789abcdefABCDEF.:") >= n) {
                memcpy(buf, start, n);
                buf[n] = '\0';
                return buf;
            }
        }
    }
    const union MHD_ConnectionInfo *ci =
        r->conn ? MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    snprintf(buf, len, "unknown");
    if (!ci || !ci->client_addr)
        return buf;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                  (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                  (socklen_t)len);
    return buf;
}

int request_json_body(struct request *r, json_t **out)
{
    const char *ct = request_header(r, "Content-Type");
    json_error_t je;
    char msg[300];
    *out = NULL;
    if (!ct || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' '))
        return request_error_field(r, 415, "unsupported_media_type",
                                   "The body must be JSON (Content-Type: application/json).", NULL);
    json_t *v =
        json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        snprintf(msg, sizeof(msg), "The body is not valid JSON: %s (line %d, column %d).", je.text,
                 je.line, je.column);
        return request_error_field(r, 400, "malformed_json", msg, NULL);
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return request_error_field(r, 400, "malformed_json", "The body must be a JSON object.",
                                   NULL);
    }
    *out = v;
    return 0;
}

int request_error(struct request *r, int status, const char *message)
{
    if (request_wants_json(r)) {
        json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", status_code_name(status), "message",
                              message);
        return request_json(r, status, e);
    }
    buf_reset(&r->out);
    buf_addf(&r->out,
             "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             "<title>%d %s</title></head>\n<body><main><h1>%d %s</h1>\n<p>",
             status, http_reason(status), status, http_reason(status));
    buf_add_html(&r->out, message);
    buf_adds(&r->out, "</p>\n<p><a href=\"/\">Home</a></p></main></body></html>\n");
    r->content_type = "text/html; charset=utf-8";
    return status;
}

static void resume(void *ctx, int rc, const char *err)
{
    struct request *r = ctx;
    r->deferred_rc = rc;
    snprintf(r->deferred_err, sizeof(r->deferred_err), "%s", err ? err : "");
    MHD_resume_connection(r->conn);
}

int request_defer(struct request *r, writer_fn *fn, void *arg, unsigned flags,
                  int (*then)(struct request *r, int rc, const char *err))
{
    r->then = then;
    /* suspended before the write is queued, so the resume can never come first */
    MHD_suspend_connection(r->conn);
    if (writer_submit_cb(r->app->writer, r->route, fn, arg, flags, resume, r) != 0)
        resume(r, WRITER_ESTOPPED, "the writer is stopping");
    return REQUEST_DEFERRED;
}

const char *http_reason(int status)
{
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Status";
}

int request_engine_error(struct request *r, int code, const char *what)
{
    char msg[300];
    switch (code) {
    case DB_ECONSTRAINT:
    case DB_EUNIQUE:
        snprintf(msg, sizeof(msg), "The change was refused: %.200s", what);
        return request_error_field(r, 422, "invalid", msg, NULL);
    case DB_EREADONLY:
    case DB_EIO:
    case DB_EFULL:
    case DB_EBUSY:
        request_set_header(r, "Retry-After", "1");
        return request_error(r, 503, "The database cannot take the change now; try again.");
    default:
        return request_error(r, 500, "The database failed.");
    }
}

/* A 64-bit hash of the body, 8 bytes at a time: a strong validator for GET responses
   built on the fly (not a security boundary: an ETag only saves a transfer). */
void request_etag(const char *data, size_t len, char out[24])
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, data + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    for (; i < len; i++)
        h = (h ^ (unsigned char)data[i]) * 0x100000001b3ULL;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 32;
    snprintf(out, 24, "\"%016llx\"", (unsigned long long)h);
}
