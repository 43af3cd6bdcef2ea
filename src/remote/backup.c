/*
 * backup.c - backup_run, retention, the backup job and its visibility; see backup.h for
 * the steps. The snapshot is the only moment the live file is touched, and only through
 * SQLite (snapshot_copy); everything after reads the private copy.
 */
#include "remote/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "db/readers.h"
#include "db/snapshot.h"
#include "db/writer.h"
#include "http/app.h"
#include "remote/crypt.h"
#include "store/backups.h"

#define READ_BYTES (1024 * 1024)

int backup_name_parse(const char *name, struct backup_name *out)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(name, "onefile-", 8) != 0)
        return -1;
    const char *p = name + 8;
    for (int i = 0; i < 16; i++) {
        int digit = p[i] >= '0' && p[i] <= '9';
        if ((i == 8 && p[i] != 'T') || (i == 15 && p[i] != 'Z') || (i != 8 && i != 15 && !digit))
            return -1;
    }
    memcpy(out->stamp, p, 16);
    p += 16;
    if (*p == '-') {
        char *end;
        long n = strtol(p + 1, &end, 10);
        if (end == p + 1 || n < 2 || n > 9999)
            return -1;
        out->seq = (int)n;
        p = end;
    }
    if (strncmp(p, ".sqlite", 7) != 0)
        return -1;
    p += 7;
    out->compression = COMPRESS_NONE;
    if (strncmp(p, ".gz", 3) == 0 && (p[3] == '\0' || p[3] == '.')) {
        out->compression = COMPRESS_GZIP;
        p += 3;
    } else if (strncmp(p, ".zst", 4) == 0 && (p[4] == '\0' || p[4] == '.')) {
        out->compression = COMPRESS_ZSTD;
        p += 4;
    }
    if (strcmp(p, ".enc") == 0)
        out->encrypted = 1;
    else if (*p)
        return -1;
    struct tm tm = {0};
    if (!strptime(out->stamp, "%Y%m%dT%H%M%SZ", &tm))
        return -1;
    out->time = timegm(&tm);
    return 0;
}

/* Newest first: by stamp, then by sequence number. */
static int cmp_newest(const void *a, const void *b)
{
    struct backup_name na, nb;
    backup_name_parse(((const struct remote_object *)a)->name, &na);
    backup_name_parse(((const struct remote_object *)b)->name, &nb);
    int c = strcmp(nb.stamp, na.stamp);
    return c ? c : nb.seq - na.seq;
}

int backup_list(struct remote *r, struct remote_object **out, size_t *n, char *err, size_t errlen)
{
    if (remote_list(r, out, n, err, errlen) < 0)
        return -1;
    size_t k = 0;
    struct backup_name bn;
    for (size_t i = 0; i < *n; i++)
        if (backup_name_parse((*out)[i].name, &bn) == 0)
            (*out)[k++] = (*out)[i];
    *n = k;
    if (k > 1)
        qsort(*out, k, sizeof(**out), cmp_newest);
    return 0;
}

int backup_prune(struct remote *r, long keep, const char *keep_name, int *deleted, char *err,
                 size_t errlen)
{
    struct remote_object *items = NULL;
    size_t n = 0;
    int rc = -1;
    *deleted = 0;
    if (backup_list(r, &items, &n, err, errlen) < 0)
        goto out;
    for (size_t i = (size_t)keep; i < n; i++) {
        if (keep_name && strcmp(items[i].name, keep_name) == 0)
            continue;
        if (remote_delete(r, items[i].name, err, errlen) < 0)
            goto out;
        log_info("backup: retention deleted %s (keeping the newest %ld)", items[i].name, keep);
        (*deleted)++;
    }
    rc = 0;
out:
    free(items);
    return rc;
}

/* The snapshot and what SQLite made beside it (a read-only check of a WAL-mode copy
   leaves an empty -wal and -shm). */
static void remove_snapshot(const char *path)
{
    static const char *const sfx[] = {"", "-journal", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        char *p = xasprintf("%s%s", path, sfx[i]);
        unlink(p);
        free(p);
    }
}

/* A name for time t not yet taken at r: several backups in one second (whatever their
   suffixes) get -2, -3... so that names alone order them. */
