/*
 * html_filter.c - raw HTML reduced to an allow-list; see html_filter.h.
 *
 * DESIGN
 *
 * The input is read by a small tokenizer with the shapes of the HTML tokenizer's data state
 * (WHATWG HTML 13.2.5): "<name attrs>", "</name>", "<!-- comment -->", text. Nothing read is
 * copied through: an allowed start tag is written again from what was parsed, its name in
 * lower case, each allowed attribute as name="value" with the value first decoded (character
 * references, as a browser reads an attribute) and then escaped, or for a URL attribute
 * (href, src, cite) checked by markdown_url_allowed() and written by markdown_url_attr().
 * So whatever the input's quoting tricks, the browser parses output whose every '<' is either
 * one of ours or "&lt;", and whose attribute values are the ones checked. The allow-list is
 * that of ammonia / GitHub's sanitizer less id, name and target (DOM clobbering, tabnabbing):
 * text-level and structural elements, tables, images; no script, style, iframe, object,
 * embed, form, input, svg, math, base, meta, link; no on* handler, no style attribute.
 *
 *   '<' not starting an allowed tag  -> "&lt;" (the rest is text: <script> shows as text)
 *   "<!-- ... -->"                    -> dropped
 *   "</x>" for an open allowed x      -> the end tags down to x; any other end tag dropped
 *   text                              -> &, <, >, ", ' escaped (well-formed references kept)
 *
 * Invariants: the output is well-formed as far as this filter's own elements go (an end tag
 * only for an element it opened, and only above the caller's floor; html_filter_close()
 * closes the rest), so a post cannot close the theme's <main> or leave an <a> open over the
 * page, and markdown.c closes what a paragraph opened before its </p>; NUL becomes U+FFFD.
 *
 * Threads: any; the state is the caller's.
 */
#include "site/html_filter.h"

#include <string.h>

#include "core/buf.h"
#include "site/markdown.h"

#define REPLACEMENT_CHAR "\xef\xbf\xbd" /* U+FFFD */

/* Adding an element: its name, whether it is void (no end tag), and the attributes it may
   keep besides the global ones, space-separated. Sorted only for reading. */
static const struct element {
    const char *name;
    int is_void;
    const char *attrs;
} elements[] = {
    {"a", 0, "href hreflang"},
    {"abbr", 0, ""},
    {"b", 0, ""},
    {"bdi", 0, ""},
    {"bdo", 0, ""},
    {"blockquote", 0, "cite"},
    {"br", 1, ""},
    {"caption", 0, ""},
    {"cite", 0, ""},
    {"code", 0, ""},
    {"col", 1, "span align"},
    {"colgroup", 0, "span align"},
    {"dd", 0, ""},
    {"del", 0, "cite datetime"},
    {"details", 0, "open"},
    {"dfn", 0, ""},
    {"div", 0, "align"},
    {"dl", 0, ""},
    {"dt", 0, ""},
    {"em", 0, ""},
    {"figcaption", 0, ""},
    {"figure", 0, ""},
    {"h1", 0, "align"},
    {"h2", 0, "align"},
    {"h3", 0, "align"},
    {"h4", 0, "align"},
    {"h5", 0, "align"},
    {"h6", 0, "align"},
    {"hr", 1, ""},
    {"i", 0, ""},
    {"img", 1, "src alt width height loading"},
    {"ins", 0, "cite datetime"},
    {"kbd", 0, ""},
    {"li", 0, "value"},
    {"mark", 0, ""},
    {"ol", 0, "start reversed type"},
    {"p", 0, "align"},
    {"pre", 0, ""},
    {"q", 0, "cite"},
    {"rp", 0, ""},
    {"rt", 0, ""},
    {"ruby", 0, ""},
    {"s", 0, ""},
    {"samp", 0, ""},
    {"small", 0, ""},
    {"span", 0, ""},
    {"strike", 0, ""},
    {"strong", 0, ""},
    {"sub", 0, ""},
    {"summary", 0, ""},
    {"sup", 0, ""},
    {"table", 0, "align"},
    {"tbody", 0, "align"},
    {"td", 0, "colspan rowspan align headers"},
    {"tfoot", 0, "align"},
    {"th", 0, "colspan rowspan align headers scope"},
    {"thead", 0, "align"},
    {"time", 0, "datetime"},
    {"tr", 0, "align"},
    {"u", 0, ""},
    {"ul", 0, ""},
    {"var", 0, ""},
    {"wbr", 1, ""},
};

