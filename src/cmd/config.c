/* config.c - `onefile config`: the effective configuration (defaults < env < flags). */
#include <stdio.h>

#include "cmd/cmd.h"

int cmd_config(int argc, char **argv)
{
    static const struct cmd_usage u = {
        "config", "[--db PATH] [--listen ADDR:PORT] ...",
        "Print the effective configuration, one NAME=value a line, secrets masked.\n"
        "Values come from the defaults, then the environment, then the flags given here.",
        1};
    struct config cfg;
    char *pos[1];
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, NULL, &cfg, pos, 0, &npos)) >= 0)
        return rc;
    config_print(&cfg, stdout);
    config_release(&cfg);
    return 0;
}
