/*
 * import.c - `onefile import [--dry-run] DIR`: a folder of Markdown files with YAML front
 * matter (port/frontmatter.h), as `onefile export --markdown` writes it or by hand.
 *
 *   DIR/NAME.md, DIR/posts/NAME.md  posts (unless their front matter says kind: page)
 *   DIR/pages/NAME.md               pages
 *   DIR/media/<sha256>/<file>     media, stored like an upload (media/ingest.h: sniffed,
 *                                 images checked and stripped); a body's links to
 *                                 /media/<that sha256>/ are rewritten to the stored file's
 *
 * Order: every file is read and parsed first, and any problem (malformed YAML, a missing
 * title, a bad date, two files with one slug, a file too large) is reported as
 * "FILE:LINE: problem" with exit 1 before anything is written. Only regular files are
 * read (lstat: symbolic links are skipped, so nothing outside DIR is reached) and names
 * come from readdir (no path in them). Then media go in (one writer call per chunk), then
 * every post in one write: all or none. Posts are matched by slug: a re-import creates
 * nothing twice and reports unchanged rows. --dry-run stops after the checks and says
 * what would be imported.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "cmd/cmd.h"
#include "cmd/progress.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/sqlite.h"
#include "db/writer.h"
#include "media/ingest.h"
#include "port/frontmatter.h"
#include "store/porting.h"
#include "store/store.h"

#define MAX_FILE (16 * 1024 * 1024)
#define MAX_FILES 100000

struct item {
    char *path;
    struct frontmatter fm;
    char slug[256];
    char status[16];
    struct port_upsert up;
};

struct media_file {
    char *path, *name;
    char old[65];
    struct media_info stored;
};

struct plan {
    struct item *items;
    size_t n, cap;
    struct media_file *media;
    size_t nmedia, capmedia;
    int errors;
};

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir (regular files only, not hidden) ending with suffix (NULL: any),
   sorted; *n set. NULL with *n 0 when dir does not exist. */
