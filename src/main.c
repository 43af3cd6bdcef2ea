/*
 * main.c - the `onefile` entry point: initialise the libraries, dispatch to a command.
 *
 * To understand the rest, start with the `commands` table below, then the command's file
 * in src/cmd/. Adding a command: see src/cmd/cmd.h.
 */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "db/db.h"

struct command {
    const char *name;
    cmd_fn *fn;
    const char *summary;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "run the site (migrates the database first)"},
    {"migrate", cmd_migrate, "apply pending migrations, or show their status"},
    {"check", cmd_check, "verify a SQLite file: pragmas, integrity, WAL, migrations"},
    {"profile", cmd_profile, "measure whether a workload fits one SQLite file"},
    {"user", cmd_user, "add an admin account, change its password, or list them"},
    {"export", cmd_export, "write every post, page and media file as Markdown to a folder"},
    {"import", cmd_import, "import a folder of Markdown files with YAML front matter"},
    {"token", cmd_token, "create, list or revoke API bearer tokens"},
    {"jobs", cmd_jobs, "the job queue and schedule: list, failed, retry ID, schedule, next"},
    {"backup", cmd_backup, "back up the live database to a directory or S3, verified"},
    {"backups", cmd_backups, "list the stored backups with their sizes and ages"},
    {"restore", cmd_restore, "fetch a backup, verify it and put it in place"},
    {"config", cmd_config, "print the effective configuration, secrets masked"},
    {"version", cmd_version, "print the versions of onefile, SQLite and libmicrohttpd"},
    {"help", cmd_help, "show the commands, or one command's help"},
};

void cmd_list(FILE *out)
{
    fprintf(out, "usage: onefile <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'onefile <command> --help' shows a command's options.\n");
}

cmd_fn *cmd_find(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].fn;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "onefile: no command given\n");
        cmd_list(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        name = "help";
    if (strcmp(name, "--version") == 0)
        name = "version";
    cmd_fn *fn = cmd_find(name);
    if (!fn) {
        fprintf(stderr, "onefile: unknown command '%s'\n", name);
        cmd_list(stderr);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "onefile: libsodium failed to initialise\n");
        return 1;
    }
    /* SQLite's memory statistics take one process-wide mutex on every allocation (Debian
       builds it without lookaside, so that is every row): nothing here reads them, and
       the writer and the readers would queue on it */
    if (db_library_init() < 0) {
        fprintf(stderr, "onefile: cannot configure SQLite\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    int rc = fn(argc - 1, argv + 1);
    db_library_shutdown();
    return rc;
}
