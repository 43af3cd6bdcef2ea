/*
 * restore.c - restore_run and the restore drill; see restore.h for the steps.
 *
 * The live target is never opened with ordinary file calls: its size is read with stat,
 * and it is only ever linked or renamed (aside), never read or written here. Everything
 * that is read and checked is the private temporary file.
 */
#include "remote/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/lock.h"
#include "db/snapshot.h"
#include "http/app.h"
#include "remote/backup.h"
#include "remote/compress.h"
#include "remote/crypt.h"
#include "remote/remote.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Opens the location of o->source and names the object. 0, or -1 with err filled. */
static int resolve(const struct config *cfg, const struct restore_options *o, struct remote **r,
                   char *name, size_t namelen, char *err, size_t errlen)
{
    const char *src = o->source;
    const char *from = o->from_url ? o->from_url : cfg->backup_url;
    char *url = NULL;
    int rc = -1;
    struct stat st;
    *r = NULL;
    if (strncmp(src, "file://", 7) == 0 || strncmp(src, "s3://", 5) == 0) {
        const char *slash = strrchr(src, '/');
        if (!slash || !slash[1] || slash - src < 7) {
            snprintf(err, errlen, "'%s' does not name an object (URL/NAME)", src);
            goto out;
        }
        url = xstrndup(src, (size_t)(slash - src));
        snprintf(name, namelen, "%s", slash + 1);
    } else if (strchr(src, '/') || (stat(src, &st) == 0 && S_ISREG(st.st_mode))) {
        char real[PATH_MAX];
        if (!realpath(src, real)) {
            snprintf(err, errlen, "%s: %s", src, strerror(errno));
            goto out;
        }
        char *slash = strrchr(real, '/');
        snprintf(name, namelen, "%s", slash + 1);
        *slash = '\0';
        url = xasprintf("file://%s", real[0] ? real : "/");
    } else {
        if (!from) {
            snprintf(err, errlen,
                     "where from? pass --from URL or set ONEFILE_BACKUP_URL "
                     "(or give a full file:// or s3:// URL)");
            goto out;
        }
        url = xstrdup(from);
        snprintf(name, namelen, "%s", src);
    }
    if (remote_open(cfg, url, r, err, errlen) < 0)
        goto out;
    if (strcmp(src, "latest") == 0) {
        struct remote_object *items = NULL;
        size_t n = 0;
        if (backup_list(*r, &items, &n, err, errlen) < 0)
            goto out;
        if (n == 0)
            snprintf(err, errlen, "no backups at %s", url);
        else
            snprintf(name, namelen, "%s", items[0].name);
        free(items);
        if (n == 0)
            goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        remote_free(*r);
        *r = NULL;
    }
    free(url);
    return rc;
}

static void remove_with_sidecars(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        char *p = xasprintf("%s%s", path, sfx[i]);
        unlink(p);
        free(p);
    }
}

