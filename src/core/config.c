/*
 * config.c - the settings table and its validation; see config.h.
 *
 * Adding a setting: add a field to struct config, then one row to `settings` below with
 * its environment variable, flag (or NULL), type, bounds and default. Parsing, validation,
 * masking in `onefile config` and the flag help all follow from the row.
 */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dburl.h"
#include "core/mem.h"

enum setting_type {
    SET_STRING, /* any non-empty text */
    SET_INT,    /* a whole number in [min, max] */
    SET_CHOICE, /* one of `choices`, separated by '|' */
    SET_LISTEN, /* ADDR:PORT */
    SET_URL,    /* starts with one of `choices`, separated by '|' */
    SET_DB,     /* a SQLite path, or a postgres:// URL libpq parses (core/dburl.h); printed
                   with its password masked */
};

struct setting {
    const char *env;
    const char *flag;
    enum setting_type type;
    size_t offset;
    const char *def; /* NULL = unset */
    long min, max;
    const char *choices;
    int secret;
    const char *help;
};

#define F(field) offsetof(struct config, field)

static const struct setting settings[] = {
    {"ONEFILE_DB", "db", SET_DB, F(db), "./data/onefile.db", 0, 0, NULL, 0,
     "path of the SQLite database file, or a postgres:// URL"},
    {"ONEFILE_LISTEN", "listen", SET_LISTEN, F(listen), "127.0.0.1:8080", 0, 0, NULL, 0,
     "address and port to serve HTTP on"},
    {"ONEFILE_BUSY_TIMEOUT_MS", "busy-timeout", SET_INT, F(busy_timeout_ms), "5000", 0, 600000,
     NULL, 0, "how long a connection waits for a lock, in ms"},
    {"ONEFILE_SYNCHRONOUS", "synchronous", SET_CHOICE, F(synchronous), "full", 0, 0, "full|normal",
     0, "PRAGMA synchronous: full (fsync every commit) or normal"},
    {"ONEFILE_BACKUP_URL", "backup-url", SET_URL, F(backup_url), NULL, 0, 0, "file:///|s3://", 0,
     "where backups go: file:///dir or s3://bucket/prefix"},
    {"ONEFILE_BACKUP_SCHEDULE", NULL, SET_STRING, F(backup_schedule), "0 3 * * 0", 0, 0, NULL, 0,
     "cron expression for scheduled backups"},
    {"ONEFILE_BACKUP_KEEP", NULL, SET_INT, F(backup_keep), "8", 1, 10000, NULL, 0,
     "number of backups kept"},
    {"ONEFILE_BACKUP_KEY", NULL, SET_STRING, F(backup_key), NULL, 0, 0, NULL, 1,
     "encrypts backups: 32 bytes in base64 (`onefile backup --new-key`)"},
    {"ONEFILE_BACKUP_COMPRESS", NULL, SET_CHOICE, F(backup_compress), "gzip", 0, 0,
     "gzip|zstd|none", 0, "compression of backups"},
    {"ONEFILE_BACKUP_LEVEL", NULL, SET_INT, F(backup_level), "0", 0, 19, NULL, 0,
     "compression level (0: default; gzip 1-9, zstd 1-19)"},
    {"ONEFILE_S3_ADDRESSING", NULL, SET_CHOICE, F(s3_addressing), "auto", 0, 0, "auto|path|virtual",
     0, "S3 addressing; auto: path-style with AWS_ENDPOINT_URL"},
    {"AWS_ACCESS_KEY_ID", NULL, SET_STRING, F(aws_access_key_id), NULL, 0, 0, NULL, 1, NULL},
    {"AWS_SECRET_ACCESS_KEY", NULL, SET_STRING, F(aws_secret_access_key), NULL, 0, 0, NULL, 1,
     NULL},
    {"AWS_REGION", NULL, SET_STRING, F(aws_region), "us-east-1", 0, 0, NULL, 0, NULL},
    {"AWS_ENDPOINT_URL", NULL, SET_URL, F(aws_endpoint_url), NULL, 0, 0, "http://|https://", 0,
     NULL},
    {"ONEFILE_ADMIN_EMAIL", NULL, SET_STRING, F(admin_email), NULL, 0, 0, NULL, 0, NULL},
    {"ONEFILE_ADMIN_PASSWORD", NULL, SET_STRING, F(admin_password), NULL, 0, 0, NULL, 1, NULL},
    {"ONEFILE_SITE_TITLE", NULL, SET_STRING, F(site_title), "onefile", 0, 0, NULL, 0, NULL},
    {"ONEFILE_BASE_URL", "base-url", SET_URL, F(base_url), "http://127.0.0.1:8080", 0, 0,
     "http://|https://", 0, "public URL of the site, for links, feed and cookies"},
    {"ONEFILE_THEME_DIR", "theme-dir", SET_STRING, F(theme_dir), NULL, 0, 0, NULL, 0,
     "directory whose templates/static files override the embedded theme"},
    {"ONEFILE_MIGRATIONS_DIR", "migrations-dir", SET_STRING, F(migrations_dir), NULL, 0, 0, NULL, 0,
     "directory of the site's own NNNN_name.sql migrations"},
    {"ONEFILE_HTTP_THREADS", "http-threads", SET_INT, F(http_threads), "4", 1, 256, NULL, 0,
     "HTTP worker threads"},
    {"ONEFILE_MAX_BODY_BYTES", NULL, SET_INT, F(max_body_bytes), "1048576", 1024, 268435456, NULL,
     0, NULL},
    {"ONEFILE_MAX_UPLOAD_BYTES", NULL, SET_INT, F(max_upload_bytes), "20971520", 1024, 1073741824,
     NULL, 0, "largest file accepted by an upload (413 beyond)"},
    {"ONEFILE_MEDIA_TYPES", NULL, SET_STRING, F(media_types),
     "image/jpeg,image/png,image/gif,image/webp,application/pdf,audio/mpeg,audio/ogg,"
     "audio/wav,audio/flac,audio/mp4",
     0, 0, NULL, 0, "MIME types an upload may have (sniffed from its bytes; never SVG)"},
    {"ONEFILE_MAX_IMAGE_PIXELS", NULL, SET_INT, F(max_image_pixels), "40000000", 1, 1000000000,
     NULL, 0, "largest image accepted, in pixels (width x height)"},
    {"ONEFILE_CONN_TIMEOUT_S", NULL, SET_INT, F(conn_timeout_s), "15", 1, 3600, NULL, 0, NULL},
    {"ONEFILE_REQUEST_TIMEOUT_S", NULL, SET_INT, F(request_timeout_s), "30", 1, 3600, NULL, 0,
     NULL},
    {"ONEFILE_FIRST_BYTE_TIMEOUT_S", NULL, SET_INT, F(first_byte_timeout_s), "10", 1, 3600, NULL, 0,
     NULL},
    {"ONEFILE_MAX_CONNS_PER_IP", NULL, SET_INT, F(max_conns_per_ip), "64", 0, 100000, NULL, 0,
     NULL},
    {"ONEFILE_SHUTDOWN_TIMEOUT_S", NULL, SET_INT, F(shutdown_timeout_s), "10", 0, 600, NULL, 0,
     NULL},
    {"ONEFILE_WRITER_MAX_BATCH", NULL, SET_INT, F(writer_max_batch), "256", 1, 100000, NULL, 0,
     NULL},
    {"ONEFILE_WRITER_LINGER_US", NULL, SET_INT, F(writer_linger_us), "0", 0, 1000000, NULL, 0,
     NULL},
    {"ONEFILE_LOGIN_WINDOW_S", NULL, SET_INT, F(login_window_s), "300", 1, 86400, NULL, 0, NULL},
    {"ONEFILE_JOB_WORKERS", NULL, SET_INT, F(job_workers), "2", 1, 64, NULL, 0, NULL},
    {"ONEFILE_JOB_MAX_ATTEMPTS", NULL, SET_INT, F(job_max_attempts), "5", 1, 100, NULL, 0, NULL},
    {"ONEFILE_JOB_BACKOFF_MS", NULL, SET_INT, F(job_backoff_ms), "5000", 100, 3600000, NULL, 0,
     NULL},
    {"ONEFILE_JOB_BACKOFF_MAX_S", NULL, SET_INT, F(job_backoff_max_s), "3600", 1, 604800, NULL, 0,
     NULL},
    {"ONEFILE_JOB_VISIBILITY_S", NULL, SET_INT, F(job_visibility_s), "300", 5, 86400, NULL, 0,
     NULL},
    {"ONEFILE_NOTIFY_WEBHOOK", NULL, SET_URL, F(notify_webhook), NULL, 0, 0, "http://|https://", 1,
     NULL},
    {"ONEFILE_WEBHOOK_TIMEOUT_S", NULL, SET_INT, F(webhook_timeout_s), "10", 1, 300, NULL, 0, NULL},
    {"ONEFILE_MARKDOWN_HTML", NULL, SET_INT, F(markdown_html), "0", 0, 1, NULL, 0, NULL},
    {"ONEFILE_TRUST_PROXY", NULL, SET_INT, F(trust_proxy), "0", 0, 8, NULL, 0, NULL},
    {"ONEFILE_CLIENT_IP_HEADER", NULL, SET_STRING, F(client_ip_header), "X-Forwarded-For", 0, 0,
     NULL, 0, NULL},
    {"ONEFILE_CACHE_MAX_AGE_MS", NULL, SET_INT, F(cache_max_age_ms), "1000", 0, 3600000, NULL, 0,
     "longest a cached page may miss a change made by another process"},
    {"ONEFILE_CACHE_BYTES", NULL, SET_INT, F(cache_bytes), "67108864", 0, 68719476736L, NULL, 0,
     "memory the response cache may hold (bytes; 0 turns it off)"},
    {"ONEFILE_LOG_LEVEL", "log-level", SET_CHOICE, F(log_level), "info", 0, 0,
     "debug|info|warn|error", 0, "least severe log level written"},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static char **str_field(struct config *cfg, const struct setting *s)
{
    return (char **)((char *)cfg + s->offset);
}

static long *long_field(struct config *cfg, const struct setting *s)
{
    return (long *)((char *)cfg + s->offset);
}

static int in_choices(const char *choices, const char *value, int prefix)
{
    size_t vlen = strlen(value);
    const char *p = choices;
    while (*p) {
        size_t n = strcspn(p, "|");
        if (prefix ? (vlen > n && strncmp(value, p, n) == 0) : (vlen == n && !strncmp(value, p, n)))
            return 1;
        p += n;
        if (*p == '|')
            p++;
    }
    return 0;
}

static int parse_listen(struct config *cfg, const char *value)
{
    const char *colon = strrchr(value, ':');
    if (!colon || colon == value)
        return -1;
    size_t hostlen = (size_t)(colon - value);
    char host[64];
    if (value[0] == '[') {
        if (hostlen < 3 || value[hostlen - 1] != ']' || hostlen - 2 >= sizeof(host))
            return -1;
        memcpy(host, value + 1, hostlen - 2);
        host[hostlen - 2] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return -1;
    } else {
        if (hostlen >= sizeof(host))
            return -1;
        memcpy(host, value, hostlen);
        host[hostlen] = '\0';
        struct in_addr a4;
        if (inet_pton(AF_INET, host, &a4) != 1)
            return -1;
    }
    const char *port = colon + 1;
    if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
        return -1;
    long p = strtol(port, NULL, 10);
    if (p < 1 || p > 65535)
        return -1;
    memcpy(cfg->listen_host, host, sizeof(host));
    cfg->listen_port = (unsigned)p;
    return 0;
}

/* Validates value for s and stores it. `source` names where it came from. */
static int set_value(struct config *cfg, const struct setting *s, const char *source,
                     const char *value, char *err, size_t errlen)
{
    switch (s->type) {
    case SET_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (!*value || *end || errno || v < s->min || v > s->max) {
            snprintf(err, errlen, "%s: '%s' is not a whole number from %ld to %ld", source, value,
                     s->min, s->max);
            return -1;
        }
        *long_field(cfg, s) = v;
        return 0;
    }
    case SET_CHOICE:
        if (!in_choices(s->choices, value, 0)) {
            snprintf(err, errlen, "%s: unknown value '%s' (allowed: %s)", source, value,
                     s->choices);
            return -1;
        }
        break;
    case SET_URL:
        if (!in_choices(s->choices, value, 1)) {
            snprintf(err, errlen, "%s: '%s' must start with %s", source, value, s->choices);
            return -1;
        }
        break;
    case SET_LISTEN:
        if (parse_listen(cfg, value) < 0) {
            snprintf(err, errlen,
                     "%s: '%s' is not ADDR:PORT (an IPv4 address or [IPv6], port 1-65535)", source,
                     value);
            return -1;
        }
        break;
    case SET_DB:
        if (dburl_is_postgres(value)) {
            char why[256];
            if (dburl_check(value, why, sizeof(why)) < 0) {
                char *masked = dburl_mask(value);
                snprintf(err, errlen, "%s: '%s' is not a PostgreSQL URL libpq accepts: %s", source,
                         masked, why);
                free(masked);
                return -1;
            }
            break;
        }
        __attribute__((fallthrough)); /* a path */
    case SET_STRING:
        if (!*value) {
            snprintf(err, errlen, "%s: must not be empty", source);
            return -1;
        }
        break;
    }
    char **field = str_field(cfg, s);
    free(*field);
    *field = xstrdup(value);
    return 0;
}

