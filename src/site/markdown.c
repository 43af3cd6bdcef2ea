/*
 * markdown.c - Markdown to safe HTML, and plain-text excerpts; see markdown.h.
 *
 * DESIGN
 *
 * md4c parses; this file writes the HTML. md4c-html's md_html() would be shorter, but it
 * offers no hook on link and image URLs, and filtering its output afterwards means parsing
 * HTML again. With md_parse() and our own callbacks every href and src arrives as an
 * MD_ATTRIBUTE in MD_SPAN_A_DETAIL / MD_SPAN_IMG_DETAIL, and is decided before a byte of
 * the tag is written:
 *
 *     md source --md_parse--> enter/leave block, enter/leave span, text --> struct buf
 *                                                   |
 *                       href/src: decode --> markdown_url_allowed() --> escaped URL or "#"
 *
 * Invariants of the output:
 *   - every byte of source text goes through put_escaped() unless it is raw HTML and the
 *     caller set allow_html (MD_FLAG_NOHTML otherwise, so md4c hands raw HTML over as
 *     plain text); character references are copied only when well-formed (&name; &#N;
 *     &#xN;), which a browser turns into one character and never into markup;
 *   - an attribute value is written between double quotes with &, <, > and " escaped; a URL
 *     is further percent-encoded outside a small safe set, so it has no quote or space;
 *   - the URL a browser follows is the decoded URL that was checked (percent-encoding of
 *     unsafe bytes aside, which cannot create a scheme): character references md4c
 *     reports are decoded before the check (unknown ones stay literal, and their '&' is
 *     written as &amp;), so nothing is decoded a second time by the browser.
 *
 * md4c 0.4.8 reads past the end of its input in some constructs, so it always parses a
 * NUL-padded copy (MD4C_PADDING), never the caller's bytes.
 *
 * Excerpts use the same parser with a second set of callbacks that collect visible text
 * only (no code blocks, raw HTML or images), collapse whitespace and stop md4c as soon as
 * one character more than the excerpt can hold has been seen.
 *
 * Threads: no globals but constant tables; any thread may call any function.
 */
#include "site/markdown.h"

#include <md4c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "site/html_filter.h"

#define REPLACEMENT_CHAR "\xef\xbf\xbd" /* U+FFFD */
#define ELLIPSIS "\xe2\x80\xa6"         /* U+2026 */

/* Rounds of decoding in markdown_url_allowed(): "%2526" needs two to become "&", and each
   round only makes the check stricter. */
#define URL_DECODE_ROUNDS 4

/* md4c 0.4.8 (Debian bookworm) reads past the end of its input in some constructs, and
   then reports text from uninitialised memory (found by fuzzing; the shortest case is a
   document ending in "[]("). It is given a copy followed by this many NUL bytes, which it
   reads as the end of the document. */
#define MD4C_PADDING 16

/* ---------------------------------------------------------------------------------------
 * Characters and character references
 */

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* A NUL-padded copy of md for md_parse() (see MD4C_PADDING); the caller frees it. */
static char *md4c_input(const char *md, size_t len)
{
    char *copy = xcalloc(len + MD4C_PADDING, 1);
    if (len)
        memcpy(copy, md, len);
    return copy;
}

/* Named character references decoded here. Browsers know some 2,000; this table holds the
   ones that decode to ASCII punctuation (what URL obfuscation uses: &colon; &Tab; &sol;)
   and the common typographic ones (for excerpts). An unknown one stays literal text, and
   in a URL's scheme part it makes markdown_url_allowed() refuse the URL.
   Adding one: its name without '&' and ';', and its UTF-8. */
