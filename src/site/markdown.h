/*
 * markdown.h - Markdown (CommonMark + GitHub tables, strikethrough, task lists and
 * autolinks) to HTML that is safe to put in a page, and plain-text excerpts.
 *
 * Safe means: raw HTML in the source is shown as text, not passed through (unless the
 * caller trusts the author and sets allow_html), and a link or image can only point at
 * http:, https:, mailto: or a relative URL; anything else becomes "#" with its text kept.
 * Parsing is md4c's; the HTML is written here (site/markdown.c explains why).
 *
 * Threads: no shared state; safe from any thread with distinct buffers.
 */
#ifndef ONEFILE_SITE_MARKDOWN_H
#define ONEFILE_SITE_MARKDOWN_H
#include <stddef.h>

struct buf;

/* Renders Markdown (len bytes, need not be NUL-terminated) as HTML appended to out.
   Raw HTML in the source is escaped, not passed through, unless allow_html is set.
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

#endif
