/*
 * log.h - structured log lines on stderr.
 *
 * Each event is one line. In JSON form (the default, and always when stderr is not a
 * terminal): {"ts":"2026-11-24T03:00:00.123Z","level":"info","msg":"...", <fields>}.
 * On a terminal the same event reads "03:00:00 INFO msg key=value ...". A line is written
 * with a single write(2) under a mutex, so lines from different threads never interleave.
 *
 * log_err() follows git's error(): it logs and returns -1, so a failure is reported once,
 * where it is detected: `return log_err("writer: commit: %s", sqlite3_errmsg(db));`.
 */
#ifndef ONEFILE_CORE_LOG_H
#define ONEFILE_CORE_LOG_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_AUTO, LOG_FORMAT_JSON, LOG_FORMAT_TEXT };

void log_setup(enum log_level min, enum log_format format);
/* Whether events of that level are written (to skip building fields nobody reads). */
int log_enabled(enum log_level level);
/* Parses "debug", "info", "warn", "error"; -1 when unknown. */
int log_level_parse(const char *name);

/* Logs msg with the fields of `fields` (a JSON object, may be NULL; its reference is
   stolen). */
void log_event(enum log_level level, const char *msg, json_t *fields);

/* A cap on how often one kind of line is written (a flood of cut connections must not
   become a flood of log lines): at most `per_s` lines a second; the lines over it are
   counted, and the next line written carries the count as "suppressed". */
struct log_limit {
    pthread_mutex_t mu;
    int per_s, n;
    int64_t window_us;
    long suppressed;
};
#define LOG_LIMIT_INIT(per_second)                                                                 \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, (per_second), 0, 0, 0                                           \
    }

/* log_event() within the limit l; otherwise counts it and frees fields. */
void log_event_limited(struct log_limit *l, enum log_level level, const char *msg, json_t *fields);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs at error level and returns -1. */
int log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
