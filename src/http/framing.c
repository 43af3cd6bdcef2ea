/*
 * framing.c - the strict HTTP/1.1 request framing check; see framing.h for what it
 * refuses and with which status.
 *
 * A byte-at-a-time state machine (bodies are skipped in bulk), one request after the
 * other on a connection:
 *
 *   IDLE -> METHOD -> TARGET -> VERSION -CRLF-> FIELD_START <-CRLF- VALUE <- NAME
 *                                                   |  (empty line: head_end())
 *        +-------------------+----------------------+----------------------+
 *        v                   v                      v                      |
 *      IDLE (no body)      BODY (Content-Length)  CHUNK_SIZE [-> CHUNK_EXT] -> CHUNK_LF
 *                            | all read -> IDLE     -> CHUNK_DATA -> DATA_CR -> DATA_LF
 *                                                   -> CHUNK_SIZE ... "0" CRLF -> trailer
 *                                                   fields (FIELD_START, in_trailer) -> IDLE
 *
 * CR in the head must be followed by LF (the CR state remembers where the LF leads);
 * in chunk lines only CRLF ends a line. Field values are checked as they stream; the
 * three framing fields (Content-Length, Transfer-Encoding, Host) are interpreted on the
 * fly (digits accumulated with an overflow check, the coding kept in 9 bytes), Cookie
 * pairs and query parameters counted, so nothing is buffered and memory is this struct.
 * Invariant: once f->status is set the stream is dead; every feed returns it.
 */
#include <string.h>

#include "http/framing.h"

enum {
    S_IDLE,
    S_METHOD,
    S_TARGET,
    S_VERSION,
    S_CR,
    S_FIELD_START,
    S_NAME,
    S_VALUE,
    S_HEAD_END, /* only as an after_cr target */
    S_BODY,
    S_CHUNK_SIZE,
    S_CHUNK_EXT,
    S_CHUNK_LF,
    S_CHUNK_DATA,
    S_DATA_CR,
    S_DATA_LF,
};

enum { FIELD_OTHER, FIELD_CL, FIELD_TE, FIELD_HOST, FIELD_COOKIE };

#define MAX_METHOD 32
#define MAX_CHUNK_DIGITS 16
#define MAX_CHUNK_EXT 1024

static int is_tchar(unsigned c)
{
    /* RFC 9110 5.6.2: token characters */
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", (int)c) != NULL;
}

static int hex_value(unsigned c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (int)(c - 'A' + 10);
    return -1;
}

void framing_init(struct framing *f, const struct framing_limits *lim)
{
    memset(f, 0, sizeof(*f));
    f->lim = lim;
    f->state = S_IDLE;
}

int framing_idle(const struct framing *f)
{
    return f->state == S_IDLE && !f->status;
}

static void begin_request(struct framing *f)
{
    const struct framing_limits *lim = f->lim;
    uint64_t requests = f->requests + 1;
    memset(f, 0, sizeof(*f));
    f->lim = lim;
    f->requests = requests;
    f->state = S_METHOD;
}

/* The body cap of the request being read: larger for the paths that take files. */
static uint64_t body_cap(const struct framing *f)
{
    if (f->lim->upload_path && !f->path_long && f->lim->upload_path(f->path))
        return f->lim->max_upload;
    return f->lim->max_body;
}

static int fail(struct framing *f, int status, const char *why)
{
    f->status = status;
    f->reason = why;
    return status;
}

/* The version token is complete: 0, or the status. */
static int end_version(struct framing *f)
{
    f->ver[f->ver_len] = '\0';
    if (f->ver_len != 8 || memcmp(f->ver, "HTTP/", 5) != 0 || f->ver[5] < '0' || f->ver[5] > '9' ||
        f->ver[6] != '.' || f->ver[7] < '0' || f->ver[7] > '9')
        return fail(f, 400, "The request line does not end in an HTTP version.");
    if (f->ver[5] != '1')
        return fail(f, 505, "Only HTTP/1.x is served.");
    /* RFC 9110 2.5: a higher minor version is processed as the highest we implement */
    f->version = f->ver[7] == '0' ? 10 : 11;
    f->line_len = 0;
    return 0;
}

