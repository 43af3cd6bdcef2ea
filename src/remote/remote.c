/*
 * remote.c - backup destinations: the directory backend here, S3 in s3.c; see remote.h.
 *
 * Directory layout: NAME (the object) and NAME.json (its metadata), both written to a
 * hidden ".NAME.tmp-XXXXXX" first, fsync'ed, renamed into place, then the directory
 * fsync'ed: a crash leaves either the whole object or a hidden temporary file, which
 * listing ignores.
 */
#include "remote/remote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "remote/s3.h"

#define READ_BYTES (1024 * 1024)

struct remote {
    char *url;
    char *dir;     /* file:// */
    struct s3 *s3; /* s3:// */
};

void remote_meta_init(struct remote_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->size = m->source_size = m->schema_version = -1;
}

int remote_open(const struct config *cfg, const char *url, struct remote **out, char *err,
                size_t errlen)
{
    struct remote *r = xcalloc(1, sizeof(*r));
    int rc = -1;
    r->url = xstrdup(url);
    if (strncmp(url, "file://", 7) == 0) {
        if (url[7] != '/') {
            snprintf(err, errlen, "'%s': a file URL needs an absolute path (file:///dir)", url);
            goto out;
        }
        r->dir = xstrdup(url + 7);
        size_t n = strlen(r->dir);
        while (n > 1 && r->dir[n - 1] == '/')
            r->dir[--n] = '\0';
    } else if (strncmp(url, "s3://", 5) == 0) {
        const char *b = url + 5, *slash = strchr(b, '/');
        size_t blen = slash ? (size_t)(slash - b) : strlen(b);
        if (blen < 3 || blen > 63 || strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") < blen) {
            snprintf(err, errlen,
                     "'%s': the bucket name must be 3-63 lower-case letters, "
                     "digits, '.' or '-'",
                     url);
            goto out;
        }
        char *bucket = xstrndup(b, blen);
        const char *p = slash ? slash + 1 : "";
        size_t plen = strlen(p);
        while (plen > 0 && p[plen - 1] == '/')
            plen--;
        char *prefix = plen ? xasprintf("%.*s/", (int)plen, p) : xstrdup("");
        const char *mode = cfg->s3_addressing ? cfg->s3_addressing : "auto";
        struct s3_options o = {
            .bucket = bucket,
            .prefix = prefix,
            .endpoint = cfg->aws_endpoint_url,
            .region = cfg->aws_region,
            .access_key = cfg->aws_access_key_id,
            .secret_key = cfg->aws_secret_access_key,
            .addressing = strcmp(mode, "path") == 0      ? S3_PATH
                          : strcmp(mode, "virtual") == 0 ? S3_VIRTUAL
                                                         : S3_AUTO,
        };
        r->s3 = s3_new(&o);
        free(bucket);
        free(prefix);
    } else {
        snprintf(err, errlen, "'%s': backups go to file:///dir or s3://bucket/prefix", url);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        remote_free(r);
        r = NULL;
    }
    *out = r;
    return rc;
}

void remote_free(struct remote *r)
{
    if (!r)
        return;
    s3_free(r->s3);
    free(r->dir);
    free(r->url);
    free(r);
}

const char *remote_url(const struct remote *r)
{
    return r->url;
}

char *remote_object_url(const struct remote *r, const char *name)
{
    size_t n = strlen(r->url);
    return xasprintf("%s%s%s", r->url, n && r->url[n - 1] == '/' ? "" : "/", name);
}

/* --- directory backend --- */

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char *d = xstrdup(dir);
    int rc = -1;
    for (char *p = d + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(d, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", d, strerror(errno));
            goto out;
        }
        *p = c;
        if (!c)
            break;
    }
    rc = 0;
out:
    free(d);
    return rc;
}

/* Writes len bytes of data to dir/name through a synced temporary file. */
static int write_whole(const char *dir, const char *name, const char *data, size_t len, char *err,
                       size_t errlen)
{
    char *tmp = xasprintf("%s/.%s.tmp-XXXXXX", dir, name);
    char *path = xasprintf("%s/%s", dir, name);
    int rc = -1, fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a file in %s: %s", dir, strerror(errno));
        goto out;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "writing %s: %s", path, w < 0 ? strerror(errno) : "short write");
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "storing %s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

