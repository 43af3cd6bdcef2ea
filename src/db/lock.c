/* lock.c - the single-instance lock beside the database; see lock.h. */
#include "db/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/mem.h"

/* What the holder wrote: "pid 1234 (serve)". */
static void read_holder(int fd, char *out, size_t outlen)
{
    char text[64];
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    if (n <= 0) {
        snprintf(out, outlen, "unknown pid");
        return;
    }
    text[n] = '\0';
    text[strcspn(text, "\n")] = '\0';
    snprintf(out, outlen, "%s", text);
}

int lock_acquire(struct lock *l, const char *db_path, const char *who, char *err, size_t errlen)
{
    l->path = xasprintf("%s.lock", db_path);
    l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) {
        snprintf(err, errlen, "cannot open lock file %s: %s", l->path, strerror(errno));
        goto fail;
    }
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[64];
        int e = errno;
        read_holder(l->fd, holder, sizeof(holder));
        if (e == EWOULDBLOCK)
            snprintf(err, errlen, "database %s is in use by another onefile process: %s", db_path,
                     holder);
        else
            snprintf(err, errlen, "cannot lock %s: %s", l->path, strerror(e));
        goto fail;
    }
    char text[64];
    int n = snprintf(text, sizeof(text), "pid %ld (%s)\n", (long)getpid(), who);
    if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, text, (size_t)n, 0) != n) {
        snprintf(err, errlen, "cannot write lock file %s: %s", l->path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    lock_release(l);
    return -1;
}

void lock_release(struct lock *l)
{
    if (l->fd >= 0)
        close(l->fd); /* closing drops the flock */
    l->fd = -1;
    free(l->path);
    l->path = NULL;
}