static const struct entity {
    const char *name;
    const char *utf8;
} entities[] = {
    /* clang-format off */
    {"amp", "&"}, {"AMP", "&"}, {"lt", "<"}, {"LT", "<"}, {"gt", ">"}, {"GT", ">"},
    {"quot", "\""}, {"QUOT", "\""}, {"apos", "'"}, {"Tab", "\t"}, {"NewLine", "\n"},
    {"excl", "!"}, {"num", "#"}, {"dollar", "$"}, {"percnt", "%"}, {"lpar", "("},
    {"rpar", ")"}, {"ast", "*"}, {"midast", "*"}, {"plus", "+"}, {"comma", ","},
    {"period", "."}, {"sol", "/"}, {"colon", ":"}, {"semi", ";"}, {"equals", "="},
    {"quest", "?"}, {"commat", "@"}, {"lsqb", "["}, {"lbrack", "["}, {"bsol", "\\"},
    {"rsqb", "]"}, {"rbrack", "]"}, {"Hat", "^"}, {"lowbar", "_"}, {"UnderBar", "_"},
    {"grave", "`"}, {"DiacriticalGrave", "`"}, {"lcub", "{"}, {"lbrace", "{"},
    {"verbar", "|"}, {"vert", "|"}, {"VerticalLine", "|"}, {"rcub", "}"}, {"rbrace", "}"},
    {"fjlig", "fj"}, {"nbsp", "\xc2\xa0"}, {"NonBreakingSpace", "\xc2\xa0"},
    {"shy", "\xc2\xad"}, {"copy", "\xc2\xa9"}, {"reg", "\xc2\xae"}, {"deg", "\xc2\xb0"},
    {"sect", "\xc2\xa7"}, {"para", "\xc2\xb6"}, {"middot", "\xc2\xb7"},
    {"laquo", "\xc2\xab"}, {"raquo", "\xc2\xbb"}, {"pound", "\xc2\xa3"},
    {"times", "\xc3\x97"}, {"divide", "\xc3\xb7"}, {"ndash", "\xe2\x80\x93"},
    {"mdash", "\xe2\x80\x94"}, {"lsquo", "\xe2\x80\x98"}, {"rsquo", "\xe2\x80\x99"},
    {"ldquo", "\xe2\x80\x9c"}, {"rdquo", "\xe2\x80\x9d"}, {"bull", "\xe2\x80\xa2"},
    {"hellip", "\xe2\x80\xa6"}, {"euro", "\xe2\x82\xac"}, {"trade", "\xe2\x84\xa2"},
    {"larr", "\xe2\x86\x90"}, {"rarr", "\xe2\x86\x92"},
    /* clang-format on */
};

/* Writes cp as UTF-8 (NUL-terminated) to out; NUL, surrogates and values beyond U+10FFFF
   become U+FFFD, as in a browser. */
static void utf8_encode(uint32_t cp, char out[8])
{
    unsigned char *o = (unsigned char *)out;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        o[1] = 0;
    } else if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        o[2] = 0;
    } else if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        o[3] = 0;
    } else {
        o[0] = (unsigned char)(0xF0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (unsigned char)(0x80 | (cp & 0x3F));
        o[4] = 0;
    }
}

/* Length of the valid UTF-8 sequence at s (n > 0 bytes available), or 0 when invalid
   (overlong forms, surrogates and values beyond U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))
        return 0;
    return len;
}

/* Decodes the character reference at the start of s (n bytes): returns the bytes it takes
   and writes its UTF-8 to utf8, or returns 0 when s does not start with one this file
   knows. Numeric references need no ';' (browsers read "&#58" in an attribute as ':');
   named ones do. */
size_t markdown_entity_decode(const char *s, size_t n, char utf8[8])
{
    size_t i, start;
    if (n < 3 || s[0] != '&')
        return 0;
    if (s[1] == '#') {
        int hex = (s[2] == 'x' || s[2] == 'X');
        uint32_t cp = 0;
        start = i = hex ? 3 : 2;
        for (; i < n; i++) {
            int d = hex ? hexval(s[i]) : (is_digit(s[i]) ? s[i] - '0' : -1);
            if (d < 0)
                break;
            if (cp <= 0x10FFFF) /* saturates: stays beyond U+10FFFF once there */
                cp = cp * (hex ? 16 : 10) + (uint32_t)d;
        }
        if (i == start)
            return 0;
        if (i < n && s[i] == ';')
            i++;
        utf8_encode(cp, utf8);
        return i;
    }
    start = i = 1;
    while (i < n && i - start < 32 && (is_alpha(s[i]) || is_digit(s[i])))
        i++;
    if (i == start || i >= n || s[i] != ';')
        return 0;
    for (size_t k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
        const char *name = entities[k].name;
        if (strlen(name) == i - start && memcmp(name, s + start, i - start) == 0) {
            snprintf(utf8, 8, "%s", entities[k].utf8);
            return i + 1;
        }
    }
    return 0;
}