static int start_field(struct framing *f, unsigned c)
{
    if (++f->fields > f->lim->max_fields)
        return fail(f, 431, "Too many header fields.");
    f->name_len = 0;
    f->field = FIELD_OTHER;
    f->val_ws = f->val_seen = 0;
    f->state = S_NAME;
    f->name[f->name_len++] = (char)(c | 0x20);
    return 0;
}

static void classify_field(struct framing *f)
{
    f->field = FIELD_OTHER;
    if (f->in_trailer || f->name_len >= sizeof(f->name))
        return;
    f->name[f->name_len] = '\0';
    if (strcmp(f->name, "content-length") == 0) {
        f->field = FIELD_CL;
        f->cls++;
        f->cl = 0;
        f->cl_digits = 0;
    } else if (strcmp(f->name, "transfer-encoding") == 0) {
        f->field = FIELD_TE;
        f->tes++;
        f->te_len = 0;
    } else if (strcmp(f->name, "host") == 0) {
        f->field = FIELD_HOST;
        f->hosts++;
    } else if (strcmp(f->name, "cookie") == 0) {
        f->field = FIELD_COOKIE;
    }
}

/* One character of a field value, not CR/LF (those end the line). */
static int value_char(struct framing *f, unsigned c)
{
    if ((c < 0x20 && c != '\t') || c == 0x7f)
        return fail(f, 400, "A header value holds a control character (CR, NUL, ...).");
    if (c == ' ' || c == '\t') {
        f->val_ws = f->val_ws || f->val_seen; /* whitespace after something */
        return 0;
    }
    int interior = f->val_ws; /* whitespace between two visible characters */
    f->val_ws = 0;
    f->val_seen = 1;
    switch (f->field) {
    case FIELD_CL:
        if (interior || c < '0' || c > '9' || f->cl > (UINT64_MAX - 9) / 10)
            f->cl_bad = 1;
        else
            f->cl = f->cl * 10 + (c - '0'), f->cl_digits = 1;
        break;
    case FIELD_TE:
        if (interior && f->te_len < sizeof(f->te) - 1)
            f->te[f->te_len++] = ' ';
        if (f->te_len < sizeof(f->te) - 1)
            f->te[f->te_len++] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
        else
            f->te_bad = 1;
        break;
    case FIELD_HOST:
        if (interior)
            f->host_ws = 1;
        break;
    case FIELD_COOKIE:
        if (c == ';' && ++f->cookies >= f->lim->max_cookies)
            return fail(f, 431, "Too many cookies.");
        break;
    default:
        break;
    }
    return 0;
}

static int end_field(struct framing *f)
{
    switch (f->field) {
    case FIELD_CL:
        if (!f->cl_digits)
            f->cl_bad = 1;
        break;
    case FIELD_TE:
        if (f->te_len == 0)
            return fail(f, 400, "An empty Transfer-Encoding.");
        break;
    case FIELD_COOKIE:
        if (f->val_seen && ++f->cookies > f->lim->max_cookies)
            return fail(f, 431, "Too many cookies.");
        break;
    default:
        break;
    }
    f->line_len = 0;
    f->state = S_FIELD_START;
    return 0;
}

/* The empty line after the fields (or the trailers): where the body starts. */
static int head_end(struct framing *f)
{
    f->line_len = 0;
    if (f->in_trailer) {
        f->state = S_IDLE;
        return 0;
    }
    /* RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host or with
       more than one */
    if (f->version == 11 && f->hosts == 0)
        return fail(f, 400, "An HTTP/1.1 request needs a Host header.");
    if (f->hosts > 1 || f->host_ws)
        return fail(f, 400, "Invalid Host header.");
    /* RFC 9112 6.1 and 6.3: Content-Length with Transfer-Encoding is a smuggling attempt
       (the RFC lets a server refuse it; nginx does), as is Transfer-Encoding on 1.0 */
    if (f->tes && f->cls)
        return fail(f, 400, "Conflicting Content-Length / Transfer-Encoding headers.");
    if (f->cls > 1)
        return fail(f, 400, "Conflicting Content-Length / Transfer-Encoding headers.");
    if (f->cl_bad)
        return fail(f, 400, "Invalid Content-Length.");
    if (f->tes) {
        if (f->version == 10)
            return fail(f, 400, "Transfer-Encoding is not HTTP/1.0.");
        if (f->tes > 1)
            return fail(f, 400, "Repeated Transfer-Encoding headers.");
        f->te[f->te_len] = '\0';
        if (f->te_bad || strcmp(f->te, "chunked") != 0)
            return fail(f, 501, "Only the chunked transfer coding is supported.");
        f->body_left = 0;
        f->chunk_digits = 0;
        f->state = S_CHUNK_SIZE;
        return 0;
    }
    if (f->cls && f->cl > body_cap(f))
        return fail(f, 413, "The request body is too large.");
    if (f->cls && f->cl) {
        f->body_left = f->cl;
        f->state = S_BODY;
        return 0;
    }
    f->state = S_IDLE;
    return 0;
}

