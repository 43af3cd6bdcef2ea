/* help.c - `onefile help [COMMAND]`: the command list, or one command's --help. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"

int cmd_help(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0) {
        cmd_list(stdout);
        return 0;
    }
    cmd_fn *fn = cmd_find(argv[1]);
    if (!fn) {
        fprintf(stderr, "onefile help: unknown command '%s'\n", argv[1]);
        cmd_list(stderr);
        return 2;
    }
    /* the command's own --help, so each command has exactly one help text */
    char help[] = "--help";
    char *args[] = {argv[1], help, NULL};
    return fn(2, args);
}
