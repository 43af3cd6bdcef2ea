/*
 * webhook.c - the `webhook` job type; the contract is in webhook.h.
 *
 * One libcurl easy handle per attempt (a webhook is rare; a handle cache would only keep
 * sockets to receivers open). The response body is read into a small buffer, the first
 * 200 bytes kept for the error message and the rest discarded: a receiver cannot make a
 * worker allocate. libcurl's progress callback watches the worker's abort flag so a stop
 * does not wait for a slow receiver.
 *
 * Threads: any worker thread; nothing shared (CURLOPT_NOSIGNAL: no SIGALRM for timeouts).
 */
#include "jobs/webhook.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "http/app.h"

#define SNIPPET 200 /* bytes of a failed response kept in last_error */

struct response {
    char text[SNIPPET + 1];
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct response *r = arg;
    size_t bytes = size * n, room = SNIPPET - r->len;
    size_t take = bytes < room ? bytes : room;
    memcpy(r->text + r->len, data, take);
    r->len += take;
    r->text[r->len] = '\0';
    return bytes;
}

struct progress {
    const atomic_int *abort;
};

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const struct progress *p = arg;
    return atomic_load(p->abort) ? 1 : 0; /* non-zero aborts the transfer */
}

/* The snippet as one printable line. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            *s = ' ';
}

int webhook_run(const struct job_ctx *c, char *err, size_t errlen)
{
    const struct config *cfg = c->app->cfg;
    const char *url = json_string_value(json_object_get(c->payload, "url"));
    const json_t *body = json_object_get(c->payload, "body");
    char *text = NULL, key[160], job_id[48], attempt[48], curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    struct response resp = {{0}, 0};
    struct progress progress = {c->abort};
    CURL *h = NULL;
    int ret = JOB_EPERMANENT;
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        snprintf(err, errlen, "payload.url must be an http:// or https:// URL");
        goto out;
    }
    text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
    ret = -1;
    if (!text) {
        snprintf(err, errlen, "webhook: cannot encode payload.body");
        goto out;
    }
    if (!(h = curl_easy_init())) {
        snprintf(err, errlen, "webhook: curl_easy_init failed");
        goto out;
    }
    if (c->job->key)
        snprintf(key, sizeof(key), "Idempotency-Key: %s", c->job->key);
    else
        snprintf(key, sizeof(key), "Idempotency-Key: job-%lld", (long long)c->job->id);
    snprintf(job_id, sizeof(job_id), "X-Onefile-Job: %lld", (long long)c->job->id);
    snprintf(attempt, sizeof(attempt), "X-Onefile-Attempt: %d", c->job->attempts);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, key);
    headers = curl_slist_append(headers, job_id);
    headers = curl_slist_append(headers, attempt);
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    long timeout = cfg->webhook_timeout_s;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "onefile/" ONEFILE_VERSION);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout < 5 ? timeout : 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &progress);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(err, errlen, "stopped while waiting for the receiver");
        ret = JOB_EABORTED;
        goto out;
    }
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "POST failed: %s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        one_line(resp.text);
        snprintf(err, errlen, "HTTP %ld%s%s", status, resp.len ? ": " : "", resp.text);
        goto out;
    }
    ret = 0;
out:
    curl_slist_free_all(headers);
    if (h)
        curl_easy_cleanup(h);
    free(text);
    return ret;
}
