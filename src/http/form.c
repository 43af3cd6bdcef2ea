/*
 * form.c - application/x-www-form-urlencoded bodies into name/value pairs; see form.h.
 *
 * DESIGN
 *
 * One pass over the body, piece by piece between '&'s. A piece is split at its first '=',
 * and each half is decoded into its own allocation ('+' to space, %XX to a byte) and then
 * checked: no NUL byte, valid UTF-8 (no overlong forms, no surrogates, nothing beyond
 * U+10FFFF), a name of at most FORM_MAX_NAME bytes. The field count is checked before a
 * piece is decoded, so a body of a million "&a" costs at most FORM_MAX_FIELDS allocations
 * before it is refused. A decoded string is never longer than its source, so memory is
 * bounded by the body, which the server caps.
 *
 * Nothing is repaired: a body a browser would not send (a stray '%', bytes that are not
 * UTF-8) is an error reported once, in err, for the handler's 400 answer; nothing is
 * logged here. On failure the form is emptied, so a handler that does not call
 * form_release() on that path leaks nothing.
 *
 * Threads: no globals; any thread.
 */
#include "http/form.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
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

/* Whether s (n bytes) is valid UTF-8: shortest forms only, no surrogates, at most
   U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t len, k;
        uint32_t cp;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (s[i] >= 0xC2 && s[i] <= 0xDF) {
            len = 2;
            cp = s[i] & 0x1F;
        } else if ((s[i] & 0xF0) == 0xE0) {
            len = 3;
            cp = s[i] & 0x0F;
        } else if (s[i] >= 0xF0 && s[i] <= 0xF4) {
            len = 4;
            cp = s[i] & 0x07;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
            return 0;
        if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Decodes s (n bytes) into a new string at *out (caller frees) of *outlen bytes. -1 with
 *why set, and nothing allocated, when s is refused. */
static int decode(const char *s, size_t n, char **out, size_t *outlen, const char **why)
{
    char *d = xmalloc(n + 1);
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            d[len++] = ' ';
        } else if (s[i] != '%') {
            d[len++] = s[i];
        } else if (n - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
            *why = "a bad %-escape";
            goto fail;
        } else {
            d[len++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if (d[len - 1] == '\0') {
            *why = "a NUL byte";
            goto fail;
        }
    }
    if (!utf8_valid((const unsigned char *)d, len)) {
        *why = "invalid UTF-8";
        goto fail;
    }
    d[len] = '\0';
    *out = d;
    *outlen = len;
    return 0;
fail:
    free(d);
    return -1;
}

int form_parse(struct form *f, const char *body, size_t len, char *err, size_t errlen)
{
    char *name = NULL, *value = NULL;
    const char *why = NULL;
    size_t i = 0, name_len, value_len;
    int ret = -1;

    memset(f, 0, sizeof(*f));
    if (err && errlen)
        err[0] = '\0';
    while (i < len) {
        const char *piece = body + i, *amp = memchr(piece, '&', len - i), *eq;
        size_t n = amp ? (size_t)(amp - piece) : len - i;

        i += n + 1;
        if (n == 0)
            continue; /* "a=1&&b=2", a leading or trailing '&' */
        if (f->n == FORM_MAX_FIELDS) {
            fail(err, errlen, "The form has more than %d fields.", FORM_MAX_FIELDS);
            goto out;
        }
        eq = memchr(piece, '=', n);
        if (decode(piece, eq ? (size_t)(eq - piece) : n, &name, &name_len, &why) < 0) {
            fail(err, errlen, "Field %zu of the form has %s in its name.", f->n + 1, why);
            goto out;
        }
        if (name_len > FORM_MAX_NAME) {
            fail(err, errlen, "Field %zu of the form has a name longer than %d bytes.", f->n + 1,
                 FORM_MAX_NAME);
            goto out;
        }
        if (decode(eq ? eq + 1 : "", eq ? n - (size_t)(eq - piece) - 1 : 0, &value, &value_len,
                   &why) < 0) {
            fail(err, errlen, "Field %zu of the form has %s in its value.", f->n + 1, why);
            goto out;
        }
        f->names[f->n] = name;
        f->values[f->n] = value;
        f->n++;
        name = value = NULL;
    }
    ret = 0;
out:
    free(name);
    free(value);
    if (ret < 0)
        form_release(f);
    return ret;
}

const char *form_get(const struct form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0)
            return f->values[i];
    return NULL;
}

void form_release(struct form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->names[i]);
        free(f->values[i]);
    }
    memset(f, 0, sizeof(*f));
}

int form_is_urlencoded(const char *content_type)
{
    static const char type[] = "application/x-www-form-urlencoded";
    const char *p = content_type;

    if (!p)
        return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, type, sizeof(type) - 1) != 0)
        return 0;
    p += sizeof(type) - 1;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0' || *p == ';';
}

int form_escape(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        if ((keep ? buf_addc(b, (char)*p) : buf_add(b, esc, 3)) < 0)
            return -1;
    }
    return 0;
}