static char *meta_json(const char *name, const struct remote_meta *m)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s?, s:s}", "name", name, "sha256", m->sha256, "size",
        (json_int_t)m->size, "source_size", (json_int_t)m->source_size, "schema_version",
        (json_int_t)m->schema_version, "onefile_version", m->onefile_version, "compression",
        m->compression, "key_id", m->key_id[0] ? m->key_id : NULL, "created_at", m->created_at);
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

static void meta_from_json(json_t *o, struct remote_meta *m)
{
#define STR(field, key)                                                                            \
    do {                                                                                           \
        const char *v = json_string_value(json_object_get(o, key));                                \
        if (v)                                                                                     \
            snprintf(m->field, sizeof(m->field), "%s", v);                                         \
    } while (0)
#define INT(field, key)                                                                            \
    do {                                                                                           \
        json_t *v = json_object_get(o, key);                                                       \
        if (json_is_integer(v))                                                                    \
            m->field = (long long)json_integer_value(v);                                           \
    } while (0)
    STR(sha256, "sha256");
    STR(onefile_version, "onefile_version");
    STR(compression, "compression");
    STR(key_id, "key_id");
    STR(created_at, "created_at");
    INT(size, "size"); /* the size recorded when it was stored: truncation shows */
    INT(source_size, "source_size");
    INT(schema_version, "schema_version");
#undef STR
#undef INT
}

struct fput {
    struct stream s;
    char *dir, *name, *tmp;
    int fd;
    struct remote_meta *meta;
    uint64_t total;
};

static int fput_write(struct stream *s, const uint8_t *p, size_t n)
{
    struct fput *f = (struct fput *)s;
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return stream_fail(s, "writing %s: %s", f->tmp,
                               w < 0 ? strerror(errno) : "short write");
        p += w;
        n -= (size_t)w;
        f->total += (uint64_t)w;
    }
    return 0;
}

