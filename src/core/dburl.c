/*
 * dburl.c - ONEFILE_DB as a path or a PostgreSQL URL; see dburl.h.
 *
 * Masking works on the text, not on libpq's parse, so that what is printed is the URL as
 * given with only the secrets replaced: the user part is everything between "://" and the
 * last '@' before the first '/' or '?' (a password may contain ':' and '@' when
 * percent-encoded, never raw), its password everything after its first ':'; a query
 * parameter password=VALUE is masked up to the next '&'.
 */
#include "core/dburl.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define MASK "********"

static const char *const schemes[] = {"postgres://", "postgresql://"};

static size_t scheme_len(const char *db)
{
    for (size_t i = 0; db && i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strncmp(db, schemes[i], strlen(schemes[i])) == 0)
            return strlen(schemes[i]);
    return 0;
}

int dburl_is_postgres(const char *db)
{
    return scheme_len(db) > 0;
}

int dburl_check(const char *url, char *err, size_t errlen)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    if (!opts) {
        size_t n = msg ? strlen(msg) : 0;
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            n--;
        snprintf(err, errlen, "%.*s", (int)n, msg ? msg : "out of memory");
        PQfreemem(msg);
        return -1;
    }
    /* libpq checks ports only when it connects: a typo would surface as a connection
       failure at start-up instead of a configuration error now */
    int rc = 0;
    for (PQconninfoOption *o = opts; o->keyword && rc == 0; o++) {
        if (strcmp(o->keyword, "port") != 0 || !o->val)
            continue;
        for (const char *p = o->val; *p && rc == 0;) {
            size_t n = strcspn(p, ",");
            long port = 0;
            for (size_t i = 0; i < n && port <= 65535; i++)
                port = (p[i] >= '0' && p[i] <= '9') ? port * 10 + (p[i] - '0') : 65536;
            if (n > 0 && (port < 1 || port > 65535)) {
                snprintf(err, errlen, "invalid port \"%.*s\" (1-65535)", (int)n, p);
                rc = -1;
            }
            p += n + (p[n] == ',');
        }
    }
    PQconninfoFree(opts);
    return rc;
}

char *dburl_mask(const char *db)
{
    size_t start = scheme_len(db);
    if (!start)
        return xstrdup(db);
    size_t auth_end = start + strcspn(db + start, "/?");
    const char *at = NULL;
    for (const char *p = db + start; p < db + auth_end; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(db + start, ':', (size_t)(at - (db + start))) : NULL;
    char *s = colon ? xasprintf("%.*s%s%s", (int)(colon + 1 - db), db, MASK, at) : xstrdup(db);
    /* password=... in the query string, as a whole parameter name */
    char *q = strchr(s, '?');
    while (q) {
        char *param = q + 1;
        char *next = strchr(param, '&');
        if (strncmp(param, "password=", 9) == 0) {
            char *value = param + 9;
            size_t vlen = next ? (size_t)(next - value) : strlen(value);
            char *out = xasprintf("%.*s%s%s", (int)(value - s), s, MASK, value + vlen);
            next = next ? out + (value - s) + strlen(MASK) : NULL;
            free(s);
            s = out;
        }
        q = next;
    }
    return s;
}