/* Whether s (n bytes) is exactly one well-formed character reference: "&name;", "&#N;"
   or "&#xN;". Such a reference is safe to copy into HTML as it is. */
int markdown_entity_well_formed(const char *s, size_t n)
{
    size_t i;
    if (n < 4 || s[0] != '&' || s[n - 1] != ';')
        return 0;
    if (s[1] == '#') {
        int hex = (s[2] == 'x' || s[2] == 'X');
        i = hex ? 3 : 2;
        if (i >= n - 1)
            return 0;
        for (; i < n - 1; i++)
            if (hex ? hexval(s[i]) < 0 : !is_digit(s[i]))
                return 0;
        return 1;
    }
    if (!is_alpha(s[1]))
        return 0;
    for (i = 2; i < n - 1; i++)
        if (!is_alpha(s[i]) && !is_digit(s[i]))
            return 0;
    return 1;
}

/* ---------------------------------------------------------------------------------------
 * The URL filter
 */

/* Adding a scheme: one line, lower case, without the ':'. */
static const char *const allowed_schemes[] = {"http", "https", "mailto"};

/* ASCII whitespace and control characters, which browsers drop from a URL's start (and
   tab and newlines from anywhere); dropped everywhere here. */
static int url_strip(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

/* One round: character references and %XX decoded, whitespace and controls dropped. */
static void url_decode_once(struct buf *out, const char *s, size_t n)
{
    char utf8[8];
    for (size_t i = 0; i < n;) {
        size_t used = s[i] == '&' ? markdown_entity_decode(s + i, n - i, utf8) : 0;
        if (used) {
            for (const char *p = utf8; *p; p++)
                if (!url_strip((unsigned char)*p))
                    buf_addc(out, *p);
            i += used;
        } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            char c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            if (!url_strip((unsigned char)c))
                buf_addc(out, c);
            i += 3;
        } else {
            if (!url_strip((unsigned char)s[i]))
                buf_addc(out, s[i]);
            i++;
        }
    }
}

/* The scheme decision on a decoded URL. */
static int url_scheme_allowed(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '/' || s[i] == '?' || s[i] == '#')
            return 1; /* relative: path, query, fragment or "//host" */
        if (s[i] == '&')
            return 0; /* a reference not decoded: the browser might know it */
        if (s[i] != ':')
            continue;
        for (size_t k = 0; k < sizeof(allowed_schemes) / sizeof(allowed_schemes[0]); k++) {
            const char *scheme = allowed_schemes[k];
            size_t j = 0;
            if (strlen(scheme) != i)
                continue;
            while (j < i && lower(s[j]) == scheme[j])
                j++;
            if (j == i)
                return 1;
        }
        return 0;
    }
    return 1; /* no ':' at all: a relative path */
}

int markdown_url_allowed(const char *url, size_t len)
{
    struct buf a = BUF_INIT, b = BUF_INIT, tmp;
    int allowed;

    buf_add(&a, url, len);
    for (int round = 0; round < URL_DECODE_ROUNDS; round++) {
        int same;
        buf_reset(&b);
        url_decode_once(&b, buf_str(&a), a.len);
        same = b.len == a.len && memcmp(buf_str(&a), buf_str(&b), a.len) == 0;
        tmp = a;
        a = b;
        b = tmp;
        if (same)
            break;
    }
    allowed = url_scheme_allowed(buf_str(&a), a.len);
    buf_release(&a);
    buf_release(&b);
    return allowed;
}