/* One byte of the request line or of a field line. */
static int head_byte(struct framing *f, unsigned c)
{
    const struct framing_limits *lim = f->lim;
    f->head_len++;
    f->line_len++;
    if (f->state == S_METHOD || f->state == S_TARGET || f->state == S_VERSION) {
        if (f->line_len > lim->max_line)
            return fail(f, 414, "The request line is too long.");
    } else if (f->line_len > lim->max_field) {
        return fail(f, 431, "A header field is too large.");
    }
    if (f->head_len > lim->max_head)
        return fail(f, 431, "The request header is too large.");

    switch (f->state) {
    case S_METHOD:
        if (c == ' ')
            return f->method_len ? (f->state = S_TARGET, 0)
                                 : fail(f, 400, "The request line has no method.");
        if (!is_tchar(c) || ++f->method_len > MAX_METHOD)
            return fail(f, 400, "Invalid method.");
        return 0;
    case S_TARGET:
        if (c == ' ') {
            if (f->line_len == f->method_len + 2)
                return fail(f, 400, "The request line has no target.");
            f->state = S_VERSION;
            return 0;
        }
        if (c < 0x21 || c == 0x7f)
            return fail(f, 400, "The request target holds a control character or space.");
        if (c == '?' && !f->in_query) {
            f->in_query = 1;
            f->params = 1;
        } else if (c == '&' && f->in_query && ++f->params > lim->max_params) {
            return fail(f, 414, "Too many query parameters.");
        }
        if (!f->in_query) {
            if (f->path_len + 1 < sizeof(f->path))
                f->path[f->path_len++] = (char)c, f->path[f->path_len] = '\0';
            else
                f->path_long = 1;
        }
        if (!f->in_query) { /* "%00" in the path: nginx refuses a decoded NUL, 400 */
            if (c == '%')
                f->pct = 1;
            else if (c == '0' && f->pct == 1)
                f->pct = 2;
            else if (c == '0' && f->pct == 2)
                return fail(f, 400, "The path holds a NUL (%00).");
            else
                f->pct = 0;
        }
        return 0;
    case S_VERSION:
        if (c == '\r' || c == '\n') {
            if (end_version(f))
                return f->status;
            f->after_cr = S_FIELD_START;
            f->state = c == '\r' ? S_CR : S_FIELD_START;
            return 0;
        }
        if (f->ver_len >= sizeof(f->ver) - 1 || c < 0x21)
            return fail(f, 400, "The request line does not end in an HTTP version.");
        f->ver[f->ver_len++] = (char)c;
        return 0;
    case S_FIELD_START:
        f->line_len = 1;
        if (c == '\r') {
            f->after_cr = S_HEAD_END;
            f->state = S_CR;
            return 0;
        }
        if (c == '\n')
            return head_end(f);
        if (c == ' ' || c == '\t') /* RFC 9112 5.2: obs-fold may be refused with 400 */
            return fail(f, 400, "A header line starts with whitespace (obs-fold).");
        if (!is_tchar(c))
            return fail(f, 400, "Invalid header name.");
        return start_field(f, c);
    case S_NAME:
        if (c == ':') {
            classify_field(f);
            f->state = S_VALUE;
            return 0;
        }
        if (c == ' ' || c == '\t') /* RFC 9112 5.1: MUST respond with 400 */
            return fail(f, 400, "Whitespace between a header name and its colon.");
        if (!is_tchar(c))
            return fail(f, 400, "Invalid header name.");
        if (f->name_len < sizeof(f->name))
            f->name[f->name_len] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
        f->name_len++;
        return 0;
    case S_VALUE:
        if (c == '\r') {
            if (end_field(f))
                return f->status;
            f->after_cr = S_FIELD_START;
            f->state = S_CR;
            return 0;
        }
        if (c == '\n')
            return end_field(f);
        return value_char(f, c);
    case S_CR:
        if (c != '\n')
            return fail(f, 400, "A bare CR in the request header.");
        if (f->after_cr == S_HEAD_END)
            return head_end(f);
        f->state = f->after_cr;
        if (f->state == S_FIELD_START)
            f->line_len = 0;
        return 0;
    default:
        return fail(f, 400, "Malformed request.");
    }
}