void config_init(struct config *cfg)
{
    char err[256];
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].def &&
            set_value(cfg, &settings[i], "default", settings[i].def, err, sizeof(err)) < 0)
            abort(); /* a bad default is a programming error */
}

void config_release(struct config *cfg)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].type != SET_INT)
            free(*str_field(cfg, &settings[i]));
    memset(cfg, 0, sizeof(*cfg));
}

int config_load_env(struct config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *v = getenv(settings[i].env);
        if (v && set_value(cfg, &settings[i], settings[i].env, v, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int config_set_flag(struct config *cfg, const char *flag, const char *value, char *err,
                    size_t errlen)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].flag && strcmp(settings[i].flag, flag) == 0) {
            char source[80];
            snprintf(source, sizeof(source), "--%s", flag);
            return set_value(cfg, &settings[i], source, value, err, errlen);
        }
    }
    return 1;
}

/* "https://example.org/" and "https://example.org" name the same site: links are written
   as base_url + "/path", so a trailing slash would give "https://example.org//about" */
static void strip_trailing_slashes(char *url)
{
    const char *host = strstr(url, "://");
    size_t min = host ? (size_t)(host - url) + 4 : 1; /* keep "https://x" */
    size_t n = strlen(url);
    while (n > min && url[n - 1] == '/')
        url[--n] = '\0';
}

