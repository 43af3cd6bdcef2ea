/*
 * config.h - the effective configuration: defaults, then environment, then flags.
 *
 * Every setting is one row of the table in config.c (name of its environment variable,
 * its flag, type, bounds, default, whether it is a secret). Values are validated when
 * they are set, so a struct config that went through config_load_env() and
 * config_set_flag() without error is valid. Errors are written into `err` as one line
 * naming the variable or flag, the value and what is allowed.
 * Threads: built at start-up by the main thread, read-only afterwards.
 */
#ifndef ONEFILE_CORE_CONFIG_H
#define ONEFILE_CORE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

struct config {
    char *db;              /* ONEFILE_DB: a path, or a postgres:// URL (core/dburl.h) */
    char *listen;          /* ONEFILE_LISTEN, "ADDR:PORT" as given */
    char listen_host[64];  /* parsed from listen: IPv4 dotted quad or IPv6 literal */
    unsigned listen_port;  /* parsed from listen, 1-65535 */
    long busy_timeout_ms;  /* ONEFILE_BUSY_TIMEOUT_MS */
    char *synchronous;     /* "full" or "normal" */
    char *backup_url;      /* file:///dir or s3://bucket/prefix, or NULL */
    char *backup_schedule; /* cron expression */
    long backup_keep;
    char *backup_key;      /* ONEFILE_BACKUP_KEY: 32 bytes base64 (remote/crypt.h) */
    char *backup_compress; /* gzip, zstd or none */
    long backup_level;     /* 0 = the codec's default */
    char *s3_addressing;   /* auto, path or virtual */
    char *aws_access_key_id;
    char *aws_secret_access_key;
    char *aws_region;
    char *aws_endpoint_url;
    char *admin_email;
    char *admin_password;
    char *site_title;
    char *base_url;
    char *theme_dir;
    char *migrations_dir;      /* a site's own migrations, or NULL */
    long http_threads;         /* libmicrohttpd worker threads */
    long max_body_bytes;       /* request body limit (413 beyond) */
    long max_upload_bytes;     /* one uploaded file at most (413 beyond) */
    char *media_types;         /* MIME types accepted as uploads, comma-separated */
    long max_image_pixels;     /* width x height of an image at most (decompression bombs) */
    long conn_timeout_s;       /* idle connection timeout */
    long request_timeout_s;    /* cap on the time to receive one whole request */
    long first_byte_timeout_s; /* a new connection must send its first byte within this */
    long max_conns_per_ip;     /* open connections per client address (0: no cap) */
    long shutdown_timeout_s;   /* how long SIGTERM waits for in-flight requests */
    long writer_max_batch;     /* writes per transaction at most */
    long writer_linger_us;     /* how long a short batch waits for more (0: never) */
    long login_window_s;       /* admin logins: failures count this long (admin/throttle.h) */
    long job_workers;          /* job queue worker threads */
    long job_max_attempts;     /* attempts before a job moves to failed_jobs */
    long job_backoff_ms;       /* delay before the first retry; doubles per attempt */
    long job_backoff_max_s;    /* cap on a retry delay */
    long job_visibility_s;     /* another process's reservation older than this is released */
    char *notify_webhook;      /* POST a new contact message here (secret: may hold a token) */
    long webhook_timeout_s;    /* a webhook request's whole time, connect included */
    long markdown_html;        /* 1: raw HTML in posts passes through (URLs still filtered) */
    long trust_proxy;          /* proxies you run in front (0: none): the client address is
                                  that many entries from the right of client_ip_header */
    char *client_ip_header;    /* the one header those proxies set (X-Forwarded-For) */
    long cache_max_age_ms;     /* a cached public response is rebuilt after this at most */
    long cache_bytes;          /* the response cache's budget (http/cache.h) */
    char *log_level;
};

/* Fills cfg with the defaults. Release with config_release(). */
void config_init(struct config *cfg);
void config_release(struct config *cfg);

/* Applies every ONEFILE_* / AWS_* variable that is set. 0, or -1 with err filled. */
int config_load_env(struct config *cfg, char *err, size_t errlen);

/* Applies one flag ("db", "listen", ... without the dashes). Returns 0, -1 with err
   filled for a bad value, or 1 when no setting has that flag. */
int config_set_flag(struct config *cfg, const char *flag, const char *value, char *err,
                    size_t errlen);

/* Fills the defaults that depend on other settings, once environment and flags are in:
   migrations_dir, when unset, becomes the directory `migrations` beside the database
   file if it exists (never for a PostgreSQL URL); base_url loses its trailing slashes
   ("https://example.org/" is "https://example.org", so links never read "//about"). */
void config_resolve(struct config *cfg);
/* 1 when host (an address literal or "localhost") is a loopback address (127/8, ::1). */
int config_host_is_loopback(const char *host);
/* 1 when base_url's host is a loopback address: links, feed and sitemap then point at a
   machine no visitor can reach (serve warns when it listens on another address). */
int config_base_url_is_loopback(const struct config *cfg);
/* Whether some setting has that flag (without the dashes). */
int config_has_flag(const char *flag);
/* Creates the database's directory when missing (like mkdir -p) and proves it writable by
   creating and removing a probe file. 0, or -1 with err filled (also for a PostgreSQL
   URL, which has no directory). */
int config_check_db_dir(const struct config *cfg, char *err, size_t errlen);

/* Prints every setting as NAME=value (secrets masked), one per line. */
void config_print(const struct config *cfg, FILE *out);

/* Writes "  --flag VALUE   help" lines for every setting that has a flag. */
void config_print_flags(FILE *out);

/* 2 for "full", 1 for "normal": the value of PRAGMA synchronous. */
int config_synchronous_level(const struct config *cfg);

#endif