static int pick_name(struct remote *r, time_t t, enum compress_kind k, int encrypted, char *out,
                     size_t outlen, char *err, size_t errlen)
{
    struct remote_object *items = NULL;
    size_t n = 0;
    char stamp[17];
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    if (backup_list(r, &items, &n, err, errlen) < 0)
        return -1;
    int seq = 0;
    for (size_t i = 0; i < n; i++) {
        struct backup_name bn;
        backup_name_parse(items[i].name, &bn);
        if (strcmp(bn.stamp, stamp) == 0 && (bn.seq ? bn.seq : 1) >= seq)
            seq = (bn.seq ? bn.seq : 1) + 1;
    }
    free(items);
    char suffix[16] = "";
    if (seq > 1)
        snprintf(suffix, sizeof(suffix), "-%d", seq);
    snprintf(out, outlen, "onefile-%s%s.sqlite%s%s", stamp, suffix, compress_suffix(k),
             encrypted ? ".enc" : "");
    return 0;
}

int backup_run(const struct config *cfg, const char *to_url, const char *compress,
               struct backup_result *out, char *err, size_t errlen)
{
    struct backup_options o = {to_url, compress, -1, 0, NULL, NULL};
    return backup_run_with(cfg, &o, out, err, errlen);
}

int backup_run_with(const struct config *cfg, const struct backup_options *o,
                    struct backup_result *out, char *err, size_t errlen)
{
    const char *url = o->to_url ? o->to_url : cfg->backup_url;
    const char *cname = o->compress ? o->compress : cfg->backup_compress;
    int level = o->level >= 0 ? o->level : (int)cfg->backup_level;
    long keep = o->keep > 0 ? o->keep : cfg->backup_keep;
    uint8_t key[CRYPT_KEY_BYTES];
    int have_key = 0, rc = -1, fd = -1;
    struct remote *r = NULL;
    struct stream *top = NULL;
    char *tmp = NULL;
    uint8_t *block = NULL;
    enum compress_kind kind;
    int64_t t0 = clock_mono_us();
    struct stat st;

    memset(out, 0, sizeof(*out));
    clock_iso8601(time(NULL), out->started_at, sizeof(out->started_at));
    if (!url) {
        snprintf(err, errlen,
                 "no destination: pass --to URL or set ONEFILE_BACKUP_URL "
                 "(file:///dir or s3://bucket/prefix)");
        goto out;
    }
    if (!cname || compress_parse(cname, &kind) < 0) {
        snprintf(err, errlen, "unknown compression '%s' (gzip, zstd or none)", cname ? cname : "");
        goto out;
    }
    if (compress_level_check(kind, level, err, errlen) < 0)
        goto out;
    if (cfg->backup_key) {
        if (crypt_key_parse(cfg->backup_key, key, err, errlen) < 0)
            goto out;
        have_key = 1;
    }
    if (stat(cfg->db, &st) != 0) {
        snprintf(err, errlen, "database %s: %s", cfg->db, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "database %s: not a regular file", cfg->db);
        goto out;
    }
    if (remote_open(cfg, url, &r, err, errlen) < 0)
        goto out;

