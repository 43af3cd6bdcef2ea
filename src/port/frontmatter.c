/*
 * frontmatter.c - YAML front matter through libyaml; see frontmatter.h.
 *
 * Reading: the text between the first line "---" and the next line "---" is loaded as a
 * YAML document (yaml_parser_load); the root must be a mapping of scalar keys. Line
 * numbers from libyaml's marks are 0-based within that text, so the file's line is
 * mark.line + 2. Writing: an emitter over a FILE, every value a double-quoted scalar
 * (so a title like "yes" or "1: 2" reads back as the same string), keys in a fixed order.
 */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/mem.h"
#include "port/frontmatter.h"

static void note(struct frontmatter *fm, const char *key, const char *why)
{
    if (fm->nnotes < FM_MAX_NOTES)
        snprintf(fm->notes[fm->nnotes++], sizeof(fm->notes[0]), "'%.60s' %s", key, why);
}

/* The fixed-length line "---" at p (followed by \n, \r\n or the end)? Its length or 0. */
static size_t fence(const char *p, const char *end)
{
    if (end - p < 3 || memcmp(p, "---", 3) != 0)
        return 0;
    p += 3;
    if (p == end)
        return 3;
    if (*p == '\n')
        return 4;
    if (*p == '\r' && p + 1 < end && p[1] == '\n')
        return 5;
    return 0;
}

/* Normalises a date to "YYYY-MM-DDTHH:MM:SSZ" into out (32 bytes); 0 or -1. */
static int iso_date(const char *s, char *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    size_t len = strlen(s);
    if (len == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && n == 10) {
    } else if (len == 20 &&
               sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 &&
               n == 20) {
    } else if (len == 19 &&
               sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 &&
               n == 19) {
    } else {
        return -1;
    }
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || sec < 0 || sec > 60)
        return -1;
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", y % 10000, mo % 100, d % 100, h % 100,
             mi % 100, sec % 100);
    return 0;
}

static int set_date(char **dst, const char *v, const char *key, int line, char *err, size_t errlen)
{
    char iso[32];
    if (iso_date(v, iso) != 0) {
        snprintf(err, errlen, "%d: %s '%s' is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)",
                 line, key, v);
        return -1;
    }
    free(*dst);
    *dst = xstrdup(iso);
    return 0;
}

