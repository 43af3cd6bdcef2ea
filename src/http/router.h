/*
 * router.h - maps (method, path) to a handler: a table of routes with path patterns.
 *
 * A pattern is a path whose segments are literals or parameters: "/posts/{slug}" matches
 * "/posts/hello" with slug = "hello". A last segment "{name*}" takes the rest of the path
 * ("/static/{file*}" matches "/static/css/site.css" with file = "css/site.css").
 * Parameter values are percent-decoded; a value that decodes to a NUL byte or a "/" in a
 * single segment does not match. Routes are tried in the order they were added.
 *
 * router_match() tells the three outcomes apart: a route matched; the path matched some
 * route but not with this method (405, `allow` lists the methods); nothing matched (404).
 * HEAD is answered by a GET route.
 *
 * Adding a route: one router_add() line in the module that owns the handler
 * (http/health.c's health_routes(), for instance).
 * Threads: built at start-up; router_match() is read-only and safe from any thread.
 */
#ifndef ONEFILE_HTTP_ROUTER_H
#define ONEFILE_HTTP_ROUTER_H
#include <stddef.h>

struct request;
/* A handler fills the response of r and returns its HTTP status (http/request.h). */
typedef int route_fn(struct request *r);

#define ROUTER_MAX_PARAMS 8
#define ROUTER_MAX_PATH 2048

struct route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/posts/{slug}" */
    route_fn *fn;
    const char *name; /* for logs and metrics: the pattern unless given */
};

struct router {
    struct route *routes;
    size_t n, cap;
};

struct route_match {
    const struct route *route;
    size_t nparams;
    const char *names[ROUTER_MAX_PARAMS]; /* point into the route's pattern copy */
    size_t name_lens[ROUTER_MAX_PARAMS];
    char *values[ROUTER_MAX_PARAMS]; /* point into `scratch` */
    char scratch[ROUTER_MAX_PATH];
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_NO_METHOD };

void router_init(struct router *rt);
void router_release(struct router *rt);
/* Adds a route; pattern and method must outlive the router (string literals). */
void router_add(struct router *rt, const char *method, const char *pattern, route_fn *fn);
/* Matches a request. For ROUTER_NO_METHOD, allow receives "GET, HEAD, POST"-style text. */
enum router_result router_match(const struct router *rt, const char *method, const char *path,
                                struct route_match *m, char *allow, size_t allowlen);
/* The value of parameter name in a match, or NULL. */
const char *router_param(const struct route_match *m, const char *name);
#endif
