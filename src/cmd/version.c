/* version.c - `onefile version`: onefile's version and those of the libraries it runs on. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "db/db.h"

int cmd_version(int argc, char **argv)
{
    static const struct cmd_usage u = {"version", "",
                                       "Print the versions of onefile, SQLite and "
                                       "libmicrohttpd.",
                                       0};
    struct config cfg;
    char *pos[1];
    int npos, rc;
    if ((rc = cmd_parse(&u, argc, argv, NULL, &cfg, pos, 0, &npos)) >= 0)
        return rc;
    printf("onefile %s\nsqlite %s\nlibmicrohttpd %s\n", ONEFILE_VERSION, db_library_version(),
           MHD_get_version());
    config_release(&cfg);
    return 0;
}
