/*
 * theme.c - loading the theme; see theme.h.
 *
 * Every embedded file is a candidate; when override_dir has a file at the same relative
 * path, its bytes are used instead (read once, at start). Nothing on disk is read while
 * serving, so a request for a static file can never reach outside the theme (the name
 * is looked up in a table, not joined to a path).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/embed.h"
#include "core/mem.h"
#include "site/theme.h"
#include "tmpl/tmpl.h"

#define MAX_THEME_FILE (4 * 1024 * 1024)

const char *theme_mime(const char *name)
{
    static const struct {
        const char *ext, *mime;
    } types[] = {
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
        {".html", "text/html; charset=utf-8"},
        {".json", "application/json"},
        {".xml", "application/xml"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].mime;
    return "application/octet-stream";
}

/* The override's bytes for rel, or NULL when there is none. -1 in *bad on a read error. */
static char *read_override(const char *dir, const char *rel, size_t *size, char *err, size_t errlen,
                           int *bad)
{
    *bad = 0;
    if (!dir)
        return NULL;
    char *path = xasprintf("%s/%s", dir, rel);
    struct stat st;
    char *data = NULL;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    FILE *f = fopen(path, "rb");
    if (!f || st.st_size > MAX_THEME_FILE) {
        snprintf(err, errlen, "%s: %s", path, f ? "too large" : strerror(errno));
        *bad = 1;
        if (f)
            fclose(f);
        goto out;
    }
    data = xmalloc((size_t)st.st_size + 1);
    *size = fread(data, 1, (size_t)st.st_size, f);
    data[*size] = '\0';
    fclose(f);
out:
    free(path);
    return data;
}

static void etag_of(const char *data, size_t len, char out[24])
{
    unsigned long long h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)data[i];
        h *= 1099511628211ULL;
    }
    snprintf(out, 24, "\"%016llx\"", h);
}

int theme_load(struct theme *t, const char *override_dir, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    time_t loaded = time(NULL);
    t->templates = tmpl_set_new();
    t->files = xcalloc(embedded_theme_count ? embedded_theme_count : 1, sizeof(*t->files));
    for (unsigned long i = 0; i < embedded_theme_count; i++) {
        const struct embedded_file *ef = &embedded_theme[i];
        size_t size = ef->size;
        int bad;
        char *over = read_override(override_dir, ef->name, &size, err, errlen, &bad);
        if (bad)
            goto fail;
        const char *data = over ? over : (const char *)ef->data;
        if (strncmp(ef->name, "templates/", 10) == 0) {
            int rc = tmpl_set_add(t->templates, ef->name + 10, data, size, err, errlen);
            free(over);
            if (rc < 0)
                goto fail;
        } else if (strncmp(ef->name, "static/", 7) == 0) {
            struct static_file *sf = &t->files[t->nfiles++];
            sf->name = xstrdup(ef->name + 7);
            if (over) {
                sf->data = over;
            } else {
                sf->data = xmalloc(size + 1);
                memcpy(sf->data, data, size + 1); /* embedded data ends with a NUL */
            }
            sf->size = size;
            sf->mime = theme_mime(sf->name);
            etag_of(sf->data, sf->size, sf->etag);
            sf->modified = loaded;
            for (int e = ENCODING_GZIP; e < ENCODING_COUNT && encoding_worth(sf->mime, size); e++)
                if (encoding_compress((enum encoding)e, sf->data, size, &sf->coded[e].data,
                                      &sf->coded[e].size) == 0)
                    sf->codings |= 1u << e;
        } else {
            free(over);
        }
    }
    return 0;
fail:
    theme_release(t);
    return -1;
}

void theme_release(struct theme *t)
{
    if (t->templates)
        tmpl_set_free(t->templates);
    for (size_t i = 0; i < t->nfiles; i++) {
        free(t->files[i].name);
        free(t->files[i].data);
        for (int e = 0; e < ENCODING_COUNT; e++)
            free(t->files[i].coded[e].data);
    }
    free(t->files);
    memset(t, 0, sizeof(*t));
}

const struct static_file *theme_static(const struct theme *t, const char *name)
{
    for (size_t i = 0; i < t->nfiles; i++)
        if (strcmp(t->files[i].name, name) == 0)
            return &t->files[i];
    return NULL;
}
