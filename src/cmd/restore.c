/*
 * restore.c - `onefile restore SOURCE|latest [--from URL] [--to PATH] [--force]`: fetch a
 * backup, prove it (SHA-256, integrity_check, foreign_key_check, schema version), and put
 * it in place with the old file kept as .before-restore (remote/restore.h).
 *
 * Restoring over the database takes its lock, so it refuses while `serve` runs on it
 * (exit 2); --to another path needs no server stopped. Exit 1 when the backup is refused.
 */
#include <stdio.h>

#include "cmd/cmd.h"
#include "cmd/progress.h"
#include "remote/restore.h"

int cmd_restore(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "restore", "SOURCE|latest [--from URL] [--to PATH] [--force] [--db PATH]",
        "Fetch a backup (latest, a name at ONEFILE_BACKUP_URL, a full file:// or s3:// URL,\n"
        "or a local file), check its SHA-256, decrypt and decompress it, run integrity_check\n"
        "and foreign_key_check, refuse a schema newer than this binary, then put it at the\n"
        "database path (or --to PATH) atomically; the old file and its -wal/-shm are kept as\n"
        "PATH.before-restore. Refuses while a server runs on PATH. --force replaces an existing\n"
        "file (and an earlier .before-restore).",
        1};
    const char *from = NULL, *to = NULL;
    int force = 0;
    const struct opt opts[] = {
        {"from", OPT_VALUE, &from, "where the backups are (default ONEFILE_BACKUP_URL)"},
        {"to", OPT_VALUE, &to, "restore to this path instead of the database (ONEFILE_DB)"},
        {"force", OPT_BOOL, &force, "replace an existing file (kept as .before-restore)"},
        {NULL, 0, NULL, NULL},
    };
    struct config cfg;
    char *pos[1];
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, opts, &cfg, pos, 1, &npos)) >= 0)
        return rc;
    rc = 2;
    if (npos != 1) {
        cmd_fail(&u, "missing SOURCE (latest, a backup name, a URL or a file)");
        goto out;
    }
    struct progress bar;
    progress_init(&bar, "restore");
    struct restore_options o = {pos[0], from, to, force, 0, progress_update, &bar};
    struct restore_result res;
    char err[2048];
    int r = restore_run(&cfg, &o, &res, err, sizeof(err));
    progress_done(&bar);
    if (r < 0) {
        fprintf(stderr, "onefile restore: %s\n", err);
        rc = r == -1 ? 1 : 2;
        goto out;
    }
    char a[32];
    printf("restored %s\n", res.url);
    printf("to %s (%s, schema version %lld)\n", res.path, progress_size(res.db_size, a, sizeof(a)),
           res.schema_version);
    printf("sha256 %s (%s)\n", res.sha256,
           res.sha256_checked ? "matches its metadata" : "no sha256 recorded with it");
    printf("integrity_check ok, foreign_key_check ok, %.2f s\n", res.duration_s);
    if (res.replaced)
        printf("the previous file is kept as %s\n", res.aside);
    rc = 0;
out:
    config_release(&cfg);
    return rc;
}
