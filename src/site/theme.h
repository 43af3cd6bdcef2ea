/*
 * theme.h - the site's look: templates (compiled once at start) and static files, from the
 * theme embedded in the binary, each file overridable by a file of the same name under
 * ONEFILE_THEME_DIR (templates/post.html, static/style.css, ...), so an owner restyles
 * the site without recompiling.
 *
 * Threads: loaded at start-up by serve, read-only afterwards.
 */
#ifndef ONEFILE_SITE_THEME_H
#define ONEFILE_SITE_THEME_H
#include <stddef.h>
#include <time.h>

#include "http/encoding.h"

struct tmpl_set;

struct static_file {
    char *name; /* "style.css" (relative to static/) */
    char *data;
    size_t size;
    char etag[24];    /* strong validator of the bytes */
    const char *mime; /* from the extension */
    /* compressed once at load, for a compressible type of ENCODING_MIN_BYTES or more:
       coded[e] (e a coding, not identity) when it came out smaller, `codings` the mask */
    struct {
        char *data;
        size_t size;
    } coded[ENCODING_COUNT];
    unsigned codings;
    time_t modified; /* Last-Modified: when the theme was loaded */
};

struct theme {
    struct tmpl_set *templates; /* by name: "post.html", "feed.xml" */
    struct static_file *files;
    size_t nfiles;
};

/* Loads the embedded theme and the overrides found in override_dir (may be NULL).
   0, or -1 with err filled (a template error names its file and line). */
int theme_load(struct theme *t, const char *override_dir, char *err, size_t errlen);
void theme_release(struct theme *t);
/* A static file by its name under static/, or NULL. */
const struct static_file *theme_static(const struct theme *t, const char *name);
/* The MIME type for a file name's extension. */
const char *theme_mime(const char *name);
#endif