    /* 1-2: the consistent copy beside the database, checked */
    tmp = xasprintf("%s.backup-XXXXXX", cfg->db);
    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a snapshot beside %s: %s", cfg->db, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto out;
    }
    close(fd);
    fd = -1;
    int64_t ts = clock_mono_us();
    if (snapshot_copy_scratch(cfg->db, tmp, err, errlen) < 0)
        goto out;
    out->snapshot_s = (double)(clock_mono_us() - ts) / 1e6;
    if (snapshot_check(tmp, &out->schema_version, err, errlen) < 0)
        goto out;
    if (stat(tmp, &st) != 0) {
        snprintf(err, errlen, "snapshot %s: %s", tmp, strerror(errno));
        goto out;
    }
    out->source_size = (long long)st.st_size;

    /* 3: ship it */
    if (pick_name(r, time(NULL), kind, have_key, out->name, sizeof(out->name), err, errlen) < 0)
        goto out;
    struct remote_meta meta;
    uint64_t stored = 0;
    remote_meta_init(&meta);
    meta.source_size = out->source_size;
    meta.schema_version = out->schema_version;
    snprintf(meta.onefile_version, sizeof(meta.onefile_version), "%s", ONEFILE_VERSION);
    snprintf(meta.compression, sizeof(meta.compression), "%s", compress_name(kind));
    clock_iso8601(time(NULL), meta.created_at, sizeof(meta.created_at));
    if (have_key)
        crypt_key_id(key, meta.key_id);
    top = remote_put(r, out->name, &meta, (uint64_t)out->source_size, err, errlen);
    top = stream_hash_new(meta.sha256, &stored, top);
    if (have_key)
        top = crypt_encoder_new(key, top);
    top = compress_encoder_new(kind, level, top);
    fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "snapshot %s: %s", tmp, strerror(errno));
        goto out;
    }
    block = xmalloc(READ_BYTES);
    uint64_t done = 0;
    for (;;) {
        ssize_t n = read(fd, block, READ_BYTES);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "reading the snapshot: %s", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (stream_write(top, block, (size_t)n) < 0)
            goto out; /* err filled by the chain */
        done += (uint64_t)n;
        if (o->progress)
            o->progress(o->progress_ctx, done, (uint64_t)out->source_size);
    }
    if (stream_finish(top) < 0)
        goto out;
    stream_free(top);
    top = NULL;

    /* 4: verify what the destination holds */
    struct remote_meta check;
    if (remote_stat(r, out->name, &check, err, errlen) != 0) {
        char e[512];
        snprintf(e, sizeof(e), "%s", err);
        snprintf(err, errlen, "verifying %s after upload: %s", out->name, e);
        goto out;
    }
    if (check.size != (long long)stored || strcmp(check.sha256, meta.sha256) != 0) {
        char e[256];
        snprintf(err, errlen,
                 "verifying %s after upload: stored %lld bytes sha256 '%.12s', "
                 "sent %llu bytes sha256 '%.12s'; the object was deleted",
                 out->name, check.size, check.sha256, (unsigned long long)stored, meta.sha256);
        if (remote_delete(r, out->name, e, sizeof(e)) < 0)
            log_warn("backup: %s", e);
        goto out;
    }

    /* 5: retention, only now that the new one is known stored */
    if (backup_prune(r, keep, out->name, &out->deleted, out->retention_error,
                     sizeof(out->retention_error)) < 0)
        log_warn("backup: retention: %s (the new backup %s is stored)", out->retention_error,
                 out->name);

    char *ourl = remote_object_url(r, out->name);
    snprintf(out->url, sizeof(out->url), "%s", ourl);
    free(ourl);
    snprintf(out->sha256, sizeof(out->sha256), "%s", meta.sha256);
    snprintf(out->compression, sizeof(out->compression), "%s", compress_name(kind));
    out->encrypted = have_key;
    out->size = (long long)stored;
    out->ratio = out->source_size ? (double)out->size / (double)out->source_size : 0;
    rc = 0;
out:
    out->duration_s = (double)(clock_mono_us() - t0) / 1e6;
    clock_iso8601(time(NULL), out->finished_at, sizeof(out->finished_at));
    stream_free(top); /* an unfinished upload is discarded here */
    if (fd >= 0)
        close(fd);
    if (tmp)
        remove_snapshot(tmp);
    free(tmp);
    free(block);
    remote_free(r);
    sodium_memzero(key, sizeof(key));
    return rc;
}

void backup_lower_priority(void)
{
    /* on Linux both apply to the calling thread only */
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, tid);
    if (errno == 0 && nice < 10)
        setpriority(PRIO_PROCESS, tid, 10);
    syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, (int)tid,
            (2 /* IOPRIO_CLASS_BE */ << 13) | 7 /* lowest best-effort level */);
}

/* --- the job and its record --- */

struct job_run {
    const struct config *cfg;
    struct backup_result res;
    char err[1024];
    int rc;
};

/* The backup on a thread of its own, so that its lowered priority ends with it. */
static void *job_thread(void *arg)
{
    struct job_run *j = arg;
    backup_lower_priority();
    j->rc = backup_run(j->cfg, NULL, NULL, &j->res, j->err, sizeof(j->err));
    return NULL;
}

