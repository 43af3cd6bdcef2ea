/*
 * user.c - `onefile user add|passwd|unlock EMAIL | list`: admin accounts.
 *
 * The password is read from the terminal without echo (asked twice), or from the first
 * line of standard input when it is not a terminal (`echo "$PW" | onefile user add a@b`).
 * It never appears in argv, where `ps` would show it. Like `token`, the command writes
 * with a short transaction of its own, so it works while `serve` runs; `passwd` ends
 * every session of that user. `unlock` forgets the account's failed logins, so the login
 * throttle (admin/throttle.h) lets it in again from every address at once.
 */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "admin/password.h"
#include "admin/throttle.h"
#include "cmd/cmd.h"
#include "core/log.h"
#include "core/dburl.h"
#include "db/db.h"
#include "db/engine.h"
#include "db/migrate.h"
#include "db/sqlite.h"
#include "store/login_failures.h"
#include "store/store.h"
#include "store/users.h"

/* Reads one line (without its newline) into buf: 0, or -1 at end of input. */
static int read_line(const char *prompt, char *buf, size_t len)
{
    int tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(buf, (int)len, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!got)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static int read_password(char *pw, size_t len)
{
    char again[PASSWORD_MAX_LEN + 2];
    if (read_line("password: ", pw, len) < 0)
        return -1;
    if (isatty(STDIN_FILENO)) {
        if (read_line("again: ", again, sizeof(again)) < 0 || strcmp(pw, again) != 0) {
            sodium_memzero(again, sizeof(again));
            fprintf(stderr, "onefile user: the two passwords differ\n");
            return -1;
        }
        sodium_memzero(again, sizeof(again));
    }
    return 0;
}

static int email_ok(const char *e)
{
    const char *at = strchr(e, '@');
    size_t n = strlen(e);
    if (!at || at == e || !at[1] || n > 254 || strchr(at + 1, '@'))
        return 0;
    for (const unsigned char *p = (const unsigned char *)e; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* `user unlock EMAIL`: 0 done, 1 no such user or the write failed (said on stderr). */
static int unlock_account(struct db_conn *db, const char *email)
{
    char hash[PASSWORD_HASH_LEN + 1], err[256] = "", account[LOGIN_ACCOUNT_MAX_LEN + 1];
    int64_t id;
    int found = users_find(db, email, &id, hash, sizeof(hash));
    sodium_memzero(hash, sizeof(hash));
    if (found != 0) {
        if (found == 1)
            fprintf(stderr, "onefile user: no user with this email\n");
        return 1;
    }
    throttle_account_key(email, account);
    struct login_failure_write w = {account, NULL, 0, 0, 0};
    if (store_begin_write(db, "user unlock") < 0)
        return 1;
    if (login_failures_clear_account(db, &w, err, sizeof(err)) < 0) {
        store_rollback(db);
        fprintf(stderr, "onefile user: unlock: %s\n", err);
        return 1;
    }
    if (store_commit(db, "user unlock") < 0)
        return 1;
    fprintf(stderr, "unlocked %s: failed logins from %lld address%s forgotten\n", email,
            (long long)w.removed, w.removed == 1 ? "" : "es");
    return 0;
}

int cmd_user(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "user", "add EMAIL | passwd EMAIL | unlock EMAIL | list [--db PATH]",
        "Manage admin accounts. The password is asked on the terminal (not echoed), or read\n"
        "from the first line of standard input when it is piped. `passwd` ends every session\n"
        "of that user. `unlock` forgets the account's failed logins (the login throttle).\n"
        "Exit 1 when the user does not exist (passwd, unlock) or already exists (add).",
        1};
    const struct opt opts[] = {{NULL, 0, NULL, NULL}};
    struct config cfg;
    char *pos[2];
    int npos, rc;
    char pw[PASSWORD_MAX_LEN + 2];
    if ((rc = cmd_parse(&u, argc, argv, opts, &cfg, pos, 2, &npos)) >= 0)
        return rc;
    struct db_options dbo = {cfg.busy_timeout_ms, config_synchronous_level(&cfg)};
    struct db_conn *db = NULL;
    const char *action = npos ? pos[0] : "";
    int list = strcmp(action, "list") == 0, unlock = strcmp(action, "unlock") == 0;
    rc = 2;
    if (!list && !unlock && strcmp(action, "add") != 0 && strcmp(action, "passwd") != 0) {
        cmd_fail(&u, "%s",
                 npos ? "unknown action (use add, passwd, unlock or list)"
                      : "missing action (add EMAIL, passwd EMAIL, unlock EMAIL or list)");
        goto out;
    }
    if (list != (npos == 1)) {
        cmd_fail(&u, list ? "list takes no EMAIL" : "%s needs an EMAIL", action);
        goto out;
    }
    if (!list && !email_ok(pos[1])) {
        cmd_fail(&u, "'%s' is not an email address", pos[1]);
        goto out;
    }
    rc = 1;
    if (engine_open(cfg.db, list ? DB_READONLY : DB_READWRITE, &dbo, &db) < 0)
        goto out;
    if (engine_has_migrations(db) <= 0) {
        char *masked = dburl_mask(cfg.db);
        fprintf(stderr,
                "onefile user: %s has no onefile schema yet: run `onefile migrate` "
                "or start `onefile serve` first\n",
                masked);
        free(masked);
        goto out;
    }
    if (list) {
        json_t *users;
        size_t i;
        json_t *user;
        if (users_list(db, &users) < 0)
            goto out;
        json_array_foreach(users, i, user)
        {
            printf("%s  created %s\n", json_string_value(json_object_get(user, "email")),
                   json_string_value(json_object_get(user, "created_at")));
        }
        json_decref(users);
        rc = 0;
        goto out;
    }
    if (unlock) {
        rc = unlock_account(db, pos[1]);
        goto out;
    }
    if (read_password(pw, sizeof(pw)) < 0) {
        fprintf(stderr, "onefile user: no password given\n");
        goto out;
    }
    const char *problem = password_problem(pw);
    if (problem) {
        fprintf(stderr, "onefile user: %s\n", problem);
        goto out;
    }
    char hash[PASSWORD_HASH_LEN];
    if (password_hash(pw, hash) < 0) {
        fprintf(stderr, "onefile user: cannot hash the password (out of memory)\n");
        goto out;
    }
    int r = users_add_direct(db, pos[1], hash, strcmp(action, "passwd") == 0);
    if (r == 1)
        fprintf(stderr, "onefile user: %s\n",
                strcmp(action, "add") == 0 ? "a user with this email exists"
                                           : "no user with this email");
    if (r != 0)
        goto out;
    fprintf(stderr, "%s %s\n", strcmp(action, "add") == 0 ? "added" : "password changed for",
            pos[1]);
    rc = 0;
out:
    sodium_memzero(pw, sizeof(pw));
    db_conn_close(db);
    config_release(&cfg);
    return rc;
}