int frontmatter_parse(const char *text, size_t len, const char *default_kind,
                      struct frontmatter *fm, char *err, size_t errlen)
{
    memset(fm, 0, sizeof(*fm));
    const char *end = text + len;
    size_t f = fence(text, end);
    if (!f) {
        snprintf(err, errlen, "1: the file does not start with a front matter line '---'");
        return -1;
    }
    const char *yaml_start = text + f, *p = yaml_start, *close = NULL;
    size_t close_len = 0;
    while (p < end) {
        if ((close_len = fence(p, end))) {
            close = p;
            break;
        }
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    if (!close) {
        snprintf(err, errlen, "1: the front matter has no closing line '---'");
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    int ret = -1, have_doc = 0;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml_start,
                                 (size_t)(close - yaml_start));
    if (!yaml_parser_load(&parser, &doc)) {
        if (parser.context)
            snprintf(err, errlen, "%d: %s (%s, from line %d)", (int)parser.problem_mark.line + 2,
                     parser.problem ? parser.problem : "malformed YAML", parser.context,
                     (int)parser.context_mark.line + 2);
        else
            snprintf(err, errlen, "%d: %s", (int)parser.problem_mark.line + 2,
                     parser.problem ? parser.problem : "malformed YAML");
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        snprintf(err, errlen, "2: the front matter must be a mapping (key: value lines)");
        goto out;
    }
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(&doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(&doc, pr->value);
        int line = (int)k->start_mark.line + 2;
        if (k->type != YAML_SCALAR_NODE) {
            snprintf(err, errlen, "%d: a key must be plain text", line);
            goto out;
        }
        const char *key = (const char *)k->data.scalar.value;
        if (strcmp(key, "tags") == 0 || strcmp(key, "categories") == 0 ||
            strcmp(key, "summary") == 0 || strcmp(key, "description") == 0) {
            note(fm, key, "is not imported (onefile has no place for it yet)");
            continue;
        }
        if (v->type != YAML_SCALAR_NODE) {
            snprintf(err, errlen, "%d: %s must be a single value", line, key);
            goto out;
        }
        const char *val = (const char *)v->data.scalar.value;
        if (strcmp(key, "title") == 0) {
            free(fm->title);
            fm->title = xstrdup(val);
        } else if (strcmp(key, "slug") == 0) {
            free(fm->slug);
            fm->slug = xstrdup(val);
        } else if (strcmp(key, "kind") == 0) {
            if (strcmp(val, "post") != 0 && strcmp(val, "page") != 0) {
                snprintf(err, errlen, "%d: kind must be post or page, not '%s'", line, val);
                goto out;
            }
            free(fm->kind);
            fm->kind = xstrdup(val);
        } else if (strcmp(key, "draft") == 0) {
            if (strcmp(val, "true") == 0 || strcmp(val, "yes") == 0)
                fm->draft = 1;
            else if (strcmp(val, "false") == 0 || strcmp(val, "no") == 0)
                fm->draft = 0;
            else {
                snprintf(err, errlen, "%d: draft must be true or false, not '%s'", line, val);
                goto out;
            }
        } else if (strcmp(key, "date") == 0) {
            if (set_date(&fm->date, val, key, line, err, errlen) != 0)
                goto out;
        } else if (strcmp(key, "created") == 0) {
            if (set_date(&fm->created, val, key, line, err, errlen) != 0)
                goto out;
        } else if (strcmp(key, "updated") == 0) {
            if (set_date(&fm->updated, val, key, line, err, errlen) != 0)
                goto out;
        } else {
            note(fm, key, "is not a key onefile knows: ignored");
        }
    }
    if (!fm->title || !*fm->title) {
        snprintf(err, errlen, "2: title is missing");
        goto out;
    }
    if (!fm->kind)
        fm->kind = xstrdup(default_kind);
    const char *body = close + close_len;
    fm->body = xstrndup(body, (size_t)(end - body));
    ret = 0;
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (ret != 0)
        frontmatter_release(fm);
    return ret;
}

void frontmatter_release(struct frontmatter *fm)
{
    free(fm->title);
    free(fm->slug);
    free(fm->kind);
    free(fm->date);
    free(fm->created);
    free(fm->updated);
    free(fm->body);
    memset(fm, 0, sizeof(*fm));
}

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    return fwrite(buffer, 1, size, data) == size;
}

static int scalar(yaml_emitter_t *e, const char *s, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)s, (int)strlen(s), 1, 1,
                                 style);
    return yaml_emitter_emit(e, &ev);
}

int frontmatter_write(FILE *out, const struct port_post *p, char *err, size_t errlen)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    int ok = 1;
    yaml_emitter_initialize(&e);
    yaml_emitter_set_output(&e, write_handler, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    fputs("---\n", out);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    ok = ok && yaml_emitter_emit(&e, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&e, &ev);
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    ok = ok && yaml_emitter_emit(&e, &ev);
    const char *pairs[][2] = {
        {"title", p->title},        {"slug", p->slug},
        {"kind", p->kind},          {"draft", strcmp(p->status, "draft") == 0 ? "true" : "false"},
        {"date", p->published_at},  {"created", p->created_at},
        {"updated", p->updated_at},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]) && ok; i++) {
        if (!pairs[i][1])
            continue;
        ok = scalar(&e, pairs[i][0], YAML_PLAIN_SCALAR_STYLE) &&
             scalar(&e, pairs[i][1],
                    i == 3 ? YAML_PLAIN_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
    }
    yaml_mapping_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&e, &ev);
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(&e, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&e, &ev);
    if (!ok)
        snprintf(err, errlen, "yaml: %s", e.problem ? e.problem : "cannot emit");
    yaml_emitter_delete(&e);
    if (!ok)
        return -1;
    fputs("---\n", out);
    fputs(p->body_md, out);
    return ferror(out) ? (snprintf(err, errlen, "write failed"), -1) : 0;
}
