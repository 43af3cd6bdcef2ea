/*
 * cmd.h - the subcommands of `onefile`, one file each under src/cmd/ (git's builtin/).
 *
 * A command is `int cmd_x(int argc, char **argv)` with argv[0] the command's name; it
 * returns the process exit code: 0 success, 1 the operation found or met a problem,
 * 2 usage or configuration error (bad flag, bad value, cannot start).
 *
 * Adding a command: write src/cmd/x.c with cmd_x(), declare it here, add a row to
 * `commands` in src/main.c.
 *
 * cmd_parse() is the one option parser: it reads the command's own options, then the
 * configuration flags of config.c (--db, --listen, ...), after loading the environment.
 *
 * The folder src/cmd/ owns the command line: one file per command. It is the top of the
 * graph: it may call every folder, and it opens the connections (db/sqlite.h) it hands
 * to the tools.
 */
#ifndef ONEFILE_CMD_CMD_H
#define ONEFILE_CMD_CMD_H

#include "core/config.h"

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_backups(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_help(int argc, char **argv);

typedef int cmd_fn(int argc, char **argv);

/* Prints the list of commands (from main.c's table) to out. */
void cmd_list(FILE *out);
/* The command called name, or NULL. */
cmd_fn *cmd_find(const char *name);

enum opt_kind {
    OPT_BOOL,  /* --name sets *(int *)dest = 1 */
    OPT_VALUE, /* --name VALUE or --name=VALUE sets *(const char **)dest (points into argv) */
};

struct opt {
    const char *name; /* without the dashes */
    enum opt_kind kind;
    void *dest;
    const char *help;
};

struct cmd_usage {
    const char *name;     /* "check" */
    const char *synopsis; /* "[--db PATH] [--json] [--full]" */
    const char *summary;  /* one line, what the command does */
    int config_flags;     /* 1 when the configuration flags are accepted */
};

/* Loads defaults and environment into cfg, then parses argv[1..] against opts (an array
   ending with a {NULL} row) and the configuration flags. Positional arguments are
   collected, in order, into pos[0..*npos-1] (at most maxpos; more is a usage error).
   Returns -1 to go on, or the exit code to return at once: 0 after --help was printed,
   2 after a usage or configuration error was printed to stderr as one line plus usage;
   then cfg is already released. A PostgreSQL ONEFILE_DB is refused here (exit 2) for a
   command that takes the configuration flags but does not run on PostgreSQL yet (the table
   in parse.c). Use: `if ((rc = cmd_parse(...)) >= 0) return rc;` */
int cmd_parse(const struct cmd_usage *u, int argc, char **argv, const struct opt *opts,
              struct config *cfg, char **pos, int maxpos, int *npos);

/* Prints "onefile NAME: message" to stderr and returns 2 (for usage-level failures). */
int cmd_fail(const struct cmd_usage *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the command's usage (synopsis, summary, options) to out. */
void cmd_usage_print(const struct cmd_usage *u, const struct opt *opts, FILE *out);

#endif