#define N_ELEMENTS (sizeof(elements) / sizeof(elements[0]))

static const char global_attrs[] = "title lang dir class";
static const char url_attrs[] = "href src cite";

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Whether the lower-case word w (n bytes) is in the space-separated list. */
static int in_list(const char *list, const char *w, size_t n)
{
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, " ");
        if (k == n && memcmp(p, w, n) == 0)
            return 1;
        p += k;
        while (*p == ' ')
            p++;
    }
    return 0;
}

/* The allowed element named by s (n bytes, any case), or -1. */
static int element_find(const char *s, size_t n)
{
    char name[16];
    if (n == 0 || n >= sizeof(name))
        return -1;
    for (size_t i = 0; i < n; i++)
        name[i] = lower(s[i]);
    name[n] = '\0';
    for (size_t k = 0; k < N_ELEMENTS; k++)
        if (strcmp(elements[k].name, name) == 0)
            return (int)k;
    return -1;
}

/* Text with &, <, >, " and ' escaped; NUL as U+FFFD. */
static int put_escaped(struct buf *out, const char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        /* clang-format off */
        switch (s[i]) {
        case '&': rc = buf_adds(out, "&amp;"); break;
        case '<': rc = buf_adds(out, "&lt;"); break;
        case '>': rc = buf_adds(out, "&gt;"); break;
        case '"': rc = buf_adds(out, "&quot;"); break;
        case '\'': rc = buf_adds(out, "&#39;"); break;
        case '\0': rc = buf_adds(out, REPLACEMENT_CHAR); break;
        default: rc = buf_addc(out, s[i]); break;
        }
        /* clang-format on */
    }
    return rc;
}

/* An attribute value decoded as a browser reads it (references; NUL as U+FFFD). */
static void value_decode(struct buf *v, const char *s, size_t n)
{
    char utf8[8];
    for (size_t i = 0; i < n;) {
        size_t used = s[i] == '&' ? markdown_entity_decode(s + i, n - i, utf8) : 0;
        if (used) {
            buf_adds(v, utf8);
            i += used;
        } else {
            if (s[i] == '\0')
                buf_adds(v, REPLACEMENT_CHAR);
            else
                buf_addc(v, s[i]);
            i++;
        }
    }
}

/* One parsed attribute: name (as written) and raw value (NULL when there is no '='). */
struct attr {
    const char *name, *value;
    size_t name_len, value_len;
};

/* Parses the attribute at s[*i] (after whitespace); 1 with *a filled and *i past it, 0 at
   '>' or "/>" or the end. Names and unquoted values follow WHATWG's attribute states. */
static int attr_next(const char *s, size_t n, size_t *i, struct attr *a)
{
    size_t p = *i;
    while (p < n && (is_space(s[p]) || (s[p] == '/' && p + 1 < n && s[p + 1] != '>')))
        p++;
    if (p >= n || s[p] == '>' || s[p] == '/') {
        *i = p;
        return 0;
    }
    a->name = s + p;
    p++; /* the first character may be '=' (part of the name, as in HTML) */
    while (p < n && !is_space(s[p]) && s[p] != '/' && s[p] != '>' && s[p] != '=')
        p++;
    a->name_len = (size_t)(s + p - a->name);
    a->value = NULL;
    a->value_len = 0;
    {
        size_t q = p;
        while (q < n && is_space(s[q]))
            q++;
        if (q < n && s[q] == '=') {
            q++;
            while (q < n && is_space(s[q]))
                q++;
            if (q < n && (s[q] == '"' || s[q] == '\'')) {
                const char *end = memchr(s + q + 1, s[q], n - q - 1);
                if (!end) {
                    *i = n; /* unterminated quote: the tag never ends */
                    return 0;
                }
                a->value = s + q + 1;
                a->value_len = (size_t)(end - a->value);
                q = (size_t)(end - s) + 1;
            } else {
                a->value = s + q;
                while (q < n && !is_space(s[q]) && s[q] != '>')
                    q++;
                a->value_len = (size_t)(s + q - a->value);
            }
            p = q;
        }
    }
    *i = p;
    return 1;
}

