/* test_lock.c - the single-instance lock: exclusive, names the holder, dies with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/lock.h"

static char dir[64], path[128], err[256];

static void test_second_holder_is_refused_naming_the_pid(void **state)
{
    (void)state;
    struct lock a, b;
    assert_int_equal(lock_acquire(&a, path, "serve", err, sizeof(err)), 0);
    /* flock locks belong to the open file description: a second open in the same process
       conflicts exactly like another process would */
    assert_int_equal(lock_acquire(&b, path, "migrate", err, sizeof(err)), -1);
    char want[64];
    snprintf(want, sizeof(want), "pid %ld (serve)", (long)getpid());
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "in use"));
    assert_int_equal(b.fd, -1);
    lock_release(&a);
    assert_int_equal(lock_acquire(&b, path, "migrate", err, sizeof(err)), 0);
    lock_release(&b);
}

static void test_lock_dies_with_its_process(void **state)
{
    (void)state;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    if (child == 0) {
        struct lock l;
        if (lock_acquire(&l, path, "serve", err, sizeof(err)) != 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    struct lock l;
    assert_int_equal(lock_acquire(&l, path, "serve", err, sizeof(err)), -1);
    char want[32];
    snprintf(want, sizeof(want), "pid %ld", (long)child);
    assert_non_null(strstr(err, want));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    assert_int_equal(lock_acquire(&l, path, "serve", err, sizeof(err)), 0);
    lock_release(&l);
    close(ready[0]);
    close(ready[1]);
}

static void test_unwritable_location(void **state)
{
    (void)state;
    struct lock l;
    assert_int_equal(lock_acquire(&l, "/proc/nope/x.db", "serve", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/proc/nope/x.db.lock"));
}

int main(void)
{
    strcpy(dir, "/tmp/onefile-lock-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/x.db", dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_holder_is_refused_naming_the_pid),
        cmocka_unit_test(test_lock_dies_with_its_process),
        cmocka_unit_test(test_unwritable_location),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char lockfile[160];
    snprintf(lockfile, sizeof(lockfile), "%s.lock", path);
    unlink(lockfile);
    rmdir(dir);
    return rc;
}
