/* test_request.c - the one mapping of engine failures to HTTP statuses (D5): the input's
   fault is 422, the file's or the disk's 503 with Retry-After (before, every failure that
   was not a constraint answered 422 "invalid"), a damaged file or anything else 500. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "db/driver.h"
#include "http/request.h"

static void test_engine_errors_map_to_statuses(void **state)
{
    (void)state;
    static const struct {
        int code, status, retry_after;
    } cases[] = {
        {DB_ECONSTRAINT, 422, 0}, {DB_EUNIQUE, 422, 0}, {DB_EREADONLY, 503, 1}, {DB_EIO, 503, 1},
        {DB_EFULL, 503, 1},       {DB_EBUSY, 503, 1},   {DB_ECORRUPT, 500, 0},  {DB_ERR, 500, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct request r;
        memset(&r, 0, sizeof(r));
        r.path = "/api/v1/posts";
        buf_init(&r.out, 1 << 16);
        assert_int_equal(request_engine_error(&r, cases[i].code, "what"), cases[i].status);
        int retry = 0;
        for (int h = 0; h < r.nheaders; h++) {
            retry |= strcmp(r.headers[h][0], "Retry-After") == 0;
            free(r.headers[h][0]);
            free(r.headers[h][1]);
        }
        assert_int_equal(retry, cases[i].retry_after);
        assert_non_null(strstr(r.out.data, cases[i].status == 422 ? "\"invalid\"" : "\"error\""));
        buf_release(&r.out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_errors_map_to_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
