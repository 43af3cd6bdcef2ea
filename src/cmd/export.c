/*
 * export.c - `onefile export --markdown DIR`: every post and page as a Markdown file with
 * YAML front matter (port/frontmatter.h), every media file beside them.
 *
 *   DIR/posts/<slug>.md  DIR/pages/<slug>.md  DIR/media/<sha256>/<filename>
 *
 * Bodies are written as stored: their links to /media/<sha256>/<name> name the files
 * under DIR/media, and `onefile import DIR` reads the same layout back (a round trip
 * gives the same rows). DIR must not exist or be empty; files are created exclusively.
 * Reads on one read-only connection (one transaction per statement, so a live server
 * keeps writing); the media's bytes are copied a chunk at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/log.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/sqlite.h"
#include "port/frontmatter.h"
#include "store/media.h"
#include "store/porting.h"

struct exp {
    const char *dir;
    struct db_conn *db;
    long posts, pages, media;
    long long bytes;
};

static int safe_name(const char *s)
{
    return *s && s[0] != '.' && !strchr(s, '/') && strlen(s) < 200;
}

static int one_post(void *ctx, const struct port_post *p)
{
    struct exp *x = ctx;
    char path[4096], err[256];
    if (!safe_name(p->slug)) {
        fprintf(stderr, "onefile export: slug '%s' cannot be a file name\n", p->slug);
        return -1;
    }
    int page = strcmp(p->kind, "page") == 0;
    snprintf(path, sizeof(path), "%s/%s/%s.md", x->dir, page ? "pages" : "posts", p->slug);
    FILE *f = fopen(path, "wx");
    if (!f) {
        fprintf(stderr, "onefile export: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = frontmatter_write(f, p, err, sizeof(err));
    if (fclose(f) != 0 || rc != 0) {
        fprintf(stderr, "onefile export: %s: %s\n", path, rc ? err : strerror(errno));
        return -1;
    }
    page ? x->pages++ : x->posts++;
    return 0;
}

static int one_media(void *ctx, const struct media_info *m)
{
    struct exp *x = ctx;
    char path[4096];
    snprintf(path, sizeof(path), "%s/media/%s", x->dir, m->sha256);
    if (mkdir(path, 0755) != 0 || !safe_name(m->filename)) {
        fprintf(stderr, "onefile export: %s: %s\n", path,
                errno ? strerror(errno) : "bad file name");
        return -1;
    }
    snprintf(path, sizeof(path), "%s/media/%s/%s", x->dir, m->sha256, m->filename);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "onefile export: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct buf b = BUF_INIT;
    int ret = 0;
    for (uint64_t off = 0; off < (uint64_t)m->bytes && ret == 0; off += MEDIA_CHUNK) {
        uint64_t len =
            (uint64_t)m->bytes - off < MEDIA_CHUNK ? (uint64_t)m->bytes - off : MEDIA_CHUNK;
        buf_reset(&b);
        if (media_read(x->db, m, off, len, &b) != 0 || write(fd, b.data, b.len) != (ssize_t)b.len)
            ret = -1;
    }
    buf_release(&b);
    if (close(fd) != 0 || ret != 0) {
        fprintf(stderr, "onefile export: %s: cannot write\n", path);
        return -1;
    }
    x->media++;
    x->bytes += m->bytes;
    return 0;
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0755) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
            empty = 0;
    closedir(d);
    errno = ENOTEMPTY;
    return empty ? 0 : -1;
}

int cmd_export(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "export", "--markdown DIR [--db PATH]",
        "Write every post and page as Markdown with YAML front matter into DIR (posts/,\n"
        "pages/), and every media file under DIR/media/<sha256>/. DIR must be new or empty;\n"
        "`onefile import DIR` reads it back.",
        1};
    const char *dir = NULL;
    const struct opt opts[] = {{"markdown", OPT_VALUE, &dir, "the directory to write"},
                               {NULL, 0, NULL, NULL}};
    struct config cfg;
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, opts, &cfg, NULL, 0, &npos)) >= 0)
        return rc;
    struct exp x = {dir, NULL, 0, 0, 0, 0};
    struct db_options dbo = {cfg.busy_timeout_ms, config_synchronous_level(&cfg)};
    rc = 2;
    if (!dir || !*dir) {
        cmd_fail(&u, "--markdown DIR is required");
        goto out;
    }
    rc = 1;
    if (sqlite_conn_open(cfg.db, DB_READONLY, &dbo, &x.db) < 0)
        goto out;
    if (migrate_has_table(sqlite_conn_handle(x.db)) <= 0) {
        fprintf(stderr, "onefile export: %s has no onefile schema\n", cfg.db);
        goto out;
    }
    char sub[4096];
    if (make_dir(dir) != 0) {
        fprintf(stderr, "onefile export: %s: %s (it must be new or empty)\n", dir, strerror(errno));
        goto out;
    }
    const char *subs[] = {"posts", "pages", "media"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", dir, subs[i]);
        if (mkdir(sub, 0755) != 0) {
            fprintf(stderr, "onefile export: %s: %s\n", sub, strerror(errno));
            goto out;
        }
    }
    if (porting_each_post(x.db, one_post, &x) != 0 || porting_each_media(x.db, one_media, &x) != 0)
        goto out;
    printf("exported %ld post(s), %ld page(s), %ld media file(s) (%lld bytes) to %s\n", x.posts,
           x.pages, x.media, x.bytes, dir);
    rc = 0;
out:
    db_conn_close(x.db);
    config_release(&cfg);
    return rc;
}
