/*
 * markdown.h - Markdown (CommonMark + GitHub tables, strikethrough, task lists and
 * autolinks) to HTML that is safe to put in a page, and plain-text excerpts.
 *
 * Safe means: raw HTML in the source is shown as text, not passed through (with allow_html
 * it passes through site/html_filter.c's allow-list of elements and attributes), and a link or
 * image can only point at http:, https:, mailto: or a relative URL; anything else becomes "#" with
 * its text kept. Parsing is md4c's; the HTML is written here (site/markdown.c explains why).
 *
 * Threads: no shared state; safe from any thread with distinct buffers.
 */
#ifndef ONEFILE_SITE_MARKDOWN_H
#define ONEFILE_SITE_MARKDOWN_H
#include <stddef.h>

struct buf;

/* Renders Markdown (len bytes, need not be NUL-terminated) as HTML appended to out.
   Raw HTML in the source is escaped, not passed through, unless allow_html is set: then it
   goes through html_filter() (allowed elements and attributes only, URLs checked).
   Link and image URLs go through markdown_url_allowed(); a refused one is written as
   href="#" / src="#" and the link text or alt text is kept. 0 on success; -1 when md4c
   fails or out hit its limit, and then out is left as it was before the call (its toobig
   flag set when the limit was the cause). */
int markdown_render(const char *md, size_t len, int allow_html, struct buf *out);

/* Appends to out a plain-text excerpt of the Markdown source: markup, URLs, code blocks,
   raw HTML and images removed, whitespace collapsed, entities decoded. At most max_chars
   characters (code points, the ellipsis included); when the text is longer it is cut at a
   word boundary (mid-word only when the first word alone is too long, and never inside a
   UTF-8 sequence) and "…" is appended. Invalid UTF-8 in the source comes out as U+FFFD.
   Appends nothing when max_chars is 0, md4c fails or out hits its limit. */
void markdown_excerpt(const char *md, size_t len, size_t max_chars, struct buf *out);

/* Whether url (len bytes) may be a link's href or an image's src: 1 for http:, https:,
   mailto: (any case) and relative URLs ("/x", "x", "#x", "?x", "//host/x", ""), 0 for any
   other scheme. The URL is first decoded the way a browser reads an attribute, and more
   (HTML character references, with or without ';' for numeric ones; %XX; ASCII whitespace
   and control characters anywhere dropped), so "JaVaScRiPt:", " javascript:",
   "java\tscript:", "javascript&#58;", "javascript&colon;" and "javascript%3A" are all
   refused. Conservative: a ':' before the first '/', '?' or '#' needs an allowed scheme,
   and an '&' that is not a known character reference before that point refuses the URL. */
int markdown_url_allowed(const char *url, size_t len);
/* Appends url as an attribute value (the part between double quotes) when
   markdown_url_allowed() takes it: '&' as &amp;, bytes outside a small safe set
   percent-encoded, so it holds no quote, space or '<'; "#" when refused. 0, or -1 when out
   hit its limit. */
int markdown_url_attr(struct buf *out, const char *url, size_t len);
/* The character reference at the start of s (n bytes) decoded: returns the bytes it takes
   and writes its UTF-8 (NUL-terminated) to utf8, or 0 when s does not start with one this
   module knows (numeric ones, and the named ones of ASCII punctuation and common
   typography). */
size_t markdown_entity_decode(const char *s, size_t n, char utf8[8]);
/* Whether s (n bytes) is exactly one well-formed reference ("&name;", "&#N;", "&#xN;"),
   which is safe to copy into HTML as it is. */
int markdown_entity_well_formed(const char *s, size_t n);

#endif
