/*
 * parse.c - the option parser shared by every command; see cmd.h.
 *
 * Accepts --name VALUE, --name=VALUE, --flag, -h/--help, and "--" to end options.
 * Command options are looked up first, then the configuration flags of config.c.
 */
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "core/dburl.h"
#include "core/log.h"
#include "jobs/cron.h"
#include "remote/crypt.h"

void cmd_usage_print(const struct cmd_usage *u, const struct opt *opts, FILE *out)
{
    fprintf(out, "usage: onefile %s %s\n\n%s\n", u->name, u->synopsis, u->summary);
    if (opts && opts[0].name) {
        fprintf(out, "\noptions:\n");
        for (const struct opt *o = opts; o->name; o++) {
            char left[64];
            snprintf(left, sizeof(left), "--%s%s", o->name, o->kind == OPT_VALUE ? " VALUE" : "");
            fprintf(out, "  %-24s %s\n", left, o->help);
        }
    }
    if (u->config_flags) {
        fprintf(out, "\nconfiguration (flags override the environment):\n");
        config_print_flags(out);
    }
    fprintf(out, "  %-24s %s\n", "-h, --help", "show this help");
}

int cmd_fail(const struct cmd_usage *u, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "onefile %s: ", u->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* What the settings table cannot check by itself, because the meaning of a value belongs
   to another module: the backup key must decode to a key, the backup schedule must be a
   cron expression, the theme directory must exist. Every command that takes the
   configuration runs these, so `onefile config` fails on what `serve` would. */
static int config_verify(const struct config *cfg, char *err, size_t errlen)
{
    char why[256];
    if (cfg->backup_key) {
        uint8_t key[CRYPT_KEY_BYTES];
        int bad = crypt_key_parse(cfg->backup_key, key, why, sizeof(why)) < 0;
        sodium_memzero(key, sizeof(key));
        if (bad) {
            snprintf(err, errlen, "%s", why);
            return -1;
        }
    }
    struct cron c;
    if (cfg->backup_schedule && cron_parse(cfg->backup_schedule, &c, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "ONEFILE_BACKUP_SCHEDULE: '%s': %s", cfg->backup_schedule, why);
        return -1;
    }
    struct stat st;
    if (cfg->theme_dir && (stat(cfg->theme_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        snprintf(err, errlen, "ONEFILE_THEME_DIR: '%s' is not a directory%s%s", cfg->theme_dir,
                 errno == ENOENT ? "" : ": ", errno == ENOENT ? "" : strerror(errno));
        return -1;
    }
    return 0;
}

static int usage_error(const struct cmd_usage *u, struct config *cfg, const char *msg)
{
    fprintf(stderr, "onefile %s: %s\nusage: onefile %s %s (see onefile %s --help)\n", u->name, msg,
            u->name, u->synopsis, u->name);
    config_release(cfg);
    return 2;
}

static const struct opt *find_opt(const struct opt *opts, const char *name, size_t len)
{
    for (const struct opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* The commands that work with ONEFILE_DB=postgres://...; cmd_parse refuses such a database
   for every other command that takes the configuration flags, with one line and exit 2,
   before the URL could be taken for a file name. Adding one: its name here, once it runs
   on PostgreSQL and tests/system prove it (docs/postgres.md lists them). */
static const char *const postgres_commands[] = {"config", "jobs",  "migrate",
                                                "serve",  "token", "user"};

static int runs_on_postgres(const char *name)
{
    for (size_t i = 0; i < sizeof(postgres_commands) / sizeof(postgres_commands[0]); i++)
        if (strcmp(postgres_commands[i], name) == 0)
            return 1;
    return 0;
}

int cmd_parse(const struct cmd_usage *u, int argc, char **argv, const struct opt *opts,
              struct config *cfg, char **pos, int maxpos, int *npos)
{
    char err[512];
    int only_pos = 0;

    *npos = 0;
    config_init(cfg);
    if (config_load_env(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "onefile %s: %s\n", u->name, err);
        config_release(cfg);
        return 2;
    }

    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (*npos >= maxpos) {
                snprintf(err, sizeof(err), "unexpected argument '%s'", arg);
                return usage_error(u, cfg, err);
            }
            pos[(*npos)++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            cmd_usage_print(u, opts, stdout);
            config_release(cfg);
            return 0;
        }
        if (arg[1] != '-') {
            snprintf(err, sizeof(err), "unknown option '%s'", arg);
            return usage_error(u, cfg, err);
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t namelen = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = find_opt(opts, name, namelen);
        if (o && o->kind == OPT_BOOL) {
            if (eq) {
                snprintf(err, sizeof(err), "option '--%s' takes no value", o->name);
                return usage_error(u, cfg, err);
            }
            *(int *)o->dest = 1;
            continue;
        }
        char flag[64];
        snprintf(flag, sizeof(flag), "%.*s", (int)namelen, name);
        if (!o && (!u->config_flags || !config_has_flag(flag))) {
            snprintf(err, sizeof(err), "unknown option '--%s'", flag);
            return usage_error(u, cfg, err);
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                snprintf(err, sizeof(err), "option '--%.*s' needs a value", (int)namelen, name);
                return usage_error(u, cfg, err);
            }
            value = argv[++i];
        }
        if (o) {
            *(const char **)o->dest = value;
            continue;
        }
        int rc = u->config_flags ? config_set_flag(cfg, flag, value, err, sizeof(err)) : 1;
        if (rc < 0) {
            fprintf(stderr, "onefile %s: %s\n", u->name, err);
            config_release(cfg);
            return 2;
        }
        if (rc == 1) {
            snprintf(err, sizeof(err), "unknown option '--%s'", flag);
            return usage_error(u, cfg, err);
        }
    }
    if (u->config_flags && !runs_on_postgres(u->name) && dburl_is_postgres(cfg->db)) {
        fprintf(stderr,
                "onefile %s: the database is a PostgreSQL URL; %s works on a SQLite file only "
                "(docs/postgres.md lists what runs on PostgreSQL)\n",
                u->name, u->name);
        config_release(cfg);
        return 2;
    }
    config_resolve(cfg);
    if (u->config_flags && config_verify(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "onefile %s: %s\n", u->name, err);
        config_release(cfg);
        return 2;
    }
    int level = log_level_parse(cfg->log_level);
    log_setup(level < 0 ? LOG_INFO : (enum log_level)level, LOG_FORMAT_AUTO);
    return -1;
}
