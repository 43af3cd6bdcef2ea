/*
 * html_filter.h - raw HTML from a post (ONEFILE_MARKDOWN_HTML=1) reduced to an allow-list of
 * elements and attributes, every URL attribute checked like a Markdown link's.
 *
 * What comes out is written here, never copied: an allowed tag is re-serialised as
 * <name attr="escaped value">, anything else that looks like markup (script, iframe, style,
 * on* handlers, style="", <!DOCTYPE>, <?pi?>, CDATA, a tag cut by the end of the input) is
 * shown as escaped text, comments are dropped, and end tags are written only for elements
 * this filter opened, so raw HTML cannot close the theme's elements; html_filter_close()
 * closes what is still open. Used by site/markdown.c for md4c's raw HTML blocks and spans.
 *
 * Threads: the state belongs to one render; no globals but constant tables.
 */
#ifndef ONEFILE_SITE_HTML_FILTER_H
#define ONEFILE_SITE_HTML_FILTER_H
#include <stddef.h>
struct buf;

#define HTML_FILTER_DEPTH 32 /* open elements tracked; deeper opening tags are escaped */

struct html_filter {
    unsigned char open[HTML_FILTER_DEPTH]; /* allowed-element indexes, innermost last */
    unsigned depth;
    unsigned floor; /* end tags close only open[floor..]: the caller's current block's own */
};

#define HTML_FILTER_INIT                                                                           \
    {                                                                                              \
        {0}, 0, 0                                                                                  \
    }

/* Appends the filtered form of s (n bytes of raw HTML: a whole HTML block, or one inline
   piece) to out. 0, or -1 when out hit its limit. */
int html_filter(struct html_filter *f, const char *s, size_t n, struct buf *out);
/* Appends the end tags of the elements open above depth (0: all), innermost first. 0, or -1
   when out hit its limit. */
int html_filter_close(struct html_filter *f, unsigned depth, struct buf *out);
#endif