/* Writes one attribute of element e when allowed. */
static int put_attr(struct buf *out, const struct element *e, const struct attr *a)
{
    char name[16];
    struct buf v = BUF_INIT;
    int rc;

    if (a->name_len == 0 || a->name_len >= sizeof(name))
        return 0;
    for (size_t k = 0; k < a->name_len; k++) {
        if (!is_alnum(a->name[k]) && a->name[k] != '-')
            return 0;
        name[k] = lower(a->name[k]);
    }
    if (!in_list(e->attrs, name, a->name_len) && !in_list(global_attrs, name, a->name_len))
        return 0;
    name[a->name_len] = '\0';
    if (a->value)
        value_decode(&v, a->value, a->value_len);
    rc = buf_addf(out, " %s=\"", name);
    if (rc == 0 && in_list(url_attrs, name, a->name_len))
        rc = markdown_url_attr(out, buf_str(&v), v.len);
    else if (rc == 0)
        rc = put_escaped(out, buf_str(&v), v.len);
    if (rc == 0)
        rc = buf_addc(out, '"');
    buf_release(&v);
    return rc;
}

/* A start tag at s ('<' then a letter): the bytes it takes once written, or 0 when it is not
   a complete tag of an allowed element (the caller then escapes its '<'). */
static size_t start_tag(struct html_filter *f, const char *s, size_t n, struct buf *out, int *rc)
{
    size_t i = 1, name_end, attrs_at;
    struct attr a;
    int k;

    while (i < n && !is_space(s[i]) && s[i] != '/' && s[i] != '>')
        i++;
    name_end = i;
    k = element_find(s + 1, name_end - 1);
    if (k < 0)
        return 0;
    attrs_at = i;
    while (attr_next(s, n, &i, &a)) /* find the end first: an unfinished tag is text */
        ;
    if (i < n && s[i] == '/')
        i++;
    if (i >= n || s[i] != '>')
        return 0;
    if (!elements[k].is_void) {
        if (f->depth == HTML_FILTER_DEPTH)
            return 0;
        f->open[f->depth++] = (unsigned char)k;
    }
    *rc = buf_addf(out, "<%s", elements[k].name);
    for (size_t j = attrs_at; *rc == 0 && attr_next(s, i, &j, &a);)
        *rc = put_attr(out, &elements[k], &a);
    if (*rc == 0)
        *rc = buf_addc(out, '>');
    return i + 1;
}

/* An end tag at s ("</" then a letter): the bytes it takes, or 0 when it does not end. */
static size_t end_tag(struct html_filter *f, const char *s, size_t n, struct buf *out, int *rc)
{
    size_t i = 2, name_end;
    int k;

    while (i < n && !is_space(s[i]) && s[i] != '/' && s[i] != '>')
        i++;
    name_end = i;
    while (i < n && s[i] != '>') /* attributes on an end tag are ignored, as in HTML */
        i++;
    if (i >= n)
        return 0;
    k = element_find(s + 2, name_end - 2);
    for (unsigned d = f->depth; k >= 0 && d > f->floor; d--) {
        if (f->open[d - 1] != k)
            continue;
        while (*rc == 0 && f->depth >= d)
            *rc = buf_addf(out, "</%s>", elements[f->open[--f->depth]].name);
        break;
    }
    return i + 1; /* an end tag of nothing open: dropped */
}

int html_filter(struct html_filter *f, const char *s, size_t n, struct buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t used = 0;
        if (s[i] == '<' && i + 1 < n) {
            char c = s[i + 1];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
                used = start_tag(f, s + i, n - i, out, &rc);
            } else if (c == '/' && i + 2 < n &&
                       ((s[i + 2] >= 'a' && s[i + 2] <= 'z') ||
                        (s[i + 2] >= 'A' && s[i + 2] <= 'Z'))) {
                used = end_tag(f, s + i, n - i, out, &rc);
            } else if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
                const char *end = memmem(s + i + 4, n - i - 4, "-->", 3);
                if (end)
                    used = (size_t)(end - (s + i)) + 3; /* a comment: dropped */
            }
        } else if (s[i] == '&') {
            size_t k = 1;
            while (i + k < n && k < 40 && (is_alnum(s[i + k]) || s[i + k] == '#'))
                k++;
            if (i + k < n && s[i + k] == ';' && markdown_entity_well_formed(s + i, k + 1)) {
                rc = buf_add(out, s + i, k + 1);
                used = k + 1;
            }
        }
        if (used) {
            i += used;
        } else {
            rc = rc ? rc : put_escaped(out, s + i, 1);
            i++;
        }
    }
    return rc;
}

int html_filter_close(struct html_filter *f, unsigned depth, struct buf *out)
{
    int rc = 0;
    while (rc == 0 && f->depth > depth)
        rc = buf_addf(out, "</%s>", elements[f->open[--f->depth]].name);
    return rc;
}