int backup_job(struct app *app, char *msg, size_t msglen)
{
    struct job_run *j = xcalloc(1, sizeof(*j));
    char werr[256];
    pthread_t t;
    j->cfg = app->cfg;
    if (pthread_create(&t, NULL, job_thread, j) == 0)
        pthread_join(t, NULL);
    else /* no thread to spare: run it here, at the caller's priority */
        j->rc = backup_run(j->cfg, NULL, NULL, &j->res, j->err, sizeof(j->err));
    int rc = j->rc;
    const struct backup_result *res = &j->res;
    struct backups_row rec = {
        .name = res->name,
        .url = rc == 0                ? res->url
               : app->cfg->backup_url ? app->cfg->backup_url
                                      : "",
        .compression = res->compression[0] ? res->compression : "none",
        .encrypted = res->encrypted,
        .size = res->size,
        .source_size = res->source_size,
        .schema_version = res->schema_version,
        .sha256 = res->sha256,
        .error = rc == 0 ? NULL : j->err,
        .started_at = res->started_at,
        .finished_at = res->finished_at,
    };
    if (rc == 0) {
        snprintf(msg, msglen, "stored %s: %lld bytes from %lld (ratio %.3f) in %.2f s%s%s",
                 res->url, res->size, res->source_size, res->ratio, res->duration_s,
                 res->retention_error[0] ? "; retention failed: " : "", res->retention_error);
        log_info("backup: %s", msg);
    } else {
        snprintf(msg, msglen, "backup failed: %s", j->err);
        log_err("backup: %s", j->err);
    }
    if (writer_submit(app->writer, "backup", backups_record, &rec, werr, sizeof(werr)) != 0) {
        log_err("backup: recording the backup: %s", werr);
        rc = -1;
    }
    free(j);
    return rc;
}

/* --- metrics and status --- */

static atomic_ullong drills_ok, drills_failed;
static atomic_llong drill_last_ok_ms;

void backup_note_drill(int ok)
{
    if (ok) {
        atomic_fetch_add(&drills_ok, 1);
        atomic_store(&drill_last_ok_ms, (long long)clock_wall_ms());
    } else {
        atomic_fetch_add(&drills_failed, 1);
    }
}

static long long parse_iso(const char *s)
{
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return -1;
    return (long long)timegm(&tm);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void backup_write_metrics(struct app *app, FILE *out)
{
    struct db_conn *conn = readers_acquire(app->readers);
    struct backups_totals t;
    backups_totals(conn, &t);
    readers_release(app->readers, conn);
    long long ok = t.ok, failed = t.failed, size = t.last_size;
    long long when = t.last_finished_at[0] ? parse_iso(t.last_finished_at) : -1;

    if (when >= 0) {
        family(out, "onefile_backup_last_success_timestamp_seconds", "gauge",
               "When the last successful backup finished (Unix time).");
        fprintf(out, "onefile_backup_last_success_timestamp_seconds %lld\n", when);
        family(out, "onefile_backup_last_success_age_seconds", "gauge",
               "Seconds since the last successful backup finished.");
        fprintf(out, "onefile_backup_last_success_age_seconds %lld\n",
                (long long)time(NULL) - when);
        family(out, "onefile_backup_last_success_bytes", "gauge",
               "Stored size of the last successful backup.");
        fprintf(out, "onefile_backup_last_success_bytes %lld\n", size);
    }
    family(out, "onefile_backups_total", "counter", "Backups recorded, by outcome.");
    fprintf(out, "onefile_backups_total{status=\"ok\"} %lld\n", ok);
    fprintf(out, "onefile_backups_total{status=\"error\"} %lld\n", failed);
    family(out, "onefile_restore_drills_total", "counter",
           "Restore drills run by this process, by outcome.");
    fprintf(out, "onefile_restore_drills_total{status=\"ok\"} %llu\n",
            (unsigned long long)atomic_load(&drills_ok));
    fprintf(out, "onefile_restore_drills_total{status=\"error\"} %llu\n",
            (unsigned long long)atomic_load(&drills_failed));
    long long last = atomic_load(&drill_last_ok_ms);
    if (last > 0) {
        family(out, "onefile_restore_drill_last_success_timestamp_seconds", "gauge",
               "When the last successful restore drill of this process finished.");
        fprintf(out, "onefile_restore_drill_last_success_timestamp_seconds %lld\n", last / 1000);
    }
}