static int chunk_byte(struct framing *f, unsigned c)
{
    switch (f->state) {
    case S_CHUNK_SIZE: {
        int d = hex_value(c);
        if (d >= 0) {
            if (++f->chunk_digits > MAX_CHUNK_DIGITS)
                return fail(f, 400, "Invalid chunk size.");
            f->body_left = f->body_left * 16 + (uint64_t)d;
            /* refused at the chunk line, before its data (nginx: client_max_body_size) */
            if (f->body_left > body_cap(f) - f->body_total)
                return fail(f, 413, "The request body is too large.");
            return 0;
        }
        if (!f->chunk_digits)
            return fail(f, 400, "Invalid chunk size.");
        if (c == ';') {
            f->ext_len = 0;
            f->state = S_CHUNK_EXT;
            return 0;
        }
        if (c == '\r') {
            f->state = S_CHUNK_LF;
            return 0;
        }
        /* "0x5", "0_2e", "5 ", a bare LF: a parser that reads them another way would
           see another body (http-garden); only CRLF ends a chunk line here */
        return fail(f, 400, "Invalid chunk size.");
    }
    case S_CHUNK_EXT:
        if (c == '\r') {
            f->state = S_CHUNK_LF;
            return 0;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f || ++f->ext_len > MAX_CHUNK_EXT)
            return fail(f, 400, "Invalid chunk extension.");
        return 0;
    case S_CHUNK_LF:
        if (c != '\n')
            return fail(f, 400, "A chunk line must end in CRLF.");
        f->chunk_digits = 0;
        if (f->body_left == 0) { /* the last chunk: trailer fields, then an empty line */
            f->in_trailer = 1;
            f->fields = 0;
            f->head_len = 0;
            f->line_len = 0;
            f->state = S_FIELD_START;
            return 0;
        }
        f->body_total += f->body_left;
        f->state = S_CHUNK_DATA;
        return 0;
    case S_DATA_CR:
        if (c != '\r')
            return fail(f, 400, "Chunk data must be followed by CRLF.");
        f->state = S_DATA_LF;
        return 0;
    case S_DATA_LF:
        if (c != '\n')
            return fail(f, 400, "Chunk data must be followed by CRLF.");
        f->body_left = 0;
        f->state = S_CHUNK_SIZE;
        return 0;
    default:
        return fail(f, 400, "Malformed request.");
    }
}

int framing_feed(struct framing *f, const unsigned char *p, size_t n, size_t *good)
{
    size_t start = 0; /* where the request being read began in p (0: before p) */
    if (f->status) {
        *good = 0;
        return f->status;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        switch (f->state) {
        case S_BODY:
        case S_CHUNK_DATA: {
            size_t take = n - i;
            if (take > f->body_left)
                take = (size_t)f->body_left;
            f->body_left -= take;
            i += take - 1;
            if (!f->body_left)
                f->state = f->state == S_BODY ? S_IDLE : S_DATA_CR;
            continue;
        }
        case S_IDLE:
            if (c == '\r' || c == '\n') { /* RFC 9112 2.2: empty lines before a request */
                if (++f->blank > f->lim->max_line) {
                    fail(f, 400, "Malformed request.");
                    goto out;
                }
                continue;
            }
            begin_request(f);
            start = i;
            break;
        case S_CHUNK_SIZE:
        case S_CHUNK_EXT:
        case S_CHUNK_LF:
        case S_DATA_CR:
        case S_DATA_LF:
            if (chunk_byte(f, c))
                goto out;
            continue;
        default:
            break;
        }
        if (head_byte(f, c))
            goto out;
    }
    *good = n;
    return 0;
out:
    *good = start;
    return f->status;
}