/* ---------------------------------------------------------------------------------------
 * HTML rendering
 */

struct render {
    struct buf *out;
    int allow_html;
    struct html_filter html; /* raw HTML's open elements (allow_html) */
    struct buf html_block;   /* the raw HTML block being read: filtered whole at its end */
    int in_html_block;
    struct buf html_span; /* consecutive inline raw HTML pieces: one tag may span lines */
    unsigned floors[64];  /* html.floor of each enclosing block, to restore at its end */
    unsigned level;       /* blocks entered (floors[] holds the first 64) */
    int image_nesting;    /* > 0 inside ![...](...): text goes to alt="", tags are dropped */
    int full;             /* out hit its limit: stop md4c */
};

static void put(struct render *r, const char *s, size_t n)
{
    if (!r->full && buf_add(r->out, s, n) < 0)
        r->full = 1;
}

static void put_str(struct render *r, const char *s)
{
    put(r, s, strlen(s));
}

/* Text or attribute value with &, <, >, " and ' replaced by references. */
static void put_escaped(struct render *r, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ent;
        /* clang-format off */
        switch (s[i]) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default: continue;
        }
        /* clang-format on */
        put(r, s + run, i - run);
        put_str(r, ent);
        run = i + 1;
    }
    put(r, s + run, n - run);
}

/* A character reference md4c recognised: copied when well-formed, escaped otherwise. */
static void put_entity(struct render *r, const char *s, size_t n)
{
    if (markdown_entity_well_formed(s, n))
        put(r, s, n);
    else
        put_escaped(r, s, n);
}

int markdown_url_attr(struct buf *out, const char *url, size_t len)
{
    static const char safe[] = "-_.~!*(),%#@?=;:/+$[]";
    int rc = 0;
    if (!markdown_url_allowed(url, len))
        return buf_addc(out, '#');
    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char c = (unsigned char)url[i];
        if (is_alpha((char)c) || is_digit((char)c) || (c && strchr(safe, c)))
            rc = buf_addc(out, (char)c);
        else if (c == '&')
            rc = buf_adds(out, "&amp;");
        else
            rc = buf_addf(out, "%%%02X", c);
    }
    return rc;
}

/* A text attribute (title, code language) as an escaped attribute value. */
static void put_attr_text(struct render *r, const MD_ATTRIBUTE *a)
{
    for (unsigned i = 0; a->substr_offsets[i] < a->size; i++) {
        const char *s = a->text + a->substr_offsets[i];
        size_t n = a->substr_offsets[i + 1] - a->substr_offsets[i];
        if (a->substr_types[i] == MD_TEXT_NULLCHAR)
            put_str(r, REPLACEMENT_CHAR);
        else if (a->substr_types[i] == MD_TEXT_ENTITY)
            put_entity(r, s, n);
        else
            put_escaped(r, s, n);
    }
}

/* A link's href or an image's src: decoded as the browser would see it, checked, written
   escaped, or "#" when refused. */
static void put_attr_url(struct render *r, const MD_ATTRIBUTE *a)
{
    struct buf url = BUF_INIT;
    char utf8[8];
    for (unsigned i = 0; a->substr_offsets[i] < a->size; i++) {
        const char *s = a->text + a->substr_offsets[i];
        size_t n = a->substr_offsets[i + 1] - a->substr_offsets[i];
        if (a->substr_types[i] == MD_TEXT_NULLCHAR)
            buf_adds(&url, REPLACEMENT_CHAR);
        else if (a->substr_types[i] == MD_TEXT_ENTITY && markdown_entity_decode(s, n, utf8) == n)
            buf_adds(&url, utf8);
        else
            buf_add(&url, s, n);
    }
    if (!r->full && markdown_url_attr(r->out, buf_str(&url), url.len) < 0)
        r->full = 1;
    buf_release(&url);
}

/* Blocks whose tags need no detail. Adding one: its open and close tags here; a block
   with attributes gets a case in on_enter_block() instead. */
