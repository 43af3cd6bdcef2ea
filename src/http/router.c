/*
 * router.c - route table and path-pattern matching; see router.h.
 *
 * Matching walks the pattern and the path segment by segment. Literal segments compare
 * byte for byte (the raw path, not decoded: "/a%2Fb" is not "/a/b"); parameters are
 * percent-decoded into the match's scratch buffer, so a handler sees "hello world" for
 * "hello%20world" and never has to decode again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "http/router.h"

void router_init(struct router *rt)
{
    memset(rt, 0, sizeof(*rt));
}

void router_release(struct router *rt)
{
    free(rt->routes);
    router_init(rt);
}

void router_add(struct router *rt, const char *method, const char *pattern, route_fn *fn)
{
    if (rt->n == rt->cap) {
        rt->cap = rt->cap ? rt->cap * 2 : 16;
        rt->routes = xrealloc(rt->routes, rt->cap * sizeof(*rt->routes));
    }
    rt->routes[rt->n++] = (struct route){method, pattern, fn, pattern};
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes src[0..len) into *out (advancing it, NUL-terminating), within end.
   0, or -1 for a bad escape, a NUL byte, a '/' when !slash_ok, or no room. */
static int decode(const char *src, size_t len, char **out, const char *end, int slash_ok)
{
    char *o = *out;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= len || hexval(src[i + 1]) < 0 || hexval(src[i + 2]) < 0)
                return -1;
            c = (char)(hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
            i += 2;
            if (c == '\0' || (c == '/' && !slash_ok))
                return -1;
        }
        if (o + 1 >= end)
            return -1;
        *o++ = c;
    }
    if (o >= end)
        return -1;
    *o++ = '\0';
    *out = o;
    return 0;
}

static int match_one(const struct route *r, const char *path, struct route_match *m)
{
    const char *p = r->pattern, *s = path;
    char *out = m->scratch, *end = m->scratch + sizeof(m->scratch);
    m->nparams = 0;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++, s++;
        const char *pe = strchr(p, '/'), *se = strchr(s, '/');
        size_t plen = pe ? (size_t)(pe - p) : strlen(p);
        size_t slen = se ? (size_t)(se - s) : strlen(s);
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            int rest = plen >= 3 && p[plen - 2] == '*';
            if (m->nparams == ROUTER_MAX_PARAMS)
                return 0;
            if (rest)
                slen = strlen(s);
            if (slen == 0)
                return 0;
            m->names[m->nparams] = p + 1;
            m->name_lens[m->nparams] = plen - 2 - (size_t)rest;
            m->values[m->nparams] = out;
            if (decode(s, slen, &out, end, rest) < 0)
                return 0;
            m->nparams++;
            if (rest)
                return 1;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    return *p == '\0' && *s == '\0';
}

static int method_ok(const char *route_method, const char *method)
{
    return strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

enum router_result router_match(const struct router *rt, const char *method, const char *path,
                                struct route_match *m, char *allow, size_t allowlen)
{
    int path_seen = 0;
    if (allowlen)
        allow[0] = '\0';
    if (!path || path[0] != '/' || strlen(path) >= ROUTER_MAX_PATH)
        return ROUTER_NOT_FOUND;
    for (size_t i = 0; i < rt->n; i++) {
        const struct route *r = &rt->routes[i];
        if (method_ok(r->method, method) && match_one(r, path, m)) {
            m->route = r;
            return ROUTER_FOUND;
        }
    }
    /* no route for this method: which methods does the path have? (405 and Allow) */
    for (size_t i = 0; i < rt->n; i++) {
        const struct route *r = &rt->routes[i];
        if (!match_one(r, path, m))
            continue;
        path_seen = 1;
        /* collect the allowed methods, each once; GET brings HEAD */
        const char *add[2] = {r->method, strcmp(r->method, "GET") == 0 ? "HEAD" : NULL};
        for (int k = 0; k < 2 && add[k]; k++) {
            size_t len = strlen(allow), ml = strlen(add[k]);
            int dup = 0;
            for (const char *q = allow; (q = strstr(q, add[k])) != NULL; q += ml)
                if ((q == allow || q[-1] == ' ') && (q[ml] == ',' || q[ml] == '\0'))
                    dup = 1;
            if (!dup && len + ml + 3 < allowlen)
                snprintf(allow + len, allowlen - len, "%s%s", len ? ", " : "", add[k]);
        }
    }
    m->route = NULL;
    return path_seen ? ROUTER_NO_METHOD : ROUTER_NOT_FOUND;
}

const char *router_param(const struct route_match *m, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < m->nparams; i++)
        if (m->name_lens[i] == len && memcmp(m->names[i], name, len) == 0)
            return m->values[i];
    return NULL;
}