static int fput_finish(struct stream *s)
{
    struct fput *f = (struct fput *)s;
    char *path = xasprintf("%s/%s", f->dir, f->name);
    char *side = xasprintf("%s.json", f->name);
    char *js = NULL;
    int rc = -1;
    f->meta->size = (long long)f->total;
    if (fsync(f->fd) != 0 || close(f->fd) != 0) {
        f->fd = -1;
        stream_fail(s, "writing %s: %s", f->tmp, strerror(errno));
        goto out;
    }
    f->fd = -1;
    if (rename(f->tmp, path) != 0) {
        stream_fail(s, "storing %s: %s", path, strerror(errno));
        goto out;
    }
    free(f->tmp);
    f->tmp = NULL;
    js = meta_json(f->name, f->meta);
    if (write_whole(f->dir, side, js, strlen(js), s->err, s->errlen) < 0) {
        s->failed = 1;
        goto out;
    }
    if (fsync_dir(f->dir) != 0) {
        stream_fail(s, "syncing %s: %s", f->dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(js);
    free(side);
    free(path);
    return rc;
}

static void fput_free(struct stream *s)
{
    struct fput *f = (struct fput *)s;
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp)
        unlink(f->tmp); /* not committed */
    free(f->tmp);
    free(f->dir);
    free(f->name);
    free(f);
}

static struct stream *file_put(struct remote *r, const char *name, struct remote_meta *meta,
                               char *err, size_t errlen)
{
    struct fput *f = xcalloc(1, sizeof(*f));
    stream_init(&f->s, fput_write, fput_finish, fput_free, NULL, err, errlen);
    f->dir = xstrdup(r->dir);
    f->name = xstrdup(name);
    f->meta = meta;
    f->fd = -1;
    f->tmp = xasprintf("%s/.%s.tmp-XXXXXX", r->dir, name);
    char e[512];
    if (make_dirs(r->dir, e, sizeof(e)) < 0) {
        stream_fail(&f->s, "%s", e);
    } else if ((f->fd = mkstemp(f->tmp)) < 0) {
        stream_fail(&f->s, "cannot create a file in %s: %s", r->dir, strerror(errno));
        free(f->tmp);
        f->tmp = NULL;
    }
    return &f->s;
}

static int file_get(struct remote *r, const char *name, struct stream *into, char *err,
                    size_t errlen)
{
    char *path = xasprintf("%s/%s", r->dir, name);
    uint8_t *b = NULL;
    int rc = -1, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? REMOTE_ENOTFOUND : -1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    b = xmalloc(READ_BYTES);
    for (;;) {
        ssize_t n = read(fd, b, READ_BYTES);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "reading %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (stream_write(into, b, (size_t)n) < 0) {
            if (into->err != err)
                snprintf(err, errlen, "%s", into->err);
            goto out;
        }
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(b);
    free(path);
    return rc;
}

static int file_stat(struct remote *r, const char *name, struct remote_meta *meta, char *err,
                     size_t errlen)
{
    char *path = xasprintf("%s/%s", r->dir, name);
    char *side = xasprintf("%s.json", path);
    struct stat st;
    int rc = -1;
    if (stat(path, &st) != 0) {
        rc = errno == ENOENT ? REMOTE_ENOTFOUND : -1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    meta->size = (long long)st.st_size;
    json_error_t je;
    json_t *o = json_load_file(side, 0, &je);
    if (o) {
        meta_from_json(o, meta);
        json_decref(o);
    }
    rc = 0;
out:
    free(side);
    free(path);
    return rc;
}

static int file_list(struct remote *r, struct remote_object **out, size_t *n, char *err,
                     size_t errlen)
{
    DIR *d = opendir(r->dir);
    struct remote_object *items = NULL;
    size_t count = 0, alloc = 0;
    if (!d && errno == ENOENT)
        return 0; /* nothing stored yet: the first backup creates it */
    if (!d) {
        snprintf(err, errlen, "%s: %s", r->dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "onefile-", 8) != 0 || len >= sizeof(items->name) ||
            (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0))
            continue;
        char *path = xasprintf("%s/%s", r->dir, e->d_name);
        struct stat st;
        int ok = stat(path, &st) == 0 && S_ISREG(st.st_mode);
        free(path);
        if (!ok)
            continue;
        if (count == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            items = xrealloc(items, alloc * sizeof(*items));
        }
        memcpy(items[count].name, e->d_name, len + 1); /* len < sizeof(name), checked above */
        items[count].size = (long long)st.st_size;
        items[count].mtime = (long long)st.st_mtime;
        count++;
    }
    closedir(d);
    *out = items;
    *n = count;
    return 0;
}

static int file_delete(struct remote *r, const char *name, char *err, size_t errlen)
{
    char *path = xasprintf("%s/%s", r->dir, name);
    char *side = xasprintf("%s.json", path);
    int rc = 0;
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "deleting %s: %s", path, strerror(errno));
        rc = -1;
    }
    unlink(side);
    free(side);
    free(path);
    return rc;
}

/* --- dispatch --- */

struct stream *remote_put(struct remote *r, const char *name, struct remote_meta *meta,
                          uint64_t size_hint, char *err, size_t errlen)
{
    return r->s3 ? s3_put(r->s3, name, meta, size_hint, err, errlen)
                 : file_put(r, name, meta, err, errlen);
}

int remote_get(struct remote *r, const char *name, struct stream *into, char *err, size_t errlen)
{
    return r->s3 ? s3_get(r->s3, name, into, err, errlen) : file_get(r, name, into, err, errlen);
}

int remote_stat(struct remote *r, const char *name, struct remote_meta *meta, char *err,
                size_t errlen)
{
    remote_meta_init(meta);
    return r->s3 ? s3_head(r->s3, name, meta, err, errlen) : file_stat(r, name, meta, err, errlen);
}

int remote_list(struct remote *r, struct remote_object **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    return r->s3 ? s3_list(r->s3, out, n, err, errlen) : file_list(r, out, n, err, errlen);
}

int remote_delete(struct remote *r, const char *name, char *err, size_t errlen)
{
    return r->s3 ? s3_delete(r->s3, name, err, errlen) : file_delete(r, name, err, errlen);
}