static const struct tags {
    const char *open, *close;
} block_tags[] = {
    [MD_BLOCK_DOC] = {"", ""},
    [MD_BLOCK_QUOTE] = {"<blockquote>\n", "</blockquote>\n"},
    [MD_BLOCK_UL] = {"<ul>\n", "</ul>\n"},
    [MD_BLOCK_OL] = {"<ol>\n", "</ol>\n"},
    [MD_BLOCK_LI] = {"<li>", "</li>\n"},
    [MD_BLOCK_HR] = {"<hr>\n", ""},
    [MD_BLOCK_H] = {"", ""}, /* tags name the level: on_enter/leave_block() */
    [MD_BLOCK_CODE] = {"<pre><code>", "</code></pre>\n"},
    [MD_BLOCK_HTML] = {"", ""},
    [MD_BLOCK_P] = {"<p>", "</p>\n"},
    [MD_BLOCK_TABLE] = {"<table>\n", "</table>\n"},
    [MD_BLOCK_THEAD] = {"<thead>\n", "</thead>\n"},
    [MD_BLOCK_TBODY] = {"<tbody>\n", "</tbody>\n"},
    [MD_BLOCK_TR] = {"<tr>\n", "</tr>\n"},
    [MD_BLOCK_TH] = {"<th>", "</th>\n"},
    [MD_BLOCK_TD] = {"<td>", "</td>\n"},
};

static const char *const align_attr[] = {
    [MD_ALIGN_DEFAULT] = "",
    [MD_ALIGN_LEFT] = " align=\"left\"",
    [MD_ALIGN_CENTER] = " align=\"center\"",
    [MD_ALIGN_RIGHT] = " align=\"right\"",
};

/* Raw HTML (allow_html) through the allow-list filter. */
static void put_html(struct render *r, const char *s, size_t n)
{
    if (!r->full && html_filter(&r->html, s, n, r->out) < 0)
        r->full = 1;
}

/* Inline raw HTML collected so far (md4c reports a tag that spans lines in pieces), filtered;
   called before anything else is written. */
static void flush_html_span(struct render *r)
{
    if (r->html_span.len) {
        put_html(r, buf_str(&r->html_span), r->html_span.len);
        buf_reset(&r->html_span);
    }
}

/* A Markdown block (not a raw HTML one) starts: raw HTML inside it may close only what it
   opens itself, and at its end whatever it left open is closed. */
static void html_block_enter(struct render *r)
{
    if (r->level < sizeof(r->floors) / sizeof(r->floors[0])) {
        r->floors[r->level] = r->html.floor;
        r->html.floor = r->html.depth;
    }
    r->level++;
}

static void html_block_leave(struct render *r)
{
    flush_html_span(r);
    if (--r->level < sizeof(r->floors) / sizeof(r->floors[0])) {
        if (!r->full && html_filter_close(&r->html, r->html.floor, r->out) < 0)
            r->full = 1;
        r->html.floor = r->floors[r->level];
    }
}

