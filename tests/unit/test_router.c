/* test_router.c - route matching: literals, parameters, rest parameters, decoding,
   404 versus 405 with Allow, HEAD answered by GET, order of routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/router.h"

static int h_home(struct request *r)
{
    (void)r;
    return 1;
}
static int h_post(struct request *r)
{
    (void)r;
    return 2;
}
static int h_new(struct request *r)
{
    (void)r;
    return 3;
}
static int h_create(struct request *r)
{
    (void)r;
    return 4;
}
static int h_static(struct request *r)
{
    (void)r;
    return 5;
}
static int h_comment(struct request *r)
{
    (void)r;
    return 6;
}

static struct router rt;
static struct route_match m;
static char allow[128];

static int setup(void **state)
{
    (void)state;
    router_init(&rt);
    router_add(&rt, "GET", "/", h_home);
    router_add(&rt, "GET", "/posts/new", h_new); /* before the parameter: wins */
    router_add(&rt, "GET", "/posts/{slug}", h_post);
    router_add(&rt, "POST", "/posts", h_create);
    router_add(&rt, "GET", "/static/{file*}", h_static);
    router_add(&rt, "DELETE", "/posts/{id}/comments/{cid}", h_comment);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    router_release(&rt);
    return 0;
}

static int call(const char *method, const char *path)
{
    if (router_match(&rt, method, path, &m, allow, sizeof(allow)) != ROUTER_FOUND)
        return -1;
    return m.route->fn(NULL);
}

static void test_literals_and_root(void **state)
{
    (void)state;
    assert_int_equal(call("GET", "/"), 1);
    assert_int_equal(call("GET", "/posts/new"), 3);
    assert_int_equal(call("GET", "/nothing"), -1);
    assert_int_equal(call("GET", ""), -1);
    assert_int_equal(call("GET", "posts/new"), -1);
}

static void test_parameters_are_decoded(void **state)
{
    (void)state;
    assert_int_equal(call("GET", "/posts/hello-world"), 2);
    assert_string_equal(router_param(&m, "slug"), "hello-world");
    assert_null(router_param(&m, "id"));
    assert_int_equal(call("GET", "/posts/caf%C3%A9%20au%20lait"), 2);
    assert_string_equal(router_param(&m, "slug"), "café au lait");
    assert_int_equal(call("DELETE", "/posts/12/comments/7"), 6);
    assert_string_equal(router_param(&m, "id"), "12");
    assert_string_equal(router_param(&m, "cid"), "7");
}

static void test_bad_parameters_do_not_match(void **state)
{
    (void)state;
    assert_int_equal(call("GET", "/posts/"), -1);      /* empty segment */
    assert_int_equal(call("GET", "/posts/a/b"), -1);   /* extra segment */
    assert_int_equal(call("GET", "/posts/a%2Fb"), -1); /* encoded slash in a segment */
    assert_int_equal(call("GET", "/posts/a%00b"), -1); /* NUL */
    assert_int_equal(call("GET", "/posts/a%zz"), -1);  /* bad escape */
    assert_int_equal(call("GET", "/posts/a%4"), -1);   /* truncated escape */
    assert_int_equal(call("GET", "/posts/a%"), -1);
}

static void test_rest_parameter_takes_the_rest(void **state)
{
    (void)state;
    assert_int_equal(call("GET", "/static/css/site.css"), 5);
    assert_string_equal(router_param(&m, "file"), "css/site.css");
    assert_int_equal(call("GET", "/static/"), -1);
    assert_int_equal(call("GET", "/static"), -1);
}

static void test_404_versus_405_with_allow(void **state)
{
    (void)state;
    assert_int_equal(router_match(&rt, "PUT", "/posts", &m, allow, sizeof(allow)),
                     ROUTER_NO_METHOD);
    assert_string_equal(allow, "POST");
    assert_int_equal(router_match(&rt, "POST", "/posts/x", &m, allow, sizeof(allow)),
                     ROUTER_NO_METHOD);
    assert_string_equal(allow, "GET, HEAD");
    assert_null(m.route);
    assert_int_equal(router_match(&rt, "GET", "/none", &m, allow, sizeof(allow)), ROUTER_NOT_FOUND);
    assert_string_equal(allow, "");
}

static void test_head_is_answered_by_get(void **state)
{
    (void)state;
    assert_int_equal(call("HEAD", "/posts/x"), 2);
    assert_int_equal(call("HEAD", "/posts"), -1);
}

static void test_overlong_path_is_not_found(void **state)
{
    (void)state;
    char path[ROUTER_MAX_PATH + 16];
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    memcpy(path, "/posts/", 7);
    path[sizeof(path) - 1] = '\0';
    assert_int_equal(router_match(&rt, "GET", path, &m, allow, sizeof(allow)), ROUTER_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_and_root),
        cmocka_unit_test(test_parameters_are_decoded),
        cmocka_unit_test(test_bad_parameters_do_not_match),
        cmocka_unit_test(test_rest_parameter_takes_the_rest),
        cmocka_unit_test(test_404_versus_405_with_allow),
        cmocka_unit_test(test_head_is_answered_by_get),
        cmocka_unit_test(test_overlong_path_is_not_found),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
