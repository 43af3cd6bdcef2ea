/*
 * backup.c - `onefile backup [--to URL] [--compress gzip|zstd|none] [--level N]`: a
 * consistent copy of the live database, checked, compressed (and encrypted when
 * ONEFILE_BACKUP_KEY is set), stored and verified, then retention (remote/backup.h).
 *
 * Read-only on the live file and takes no lock: it runs while `serve` runs. It records
 * nothing in the database (the server's scheduled backups are recorded in `backups`).
 * Prints the stored name, size, ratio and duration; a progress bar on a terminal only.
 * Exit 0 stored; 1 not stored, or stored but retention failed (said on stderr).
 * `--new-key` prints a fresh ONEFILE_BACKUP_KEY and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/progress.h"
#include "remote/backup.h"
#include "remote/crypt.h"

int cmd_backup(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "backup",
        "[--to URL] [--compress gzip|zstd|none] [--level N] [--keep N] [--json] | --new-key",
        "Back up the database while it is in use: a consistent snapshot (SQLite's backup API,\n"
        "one step), quick_check'ed, streamed through gzip or zstd (and encrypted with\n"
        "ONEFILE_BACKUP_KEY when set) to file:///dir or s3://bucket/prefix, verified there;\n"
        "then only the newest ONEFILE_BACKUP_KEEP backups are kept. Takes no lock.\n"
        "--new-key prints a new random encryption key for ONEFILE_BACKUP_KEY.",
        1};
    const char *to = NULL, *compress = NULL, *level_s = NULL, *keep_s = NULL;
    int new_key = 0, as_json = 0;
    const struct opt opts[] = {
        {"to", OPT_VALUE, &to, "destination URL (default ONEFILE_BACKUP_URL)"},
        {"compress", OPT_VALUE, &compress, "gzip, zstd or none (default ONEFILE_BACKUP_COMPRESS)"},
        {"level", OPT_VALUE, &level_s, "compression level: gzip 1-9 (6), zstd 1-19 (3)"},
        {"keep", OPT_VALUE, &keep_s, "backups kept at the destination (ONEFILE_BACKUP_KEEP)"},
        {"json", OPT_BOOL, &as_json, "print the result as JSON"},
        {"new-key", OPT_BOOL, &new_key, "print a new encryption key and exit"},
        {NULL, 0, NULL, NULL},
    };
    struct config cfg;
    char *pos[1];
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, opts, &cfg, pos, 0, &npos)) >= 0)
        return rc;
    rc = 2;
    if (new_key) {
        char key[64];
        crypt_key_new(key, sizeof(key));
        printf("%s\n", key);
        rc = 0;
        goto out;
    }
    struct backup_options o = {to, compress, -1, 0, progress_update, NULL};
    char *end;
    if (level_s) {
        long l = strtol(level_s, &end, 10);
        if (!*level_s || *end || l < 0 || l > 22) {
            cmd_fail(&u, "--level: '%s' is not a level (gzip 1-9, zstd 1-19)", level_s);
            goto out;
        }
        o.level = (int)l;
    }
    if (keep_s) {
        long k = strtol(keep_s, &end, 10);
        if (!*keep_s || *end || k < 1 || k > 10000) {
            cmd_fail(&u, "--keep: '%s' is not a whole number from 1 to 10000", keep_s);
            goto out;
        }
        o.keep = k;
    }
    enum compress_kind kind;
    if (compress && compress_parse(compress, &kind) < 0) {
        cmd_fail(&u, "--compress: unknown '%s' (gzip, zstd or none)", compress);
        goto out;
    }
    backup_lower_priority(); /* the server on the same machine comes first */
    struct progress bar;
    progress_init(&bar, "backup");
    o.progress_ctx = &bar;
    struct backup_result res;
    char err[1024];
    int r = backup_run_with(&cfg, &o, &res, err, sizeof(err));
    progress_done(&bar);
    if (r < 0) {
        fprintf(stderr, "onefile backup: %s\n", err);
        rc = 1;
        goto out;
    }
    if (as_json) {
        json_t *j = json_pack(
            "{s:s, s:s, s:s, s:I, s:I, s:f, s:f, s:f, s:I, s:s, s:b, s:i}", "name", res.name, "url",
            res.url, "sha256", res.sha256, "size", (json_int_t)res.size, "source_size",
            (json_int_t)res.source_size, "ratio", res.ratio, "duration_s", res.duration_s,
            "snapshot_s", res.snapshot_s, "schema_version", (json_int_t)res.schema_version,
            "compression", res.compression, "encrypted", res.encrypted, "deleted", res.deleted);
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(j);
    } else {
        char a[32], b[32];
        printf("stored %s\n", res.url);
        printf("size %s from %s (ratio %.3f, %s%s)\n", progress_size(res.size, a, sizeof(a)),
               progress_size(res.source_size, b, sizeof(b)), res.ratio, res.compression,
               res.encrypted ? ", encrypted" : "");
        printf("duration %.2f s (snapshot %.2f s)\n", res.duration_s, res.snapshot_s);
        printf("sha256 %s\n", res.sha256);
        if (res.deleted)
            printf("retention: %d older backup%s deleted\n", res.deleted,
                   res.deleted == 1 ? "" : "s");
    }
    rc = 0;
    if (res.retention_error[0]) {
        fprintf(stderr, "onefile backup: the backup is stored, but retention failed: %s\n",
                res.retention_error);
        rc = 1;
    }
out:
    config_release(&cfg);
    return rc;
}