static int on_enter_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
    struct render *r = ud;
    char tag[48];

    flush_html_span(r);
    if (type != MD_BLOCK_HTML)
        html_block_enter(r);

    switch (type) {
    case MD_BLOCK_OL: {
        const MD_BLOCK_OL_DETAIL *d = detail;
        if (d->start == 1)
            break;
        snprintf(tag, sizeof(tag), "<ol start=\"%u\">\n", d->start);
        put_str(r, tag);
        return r->full;
    }
    case MD_BLOCK_LI: {
        const MD_BLOCK_LI_DETAIL *d = detail;
        if (!d->is_task)
            break;
        put_str(r, "<li class=\"task-list-item\"><input type=\"checkbox\" disabled");
        put_str(r, d->task_mark == ' ' ? ">" : " checked>");
        return r->full;
    }
    case MD_BLOCK_H: {
        const MD_BLOCK_H_DETAIL *d = detail;
        snprintf(tag, sizeof(tag), "<h%u>", d->level);
        put_str(r, tag);
        return r->full;
    }
    case MD_BLOCK_CODE: {
        const MD_BLOCK_CODE_DETAIL *d = detail;
        if (d->lang.size == 0)
            break;
        put_str(r, "<pre><code class=\"language-");
        put_attr_text(r, &d->lang);
        put_str(r, "\">");
        return r->full;
    }
    case MD_BLOCK_TH:
    case MD_BLOCK_TD: {
        const MD_BLOCK_TD_DETAIL *d = detail;
        unsigned align = d->align < 4 ? (unsigned)d->align : 0;
        put_str(r, type == MD_BLOCK_TH ? "<th" : "<td");
        put_str(r, align_attr[align]);
        put_str(r, ">");
        return r->full;
    }
    case MD_BLOCK_HTML: /* its lines are collected and filtered whole: a tag may span lines */
        r->in_html_block = r->allow_html;
        return 0;
    default:
        break;
    }
    if ((size_t)type < sizeof(block_tags) / sizeof(block_tags[0]) && block_tags[type].open)
        put_str(r, block_tags[type].open);
    return r->full;
}

static int on_leave_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
    struct render *r = ud;
    if (type == MD_BLOCK_HTML) {
        if (r->in_html_block)
            put_html(r, buf_str(&r->html_block), r->html_block.len);
        r->in_html_block = 0;
        buf_reset(&r->html_block);
        return r->full;
    }
    html_block_leave(r);
    if (type == MD_BLOCK_H) {
        const MD_BLOCK_H_DETAIL *d = detail;
        char tag[16];
        snprintf(tag, sizeof(tag), "</h%u>\n", d->level);
        put_str(r, tag);
    } else if ((size_t)type < sizeof(block_tags) / sizeof(block_tags[0]) &&
               block_tags[type].close) {
        put_str(r, block_tags[type].close);
    }
    return r->full;
}

/* Spans whose tags need no detail. Adding one: here, and its MD_FLAG_ in render_flags. */
static const struct tags span_tags[] = {
    [MD_SPAN_EM] = {"<em>", "</em>"},
    [MD_SPAN_STRONG] = {"<strong>", "</strong>"},
    [MD_SPAN_CODE] = {"<code>", "</code>"},
    [MD_SPAN_DEL] = {"<del>", "</del>"},
};

static int on_enter_span(MD_SPANTYPE type, void *detail, void *ud)
{
    struct render *r = ud;

    flush_html_span(r);
    if (type == MD_SPAN_IMG) {
        const MD_SPAN_IMG_DETAIL *d = detail;
        if (r->image_nesting++ == 0) {
            put_str(r, "<img src=\"");
            put_attr_url(r, &d->src);
            put_str(r, "\" alt=\"");
        }
        return r->full;
    }
    if (r->image_nesting)
        return 0; /* inside alt="": text only */
    if (type == MD_SPAN_A) {
        const MD_SPAN_A_DETAIL *d = detail;
        put_str(r, "<a href=\"");
        put_attr_url(r, &d->href);
        if (d->title.size) {
            put_str(r, "\" title=\"");
            put_attr_text(r, &d->title);
        }
        put_str(r, "\">");
    } else if ((size_t)type < sizeof(span_tags) / sizeof(span_tags[0]) && span_tags[type].open) {
        put_str(r, span_tags[type].open);
    }
    return r->full;
}

static int on_leave_span(MD_SPANTYPE type, void *detail, void *ud)
{
    struct render *r = ud;

    flush_html_span(r);
    if (type == MD_SPAN_IMG) {
        const MD_SPAN_IMG_DETAIL *d = detail;
        if (--r->image_nesting == 0) {
            if (d->title.size) {
                put_str(r, "\" title=\"");
                put_attr_text(r, &d->title);
            }
            put_str(r, "\">");
        }
        return r->full;
    }
    if (r->image_nesting)
        return 0;
    if (type == MD_SPAN_A)
        put_str(r, "</a>");
    else if ((size_t)type < sizeof(span_tags) / sizeof(span_tags[0]) && span_tags[type].close)
        put_str(r, span_tags[type].close);
    return r->full;
}