static char **list_dir(const char *dir, const char *suffix, int want_dirs, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **names = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) && *n < MAX_FILES) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(e->d_name);
        if (suffix && (len <= strlen(suffix) || strcmp(e->d_name + len - strlen(suffix), suffix)))
            continue;
        struct stat st;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        int skip =
            lstat(path, &st) != 0 || (want_dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode));
        free(path);
        if (skip)
            continue;
        if (*n == cap)
            names = xrealloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));
        names[(*n)++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(names, *n, sizeof(*names), by_name);
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char *p = xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t k = read(fd, p + got, (size_t)st.st_size - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    p[got] = '\0';
    *len = got;
    return p;
}

static void add_file(struct plan *pl, const char *dir, const char *name, const char *kind)
{
    char err[320];
    char *path = xasprintf("%s/%s", dir, name);
    size_t len = 0;
    char *text = slurp(path, &len);
    if (!text) {
        fprintf(stderr, "onefile import: %s: cannot read it (or larger than %d bytes)\n", path,
                MAX_FILE);
        pl->errors++;
        free(path);
        return;
    }
    struct item it;
    memset(&it, 0, sizeof(it));
    if (frontmatter_parse(text, len, kind, &it.fm, err, sizeof(err)) != 0) {
        fprintf(stderr, "onefile import: %s:%s\n", path, err);
        pl->errors++;
        free(text);
        free(path);
        return;
    }
    free(text);
    for (int i = 0; i < it.fm.nnotes; i++)
        fprintf(stderr, "onefile import: %s: %s\n", path, it.fm.notes[i]);
    if (it.fm.slug)
        snprintf(it.slug, sizeof(it.slug), "%s", it.fm.slug);
    else
        slugify(it.fm.title, it.slug, sizeof(it.slug));
    snprintf(it.status, sizeof(it.status), "%s", it.fm.draft ? "draft" : "published");
    json_t *fields = json_pack("{s:s,s:s,s:s,s:s,s:s}", "title", it.fm.title, "slug", it.slug,
                               "kind", it.fm.kind, "status", it.status, "body_md", it.fm.body);
    const char *field = NULL;
    char msg[256];
    const char *problem = fields ? post_fields_check(fields, 0, &field, msg, sizeof(msg))
                                 : "the text is not valid UTF-8";
    json_decref(fields);
    if (problem) {
        fprintf(stderr, "onefile import: %s: %s%s%s\n", path, field ? field : "", field ? ": " : "",
                problem);
        pl->errors++;
        frontmatter_release(&it.fm);
        free(path);
        return;
    }
    for (size_t i = 0; i < pl->n; i++)
        if (strcmp(pl->items[i].slug, it.slug) == 0) {
            fprintf(stderr, "onefile import: %s: slug '%s' is also %s's\n", path, it.slug,
                    pl->items[i].path);
            pl->errors++;
            frontmatter_release(&it.fm);
            free(path);
            return;
        }
    it.path = path;
    if (pl->n == pl->cap)
        pl->items = xrealloc(pl->items, (pl->cap = pl->cap ? pl->cap * 2 : 16) * sizeof(it));
    pl->items[pl->n++] = it;
}

static int is_sha(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static void collect(struct plan *pl, const char *root)
{
    static const char *const subs[][2] = {{"", "post"}, {"/posts", "post"}, {"/pages", "page"}};
    for (size_t s = 0; s < 3; s++) {
        char *sdir = xasprintf("%s%s", root, subs[s][0]);
        size_t n;
        char **names = list_dir(sdir, ".md", 0, &n);
        for (size_t i = 0; i < n; i++)
            add_file(pl, sdir, names[i], subs[s][1]);
        free_names(names, n);
        free(sdir);
    }
    char *dir = xasprintf("%s/media", root);
    size_t nd;
    char **dirs = list_dir(dir, NULL, 1, &nd);
    for (size_t i = 0; i < nd; i++) {
        if (!is_sha(dirs[i]))
            continue;
        char *sub = xasprintf("%s/%s", dir, dirs[i]);
        size_t nf;
        char **files = list_dir(sub, NULL, 0, &nf);
        for (size_t k = 0; k < nf; k++) {
            if (pl->nmedia == pl->capmedia)
                pl->media =
                    xrealloc(pl->media, (pl->capmedia = pl->capmedia ? pl->capmedia * 2 : 16) *
                                            sizeof(*pl->media));
            struct media_file *m = &pl->media[pl->nmedia++];
            memset(m, 0, sizeof(*m));
            m->path = xasprintf("%s/%s", sub, files[k]);
            m->name = xstrdup(files[k]);
            snprintf(m->old, sizeof(m->old), "%s", dirs[i]);
        }
        free_names(files, nf);
        free(sub);
    }
    free_names(dirs, nd);
    free(dir);
}

/* body with every "/media/<old>/" replaced by "/media/<new>/" (a new string). */
static char *rewrite(const char *body, const struct plan *pl)
{
    char *cur = xstrdup(body);
    for (size_t i = 0; i < pl->nmedia; i++) {
        const struct media_file *m = &pl->media[i];
        if (!m->stored.sha256[0] || strcmp(m->old, m->stored.sha256) == 0)
            continue;
        char from[80], to[80];
        snprintf(from, sizeof(from), "/media/%s/", m->old);
        snprintf(to, sizeof(to), "/media/%s/", m->stored.sha256);
        struct buf b = BUF_INIT;
        const char *p = cur, *q;
        while ((q = strstr(p, from))) {
            buf_add(&b, p, (size_t)(q - p));
            buf_adds(&b, to);
            p = q + strlen(from);
        }
        buf_adds(&b, p);
        free(cur);
        cur = xstrdup(buf_str(&b));
        buf_release(&b);
    }
    return cur;
}

static int write_posts(struct db_conn *c, void *arg, char *err, size_t errlen)
{
    struct plan *pl = arg;
    for (size_t i = 0; i < pl->n; i++)
        if (porting_upsert(c, &pl->items[i].up, err, errlen) != 0) {
            char more[256];
            snprintf(more, sizeof(more), "%s", err);
            snprintf(err, errlen, "%s: %s", pl->items[i].path, more);
            return -1;
        }
    return 0;
}

static int ingest_all(struct writer *w, const struct config *cfg, struct plan *pl, int *stored,
                      int *existing)
{
    struct progress pr;
    progress_init(&pr, "media");
    for (size_t i = 0; i < pl->nmedia; i++) {
        struct media_file *m = &pl->media[i];
        int fd = open(m->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_size > cfg->max_upload_bytes) {
            fprintf(stderr,
                    "onefile import: %s: cannot read it (or over ONEFILE_MAX_UPLOAD_BYTES)\n",
                    m->path);
            if (fd >= 0)
                close(fd);
            return -1;
        }
        char msg[320];
        int ex = 0;
        int rc = media_ingest(w, cfg, fd, (uint64_t)st.st_size, m->name, &m->stored, &ex, msg,
                              sizeof(msg));
        close(fd);
        if (rc != 0) {
            fprintf(stderr, "onefile import: %s: %s\n", m->path, msg);
            return -1;
        }
        ex ? (*existing)++ : (*stored)++;
        progress_update(&pr, i + 1, pl->nmedia);
    }
    progress_done(&pr);
    return 0;
}

int cmd_import(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "import", "[--dry-run] DIR [--db PATH]",
        "Import a folder of Markdown files with YAML front matter (DIR/*.md, posts/, pages/,\n"
        "media/<sha256>/), as `onefile export --markdown` writes it. Every file is checked\n"
        "first: a problem is reported with its file and line and nothing is imported.\n"
        "Posts are matched by slug, so importing again changes nothing.",
        1};
    int dry = 0;
    const struct opt opts[] = {{"dry-run", OPT_BOOL, &dry, "check and report, write nothing"},
                               {NULL, 0, NULL, NULL}};
    struct config cfg;
    char *pos[1];
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, opts, &cfg, pos, 1, &npos)) >= 0)
        return rc;
    struct plan pl;
    memset(&pl, 0, sizeof(pl));
    struct db_conn *db = NULL;
    struct writer *w = NULL;
    struct stat st;
    rc = 2;
    if (npos != 1) {
        cmd_fail(&u, "the folder to import is required");
        goto out;
    }
    rc = 1;
    if (stat(pos[0], &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "onefile import: %s: not a directory\n", pos[0]);
        goto out;
    }
    collect(&pl, pos[0]);
    if (pl.errors) {
        fprintf(stderr, "onefile import: %d problem(s): nothing imported\n", pl.errors);
        goto out;
    }
    long pages = 0;
    for (size_t i = 0; i < pl.n; i++)
        pages += strcmp(pl.items[i].fm.kind, "page") == 0;
    if (dry) {
        printf("would import %ld post(s), %ld page(s), %zu media file(s) from %s\n",
               (long)pl.n - pages, pages, pl.nmedia, pos[0]);
        rc = 0;
        goto out;
    }
    struct db_options dbo = {cfg.busy_timeout_ms, config_synchronous_level(&cfg)};
    if (sqlite_conn_open(cfg.db, DB_READWRITE, &dbo, &db) < 0)
        goto out;
    if (migrate_has_table(sqlite_conn_handle(db)) <= 0) {
        fprintf(stderr, "onefile import: %s has no onefile schema yet: run `onefile migrate`\n",
                cfg.db);
        goto out;
    }
    struct writer_options wo;
    writer_options_default(&wo);
    wo.busy_timeout_ms = cfg.busy_timeout_ms;
    w = writer_start(db, &wo);
    int stored = 0, existing = 0;
    if (ingest_all(w, &cfg, &pl, &stored, &existing) != 0)
        goto out;
    char now[32];
    store_time(0, now);
    for (size_t i = 0; i < pl.n; i++) {
        struct item *it = &pl.items[i];
        char *body = rewrite(it->fm.body, &pl);
        free(it->fm.body);
        it->fm.body = body;
        const char *created = it->fm.created ? it->fm.created : it->fm.date ? it->fm.date : now;
        it->up.post = (struct port_post){
            it->slug,    it->fm.title,
            it->fm.body, it->fm.kind,
            it->status,  it->fm.draft ? it->fm.date : (it->fm.date ? it->fm.date : created),
            created,     it->fm.updated ? it->fm.updated : created};
    }
    char err[512];
    if (writer_submit(w, "import:posts", write_posts, &pl, err, sizeof(err)) != 0) {
        fprintf(stderr, "onefile import: %s: nothing of the posts imported\n", err);
        goto out;
    }
    int counts[3] = {0, 0, 0};
    for (size_t i = 0; i < pl.n; i++)
        counts[pl.items[i].up.outcome]++;
    printf("imported from %s: %d created, %d updated, %d unchanged; media: %d stored, %d "
           "already there\n",
           pos[0], counts[PORT_CREATED], counts[PORT_UPDATED], counts[PORT_UNCHANGED], stored,
           existing);
    rc = 0;
out:
    if (w)
        db = writer_stop(w);
    db_conn_close(db);
    for (size_t i = 0; i < pl.n; i++) {
        free(pl.items[i].path);
        frontmatter_release(&pl.items[i].fm);
    }
    free(pl.items);
    for (size_t i = 0; i < pl.nmedia; i++) {
        free(pl.media[i].path);
        free(pl.media[i].name);
    }
    free(pl.media);
    config_release(&cfg);
    return rc;
}