static int fsync_dir_of(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Step 5: the old file and its -wal/-shm aside, the new one in place. On failure the
   target is as it was. 0, or -1 with err filled. */
static int place(const char *tmp, const char *target, struct restore_result *out, char *err,
                 size_t errlen)
{
    static const char *const sfx[] = {"-wal", "-shm"};
    char *aside = xasprintf("%s.before-restore", target);
    int moved[2] = {0, 0}, rc = -1;
    if (exists(target)) {
        remove_with_sidecars(aside);
        /* a hard link keeps the old file under both names until the rename below, so
           there is no moment without a database at the target */
        if (link(target, aside) != 0 && rename(target, aside) != 0) {
            snprintf(err, errlen, "keeping %s aside: %s", target, strerror(errno));
            goto out;
        }
        for (int i = 0; i < 2; i++) {
            char *from = xasprintf("%s%s", target, sfx[i]);
            char *to = xasprintf("%s%s", aside, sfx[i]);
            int failed = exists(from) && rename(from, to) != 0;
            if (failed)
                snprintf(err, errlen, "keeping %s aside: %s", from, strerror(errno));
            moved[i] = !failed && !exists(from) && exists(to);
            free(from);
            free(to);
            if (failed)
                goto out;
        }
        out->replaced = 1;
        snprintf(out->aside, sizeof(out->aside), "%s", aside);
    }
    if (rename(tmp, target) != 0) {
        snprintf(err, errlen, "putting the restored file at %s: %s", target, strerror(errno));
        goto out;
    }
    if (fsync_dir_of(target) != 0)
        log_warn("restore: syncing the directory of %s: %s", target, strerror(errno));
    rc = 0;
out:
    if (rc < 0) {
        /* give the target back its -wal/-shm: its last commits live there */
        for (int i = 0; i < 2; i++) {
            if (!moved[i])
                continue;
            char *from = xasprintf("%s%s", aside, sfx[i]);
            char *to = xasprintf("%s%s", target, sfx[i]);
            rename(from, to);
            free(from);
            free(to);
        }
    }
    free(aside);
    return rc;
}

int restore_run(const struct config *cfg, const struct restore_options *o,
                struct restore_result *out, char *err, size_t errlen)
{
    const char *target = o->to ? o->to : cfg->db;
    struct remote *r = NULL;
    struct remote_meta meta;
    struct lock lock = {-1, NULL};
    struct stream *top = NULL;
    uint8_t key[CRYPT_KEY_BYTES];
    char *tmp = NULL;
    int rc = -1, fd = -1;
    int64_t t0 = clock_mono_us();

    memset(out, 0, sizeof(*out));
    err[0] = '\0';
    if (resolve(cfg, o, &r, out->name, sizeof(out->name), err, errlen) < 0)
        goto out;
    char *ourl = remote_object_url(r, out->name);
    snprintf(out->url, sizeof(out->url), "%s", ourl);
    free(ourl);
    int st = remote_stat(r, out->name, &meta, err, errlen);
    if (st == REMOTE_ENOTFOUND) {
        snprintf(err, errlen, "no backup %s at %s", out->name, remote_url(r));
        goto out;
    }
    if (st < 0)
        goto out;

    enum compress_kind kind = COMPRESS_NONE;
    char base[128];
    snprintf(base, sizeof(base), "%s", out->name);
    int encrypted = meta.key_id[0] || ends_with(base, ".enc");
    if (ends_with(base, ".enc"))
        base[strlen(base) - 4] = '\0';
    if (!meta.compression[0] || compress_parse(meta.compression, &kind) < 0)
        kind = ends_with(base, ".gz")    ? COMPRESS_GZIP
               : ends_with(base, ".zst") ? COMPRESS_ZSTD
                                         : COMPRESS_NONE;
    if (encrypted) {
        if (!cfg->backup_key) {
            snprintf(err, errlen,
                     "%s is encrypted%s%s: set ONEFILE_BACKUP_KEY to the key it was "
                     "made with",
                     out->name, meta.key_id[0] ? " with key id " : "", meta.key_id);
            goto out;
        }
        if (crypt_key_parse(cfg->backup_key, key, err, errlen) < 0)
            goto out;
    }

    if (o->verify_only) {
        tmp = xasprintf("%s.drill-XXXXXX", target);
    } else {
        if (db_make_dir(target) < 0) {
            snprintf(err, errlen, "cannot create the directory of %s", target);
            goto out;
        }
        if (lock_acquire(&lock, target, "restore", err, errlen) < 0) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n,
                     "; stop the server first, or restore to another path "
                     "with --to PATH");
            rc = RESTORE_EBUSY;
            goto out;
        }
        char *aside = xasprintf("%s.before-restore", target);
        int target_there = exists(target), aside_there = exists(aside);
        if (!o->force && (target_there || aside_there)) {
            if (target_there)
                snprintf(err, errlen, "%s exists: pass --force to replace it (it is kept as %s)",
                         target, aside);
            else
                snprintf(err, errlen,
                         "%s exists from an earlier restore: move it away or pass "
                         "--force to replace it",
                         aside);
            free(aside);
            rc = RESTORE_EEXIST;
            goto out;
        }
        free(aside);
        tmp = xasprintf("%s.restore-XXXXXX", target);
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a file beside %s: %s", target, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto out;
    }

    /* fetch: progress -> sha256 -> decrypt -> decompress -> exact size -> the file */
    char stored_sha[65];
    uint64_t stored = 0;
    top = stream_fd_new(fd, tmp, err, errlen);
    if (meta.source_size >= 0)
        top = stream_limit_new((uint64_t)meta.source_size, top);
    top = compress_decoder_new(kind, top);
    if (encrypted)
        top = crypt_decoder_new(key, top);
    /* the latch lets the hash see every byte even when decoding fails early, so a
       damaged object is reported by its sha256, the root cause */
    top = stream_hash_new(stored_sha, &stored, stream_latch_new(top));
    if (o->progress)
        top = stream_progress_new(o->progress, o->progress_ctx,
                                  meta.size > 0 ? (uint64_t)meta.size : 0, top);
    if (remote_get(r, out->name, top, err, errlen) != 0) {
        char e[1024];
        snprintf(e, sizeof(e), "%s", err);
        snprintf(err, errlen, "fetching %s: %s", out->name, e);
        goto out;
    }
    int decoded = stream_finish(top) == 0;
    if (meta.size >= 0 && (long long)stored != meta.size) {
        snprintf(err, errlen,
                 "%s refused: fetched %llu bytes, %lld recorded - the backup "
                 "is truncated or damaged",
                 out->name, (unsigned long long)stored, meta.size);
        goto out;
    }
    if (meta.sha256[0] && strcmp(meta.sha256, stored_sha) != 0) {
        snprintf(err, errlen,
                 "%s refused: sha256 mismatch: the data has %s, its metadata "
                 "records %s - the backup is corrupted",
                 out->name, stored_sha, meta.sha256);
        goto out;
    }
    if (!decoded) {
        char e[1024];
        snprintf(e, sizeof(e), "%s", err);
        snprintf(err, errlen, "%s refused: %s", out->name, e);
        goto out;
    }
    out->sha256_checked = meta.sha256[0] != 0;
    if (!out->sha256_checked)
        log_warn("restore: %s has no recorded sha256: relying on the format's own checks and "
                 "integrity_check",
                 out->name);
    snprintf(out->sha256, sizeof(out->sha256), "%s", stored_sha);
    out->size = (long long)stored;
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    struct stat sst;
    if (stat(tmp, &sst) == 0)
        out->db_size = (long long)sst.st_size;
    if (meta.source_size >= 0 && out->db_size != meta.source_size) {
        snprintf(err, errlen, "%s refused: restored %lld bytes, the backup recorded %lld",
                 out->name, out->db_size, meta.source_size);
        goto out;
    }

    /* verify, then place */
    if (snapshot_verify_restore(cfg->migrations_dir, tmp, &out->schema_version, err, errlen) < 0) {
        char e[1024];
        snprintf(e, sizeof(e), "%s", err);
        snprintf(err, errlen, "%s refused: %s", out->name, e);
        goto out;
    }
    snprintf(out->path, sizeof(out->path), "%s", o->verify_only ? tmp : target);
    if (!o->verify_only) {
        char *wal = xasprintf("%s-wal", tmp), *shm = xasprintf("%s-shm", tmp);
        unlink(wal);
        unlink(shm);
        free(wal);
        free(shm);
        if (place(tmp, target, out, err, errlen) < 0)
            goto out;
        free(tmp);
        tmp = NULL;
    }
    rc = 0;
out:
    out->duration_s = (double)(clock_mono_us() - t0) / 1e6;
    stream_free(top);
    if (fd >= 0)
        close(fd);
    if (tmp)
        remove_with_sidecars(tmp);
    free(tmp);
    lock_release(&lock);
    remote_free(r);
    sodium_memzero(key, sizeof(key));
    return rc;
}

int restore_drill_job(struct app *app, char *msg, size_t msglen)
{
    struct restore_options o = {.source = "latest", .verify_only = 1};
    struct restore_result res;
    char err[1024];
    int rc = restore_run(app->cfg, &o, &res, err, sizeof(err));
    backup_note_drill(rc == 0);
    if (rc == 0) {
        snprintf(msg, msglen,
                 "restore drill: %s verified (sha256 %s, integrity ok, %lld bytes, "
                 "schema %lld) in %.2f s",
                 res.url, res.sha256_checked ? "ok" : "not recorded", res.db_size,
                 res.schema_version, res.duration_s);
        log_info("%s", msg);
        return 0;
    }
    snprintf(msg, msglen, "restore drill failed: %s", err);
    log_err("%s", msg);
    return -1;
}
