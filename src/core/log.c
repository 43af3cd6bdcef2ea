/*
 * log.c - one structured line per event on stderr; see log.h.
 *
 * Threads: any. The format decision is made once in log_setup (or lazily on first use);
 * writing holds `lock` only around the final write(2).
 */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level min_level = LOG_INFO;
static enum log_format format = LOG_FORMAT_AUTO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_level min, enum log_format fmt)
{
    min_level = min;
    format = fmt;
}

int log_enabled(enum log_level level)
{
    return level >= min_level;
}

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

static enum log_format effective_format(void)
{
    if (format == LOG_FORMAT_AUTO)
        return isatty(STDERR_FILENO) ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON;
    return format;
}

static void write_line(const struct buf *line)
{
    pthread_mutex_lock(&lock);
    size_t off = 0;
    while (off < line->len) {
        ssize_t n = write(STDERR_FILENO, line->data + off, line->len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    pthread_mutex_unlock(&lock);
}

static void format_text(struct buf *line, enum log_level level, const char *msg, json_t *fields)
{
    char ts[32];
    clock_iso8601_ms(clock_wall_ms(), ts, sizeof(ts));
    buf_addf(line, "%.12s %-5s %s", ts + 11, level_names[level], msg);
    const char *key;
    json_t *value;
    json_object_foreach(fields, key, value)
    {
        if (json_is_string(value)) {
            buf_addf(line, " %s=%s", key, json_string_value(value));
        } else {
            char *enc = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
            buf_addf(line, " %s=%s", key, enc ? enc : "?");
            free(enc);
        }
    }
}

void log_event(enum log_level level, const char *msg, json_t *fields)
{
    if (level < min_level) {
        json_decref(fields);
        return;
    }
    struct buf line = BUF_INIT;
    if (effective_format() == LOG_FORMAT_TEXT) {
        format_text(&line, level, msg, fields);
    } else {
        char ts[32];
        json_t *o = json_object();
        json_object_set_new(o, "ts", json_string(clock_iso8601_ms(clock_wall_ms(), ts, sizeof ts)));
        json_object_set_new(o, "level", json_string(level_names[level]));
        /* invalid UTF-8 in a message (a path, a header) must not lose the line */
        json_t *m = json_string(msg);
        json_object_set_new(o, "msg", m ? m : json_string("(message not valid UTF-8)"));
        if (fields)
            json_object_update_missing(o, fields);
        char *enc = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        buf_adds(&line, enc ? enc : "{\"msg\":\"log encoding failed\"}");
        free(enc);
        json_decref(o);
    }
    buf_addc(&line, '\n');
    write_line(&line);
    buf_release(&line);
    json_decref(fields);
}

static void vlog(enum log_level level, const char *fmt, va_list ap)
{
    if (level < min_level)
        return;
    struct buf msg = BUF_INIT;
    buf_vaddf(&msg, fmt, ap);
    log_event(level, buf_str(&msg), NULL);
    buf_release(&msg);
}

void log_event_limited(struct log_limit *l, enum log_level level, const char *msg, json_t *fields)
{
    long suppressed = -1;
    int64_t now = clock_mono_us();
    pthread_mutex_lock(&l->mu);
    if (now - l->window_us >= 1000000) {
        l->window_us = now;
        l->n = 0;
    }
    if (l->n < l->per_s) {
        l->n++;
        suppressed = l->suppressed;
        l->suppressed = 0;
    } else {
        l->suppressed++;
    }
    pthread_mutex_unlock(&l->mu);
    if (suppressed < 0) {
        json_decref(fields);
        return;
    }
    if (suppressed > 0) {
        if (!fields)
            fields = json_object();
        json_object_set_new(fields, "suppressed", json_integer(suppressed));
    }
    log_event(level, msg, fields);
}

void log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_INFO, fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_WARN, fmt, ap);
    va_end(ap);
}

int log_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_ERROR, fmt, ap);
    va_end(ap);
    return -1;
}