static int on_text(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *ud)
{
    struct render *r = ud;

    if (r->in_html_block) { /* raw HTML block lines (and their NULs): filtered at its end */
        buf_add(&r->html_block, type == MD_TEXT_NULLCHAR ? REPLACEMENT_CHAR : text,
                type == MD_TEXT_NULLCHAR ? strlen(REPLACEMENT_CHAR) : size);
        return r->full;
    }
    if (type == MD_TEXT_HTML && r->allow_html && !r->image_nesting) {
        buf_add(&r->html_span, text, size);
        return r->full;
    }
    if (type == MD_TEXT_SOFTBR && r->html_span.len) { /* inside a tag, or between two */
        buf_addc(&r->html_span, '\n');
        return r->full;
    }
    flush_html_span(r);
    switch (type) {
    case MD_TEXT_NULLCHAR:
        put_str(r, REPLACEMENT_CHAR);
        break;
    case MD_TEXT_BR:
        put_str(r, r->image_nesting ? " " : "<br>\n");
        break;
    case MD_TEXT_SOFTBR:
        put_str(r, r->image_nesting ? " " : "\n");
        break;
    case MD_TEXT_ENTITY:
        put_entity(r, text, size);
        break;
    case MD_TEXT_HTML: /* not allowed, or inside an image's alt="" */
        put_escaped(r, text, size);
        break;
    default: /* MD_TEXT_NORMAL, MD_TEXT_CODE */
        put_escaped(r, text, size);
        break;
    }
    return r->full;
}

int markdown_render(const char *md, size_t len, int allow_html, struct buf *out)
{
    struct render r = {.out = out, .allow_html = allow_html, .html = HTML_FILTER_INIT};
    const MD_PARSER parser = {
        .flags = MD_DIALECT_GITHUB | (allow_html ? 0 : MD_FLAG_NOHTML),
        .enter_block = on_enter_block,
        .leave_block = on_leave_block,
        .enter_span = on_enter_span,
        .leave_span = on_leave_span,
        .text = on_text,
    };
    size_t start = out->len;
    char *input = NULL;
    int ret = -1;
    int rc;

    if (len > (MD_SIZE)-1 - MD4C_PADDING) {
        ret = log_err("markdown: %zu bytes is more than md4c takes", len);
        goto out;
    }
    input = md4c_input(md, len);
    rc = md_parse(input, (MD_SIZE)len, &parser, &r);
    flush_html_span(&r);
    if (!r.full && html_filter_close(&r.html, 0, out) < 0)
        r.full = 1;
    if (r.full)
        goto out; /* the caller sees out->toobig: no log, it is the input's size */
    if (rc != 0) {
        ret = log_err("markdown: md4c failed (%d) on %zu bytes", rc, len);
        goto out;
    }
    ret = 0;
out:
    free(input);
    buf_release(&r.html_block);
    buf_release(&r.html_span);
    if (ret < 0 && out->len > start) {
        out->len = start;
        out->data[start] = '\0';
    }
    return ret;
}

/* ---------------------------------------------------------------------------------------
 * Excerpts
 */

struct excerpt {
    struct buf text; /* visible text, whitespace collapsed to single spaces, valid UTF-8 */
    size_t chars;    /* code points in text */
    size_t want;     /* stop once this many have been collected */
    int space;       /* a space is due before the next visible character */
    int skip;        /* > 0 inside a code block, raw HTML block or image: text dropped */
};

/* Appends visible text, collapsing whitespace and replacing invalid UTF-8. */
static void excerpt_add(struct excerpt *e, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n && e->chars < e->want;) {
        size_t k = utf8_seq(u + i, n - i);
        if (k == 1 && url_strip(u[i])) { /* ASCII whitespace and controls */
            e->space = 1;
            i++;
            continue;
        }
        if (e->space && e->chars) {
            buf_addc(&e->text, ' ');
            if (++e->chars == e->want)
                break;
        }
        e->space = 0;
        if (k)
            buf_add(&e->text, s + i, k);
        else
            buf_adds(&e->text, REPLACEMENT_CHAR);
        e->chars++;
        i += k ? k : 1;
    }
}

