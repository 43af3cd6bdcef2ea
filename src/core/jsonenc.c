/*
 * jsonenc.c - compact JSON text of a jansson value; see jsonenc.h.
 *
 * Strings are copied in runs between the bytes that need escaping (jansson values hold
 * valid UTF-8, which JSON carries as it is). Numbers are printed as jansson prints them:
 * integers with %lld, reals with %.17g plus ".0" when that looks like an integer, and
 * the exponent without '+' or leading zeros.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/jsonenc.h"

int jsonenc_string(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (buf_addc(b, '"') < 0)
        return -1;
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (buf_add(b, s + run, i - run) < 0)
            return -1;
        run = i + 1;
        char esc[7] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (buf_add(b, esc, n) < 0)
            return -1;
    }
    if (buf_add(b, s + run, len - run) < 0)
        return -1;
    return buf_addc(b, '"');
}

int jsonenc_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p++;
        if (c < 0x80)
            continue;
        int more;
        unsigned cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            more = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            more = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            more = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0; /* a continuation byte first, an overlong C0/C1 lead, or F5..FF */
        }
        if (end - p < more)
            return 0;
        for (int i = 0; i < more; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        p += more;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
    }
    return 1;
}

static int encode_real(struct buf *b, double d)
{
    if (!isfinite(d))
        return -1;
    char text[40];
    int n = snprintf(text, sizeof(text), "%.17g", d);
    if (n < 0 || (size_t)n >= sizeof(text) - 3)
        return -1;
    size_t len = (size_t)n;
    if (!strchr(text, '.') && !strchr(text, 'e')) {
        memcpy(text + len, ".0", 3);
        len += 2;
    }
    char *e = strchr(text, 'e');
    if (e) { /* "1e+20" -> "1e20", "1e-05" -> "1e-5" */
        char *start = e + 1, *end = e + 2;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - text) + 1);
            len -= (size_t)(end - start);
        }
    }
    return buf_add(b, text, len);
}

static int encode(struct buf *b, json_t *v, int depth)
{
    if (depth > JSONENC_MAX_DEPTH)
        return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (buf_addc(b, '{') < 0)
            return -1;
        const char *key;
        size_t klen;
        json_t *item;
        int first = 1;
        json_object_keylen_foreach(v, key, klen, item)
        {
            if ((!first && buf_addc(b, ',') < 0) || jsonenc_string(b, key, klen) < 0 ||
                buf_addc(b, ':') < 0 || encode(b, item, depth + 1) < 0)
                return -1;
            first = 0;
        }
        return buf_addc(b, '}');
    }
    case JSON_ARRAY: {
        if (buf_addc(b, '[') < 0)
            return -1;
        for (size_t i = 0; i < json_array_size(v); i++)
            if ((i && buf_addc(b, ',') < 0) || encode(b, json_array_get(v, i), depth + 1) < 0)
                return -1;
        return buf_addc(b, ']');
    }
    case JSON_STRING:
        return jsonenc_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return buf_addf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        return encode_real(b, json_real_value(v));
    case JSON_TRUE:
        return buf_add(b, "true", 4);
    case JSON_FALSE:
        return buf_add(b, "false", 5);
    case JSON_NULL:
        return buf_add(b, "null", 4);
    }
    return -1;
}

int jsonenc_value(struct buf *b, json_t *v)
{
    return v ? encode(b, v, 0) : -1;
}
