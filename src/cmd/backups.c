/*
 * backups.c - `onefile backups [--from URL] [--json]`: the backups stored at a destination,
 * newest first, with their sizes and ages. Reads the destination only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cmd/cmd.h"
#include "cmd/progress.h"
#include "remote/backup.h"

static void age(long long seconds, char *out, size_t outlen)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds < 120)
        snprintf(out, outlen, "%lld s", seconds);
    else if (seconds < 7200)
        snprintf(out, outlen, "%lld min", seconds / 60);
    else if (seconds < 172800)
        snprintf(out, outlen, "%lld h", seconds / 3600);
    else
        snprintf(out, outlen, "%lld days", seconds / 86400);
}

int cmd_backups(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "backups", "[--from URL] [--json]",
        "List the backups stored at URL (default ONEFILE_BACKUP_URL), newest first, with their\n"
        "sizes and ages.",
        1};
    const char *from = NULL;
    int as_json = 0;
    const struct opt opts[] = {
        {"from", OPT_VALUE, &from, "where the backups are (default ONEFILE_BACKUP_URL)"},
        {"json", OPT_BOOL, &as_json, "print the list as JSON"},
        {NULL, 0, NULL, NULL},
    };
    struct config cfg;
    char *pos[1];
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, opts, &cfg, pos, 0, &npos)) >= 0)
        return rc;
    struct remote *r = NULL;
    struct remote_object *items = NULL;
    size_t n = 0;
    char err[1024];
    const char *url = from ? from : cfg.backup_url;
    rc = 2;
    if (!url) {
        cmd_fail(&u, "where? pass --from URL or set ONEFILE_BACKUP_URL");
        goto out;
    }
    if (remote_open(&cfg, url, &r, err, sizeof(err)) < 0) {
        cmd_fail(&u, "%s", err);
        goto out;
    }
    rc = 1;
    if (backup_list(r, &items, &n, err, sizeof(err)) < 0) {
        fprintf(stderr, "onefile backups: %s\n", err);
        goto out;
    }
    time_t now = time(NULL);
    if (as_json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            struct backup_name bn;
            backup_name_parse(items[i].name, &bn);
            json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:s, s:b}", "name", items[i].name,
                                               "size", (json_int_t)items[i].size, "age_s",
                                               (json_int_t)(now - bn.time), "compression",
                                               compress_name(bn.compression), "encrypted",
                                               bn.encrypted));
        }
        char *s = json_dumps(a, JSON_INDENT(2));
        puts(s);
        free(s);
        json_decref(a);
    } else {
        for (size_t i = 0; i < n; i++) {
            struct backup_name bn;
            char sz[32], ag[32];
            backup_name_parse(items[i].name, &bn);
            age((long long)(now - bn.time), ag, sizeof(ag));
            printf("%-48s %10s  %s ago\n", items[i].name,
                   progress_size(items[i].size, sz, sizeof(sz)), ag);
        }
        printf("%zu backup%s at %s\n", n, n == 1 ? "" : "s", url);
    }
    rc = 0;
out:
    free(items);
    remote_free(r);
    config_release(&cfg);
    return rc;
}