static int excerpt_enter_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
    struct excerpt *e = ud;
    (void)detail;
    if (type == MD_BLOCK_CODE || type == MD_BLOCK_HTML)
        e->skip++;
    e->space = 1;
    return 0;
}

static int excerpt_leave_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
    struct excerpt *e = ud;
    (void)detail;
    if (type == MD_BLOCK_CODE || type == MD_BLOCK_HTML)
        e->skip--;
    e->space = 1;
    return 0;
}

static int excerpt_enter_span(MD_SPANTYPE type, void *detail, void *ud)
{
    struct excerpt *e = ud;
    (void)detail;
    if (type == MD_SPAN_IMG)
        e->skip++;
    return 0;
}

static int excerpt_leave_span(MD_SPANTYPE type, void *detail, void *ud)
{
    struct excerpt *e = ud;
    (void)detail;
    if (type == MD_SPAN_IMG)
        e->skip--;
    return 0;
}

static int excerpt_text(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *ud)
{
    struct excerpt *e = ud;
    char utf8[8];

    if (e->skip)
        return 0;
    switch (type) {
    case MD_TEXT_HTML: /* inline raw HTML: markup, dropped */
        break;
    case MD_TEXT_BR:
    case MD_TEXT_SOFTBR:
        e->space = 1;
        break;
    case MD_TEXT_NULLCHAR:
        excerpt_add(e, REPLACEMENT_CHAR, 3);
        break;
    case MD_TEXT_ENTITY:
        if (markdown_entity_decode(text, size, utf8) == size)
            excerpt_add(e, utf8, strlen(utf8));
        else
            excerpt_add(e, text, size);
        break;
    default:
        excerpt_add(e, text, size);
        break;
    }
    return e->chars >= e->want; /* enough: stop md4c */
}

void markdown_excerpt(const char *md, size_t len, size_t max_chars, struct buf *out)
{
    struct excerpt e = {
        .text = BUF_INIT,
        .want = max_chars < SIZE_MAX ? max_chars + 1 : SIZE_MAX, /* one more: cut or not */
    };
    const MD_PARSER parser = {
        .flags = MD_DIALECT_GITHUB, /* raw HTML recognised, so that it can be dropped */
        .enter_block = excerpt_enter_block,
        .leave_block = excerpt_leave_block,
        .enter_span = excerpt_enter_span,
        .leave_span = excerpt_leave_span,
        .text = excerpt_text,
    };
    char *input = NULL;
    const char *t;
    size_t cut = 0;

    if (max_chars == 0 || len > (MD_SIZE)-1 - MD4C_PADDING)
        goto out;
    input = md4c_input(md, len);
    if (md_parse(input, (MD_SIZE)len, &parser, &e) < 0)
        goto out;
    t = buf_str(&e.text);
    if (e.chars <= max_chars) {
        buf_add(out, t, e.text.len);
        goto out;
    }
    /* Too long: keep max_chars - 1 characters at most, and the ellipsis. */
    for (size_t kept = 0; kept < max_chars - 1; kept++)
        cut += utf8_seq((const unsigned char *)t + cut, e.text.len - cut);
    if (t[cut] != ' ') { /* mid-word: back to the last space, if there is one */
        size_t sp = cut;
        while (sp > 0 && t[sp - 1] != ' ')
            sp--;
        if (sp > 0)
            cut = sp - 1;
    }
    while (cut > 0 &&
           (t[cut - 1] == ' ' || t[cut - 1] == ',' || t[cut - 1] == ';' || t[cut - 1] == ':'))
        cut--;
    if (buf_add(out, t, cut) == 0)
        buf_adds(out, ELLIPSIS);
out:
    free(input);
    buf_release(&e.text);
}
