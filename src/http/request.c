/*
 * request.c - request accessors and response builders; see request.h.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
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
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(v);
    buf_reset(&r->out);
    if (!s)
        return request_text(r, 500, "cannot encode JSON\n");
    buf_adds(&r->out, s);
    buf_addc(&r->out, '\n');
    free(s);
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

int request_error(struct request *r, int status, const char *message)
{
    if (request_wants_json(r)) {
        json_t *e = json_pack("{s:{s:i,s:s}}", "error", "status", status, "message", message);
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

const char *http_reason(int status)
{
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {
        {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
        {301, "Moved Permanently"}, {302, "Found"}, {303, "See Other"},
        {304, "Not Modified"}, {400, "Bad Request"}, {401, "Unauthorized"},
        {403, "Forbidden"}, {404, "Not Found"}, {405, "Method Not Allowed"},
        {408, "Request Timeout"}, {409, "Conflict"}, {411, "Length Required"},
        {413, "Content Too Large"}, {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"}, {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"}, {500, "Internal Server Error"},
        {501, "Not Implemented"}, {503, "Service Unavailable"},
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Status";
}
