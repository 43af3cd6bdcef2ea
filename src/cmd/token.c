/*
 * token.c - `onefile token create|list|revoke NAME`: API bearer tokens.
 *
 * `create` prints the token alone on stdout, once: only its SHA-256 is stored. The command
 * writes to the database directly (a short BEGIN IMMEDIATE, waiting out the busy
 * timeout), so it works while `serve` runs; the server sees a new or revoked token at the
 * next request.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/log.h"
#include "core/dburl.h"
#include "db/db.h"
#include "db/engine.h"
#include "db/migrate.h"
#include "db/sqlite.h"
#include "store/tokens.h"

static int valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return 0;
    return 1;
}

int cmd_token(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "token", "create NAME | list | revoke NAME [--db PATH]",
        "Manage API bearer tokens. `create` prints the new token on stdout, once (only its\n"
        "hash is kept); `list` shows every token with its last use; `revoke` ends one.",
        1};
    const struct opt opts[] = {{NULL, 0, NULL, NULL}};
    struct config cfg;
    char *pos[2];
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, opts, &cfg, pos, 2, &npos)) >= 0)
        return rc;
    struct db_options dbo = {cfg.busy_timeout_ms, config_synchronous_level(&cfg)};
    struct db_conn *db = NULL;
    rc = 2;
    const char *action = npos ? pos[0] : "";
    int needs_name = strcmp(action, "create") == 0 || strcmp(action, "revoke") == 0;
    if (!needs_name && strcmp(action, "list") != 0) {
        cmd_fail(&u, "%s",
                 npos ? "unknown action (use create, list or revoke)"
                      : "missing action (create NAME, list or revoke NAME)");
        goto out;
    }
    if (needs_name != (npos == 2)) {
        cmd_fail(&u, needs_name ? "%s needs a NAME" : "%s takes no NAME", action);
        goto out;
    }
    if (needs_name && !valid_name(pos[1])) {
        cmd_fail(&u, "'%s' is not a valid name (1-64 letters, digits, '-', '_', '.')", pos[1]);
        goto out;
    }
    rc = 1;
    if (engine_open(cfg.db, strcmp(action, "list") == 0 ? DB_READONLY : DB_READWRITE, &dbo, &db) <
        0)
        goto out;
    if (engine_has_migrations(db) <= 0) {
        char *masked = dburl_mask(cfg.db);
        fprintf(stderr,
                "onefile token: %s has no onefile schema yet: run `onefile migrate` "
                "or start `onefile serve` first\n",
                masked);
        free(masked);
        goto out;
    }
    if (strcmp(action, "create") == 0) {
        char token[TOKEN_LEN + 1];
        int r = tokens_create(db, pos[1], token, sizeof(token));
        if (r == 1)
            fprintf(stderr, "onefile token: a token named '%s' exists already\n", pos[1]);
        if (r != 0)
            goto out;
        printf("%s\n", token);
    } else if (strcmp(action, "revoke") == 0) {
        int r = tokens_revoke(db, pos[1]);
        if (r == 1)
            fprintf(stderr, "onefile token: no active token named '%s'\n", pos[1]);
        if (r != 0)
            goto out;
        fprintf(stderr, "token '%s' revoked\n", pos[1]);
    } else {
        json_t *list;
        size_t i;
        json_t *t;
        if (tokens_list(db, &list) < 0)
            goto out;
        json_array_foreach(list, i, t)
        {
            const char *revoked = json_string_value(json_object_get(t, "revoked_at"));
            const char *used = json_string_value(json_object_get(t, "last_used_at"));
            printf("%-24s created %s  last used %s%s%s\n",
                   json_string_value(json_object_get(t, "name")),
                   json_string_value(json_object_get(t, "created_at")), used ? used : "never",
                   revoked ? "  REVOKED " : "", revoked ? revoked : "");
        }
        json_decref(list);
    }
    rc = 0;
out:
    db_conn_close(db);
    config_release(&cfg);
    return rc;
}