int config_host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return 0;
}

int config_base_url_is_loopback(const struct config *cfg)
{
    const char *p = strstr(cfg->base_url, "://");
    char host[256];
    p = p ? p + 3 : cfg->base_url;
    size_t n;
    if (*p == '[') {
        p++;
        n = strcspn(p, "]");
    } else {
        n = strcspn(p, ":/?#");
    }
    if (n == 0 || n >= sizeof(host))
        return 0;
    memcpy(host, p, n);
    host[n] = '\0';
    return config_host_is_loopback(host);
}

void config_resolve(struct config *cfg)
{
    if (cfg->base_url)
        strip_trailing_slashes(cfg->base_url);
    if (cfg->migrations_dir || !cfg->db || dburl_is_postgres(cfg->db))
        return;
    char *copy = xstrdup(cfg->db);
    char *slash = strrchr(copy, '/');
    char *dir =
        slash ? xasprintf("%.*s/migrations", (int)(slash - copy), copy) : xstrdup("migrations");
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        cfg->migrations_dir = dir;
    else
        free(dir);
    free(copy);
}

int config_has_flag(const char *flag)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].flag && strcmp(settings[i].flag, flag) == 0)
            return 1;
    return 0;
}

int config_check_db_dir(const struct config *cfg, char *err, size_t errlen)
{
    if (dburl_is_postgres(cfg->db)) {
        snprintf(err, errlen, "the database is a PostgreSQL URL, not a file in a directory");
        return -1;
    }
    char *dir = xstrdup(cfg->db);
    char *slash = strrchr(dir, '/');
    char *probe = NULL;
    int rc = -1;
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    /* create it like mkdir -p, then prove it writable with a probe file: access(2) says
       yes to root on a read-only mount or /proc */
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int made = mkdir(dir, 0755) == 0 || errno == EEXIST;
        *p = '/';
        if (!made) {
            snprintf(err, errlen, "data directory '%s' cannot be created: %s", dir,
                     strerror(errno));
            goto out;
        }
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "data directory '%s' cannot be created: %s", dir, strerror(errno));
        goto out;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "data directory '%s' is not a directory", dir);
        goto out;
    }
    probe = xasprintf("%s/.onefile-probe-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) {
        snprintf(err, errlen, "data directory '%s' is not writable: %s", dir, strerror(errno));
        goto out;
    }
    close(fd);
    unlink(probe);
    rc = 0;
out:
    free(probe);
    free(dir);
    return rc;
}

void config_print(const struct config *cfg, FILE *out)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        const char *field = (const char *)cfg + s->offset;
        if (s->type == SET_INT) {
            fprintf(out, "%s=%ld\n", s->env, *(const long *)(const void *)field);
            continue;
        }
        const char *v = *(char *const *)(const void *)field;
        if (!v)
            fprintf(out, "%s=\n", s->env);
        else if (s->secret)
            fprintf(out, "%s=******** (set)\n", s->env);
        else if (s->type == SET_DB) {
            char *masked = dburl_mask(v);
            fprintf(out, "%s=%s\n", s->env, masked);
            free(masked);
        } else
            fprintf(out, "%s=%s\n", s->env, v);
    }
}

void config_print_flags(FILE *out)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (!s->flag)
            continue;
        char left[64];
        snprintf(left, sizeof(left), "--%s VALUE", s->flag);
        fprintf(out, "  %-24s %s (%s)\n", left, s->help, s->env);
    }
}

int config_synchronous_level(const struct config *cfg)
{
    return strcmp(cfg->synchronous, "normal") == 0 ? 1 : 2;
}
