/*
 * sqltok.c - the SQL tokenizer; see sqltok.h.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "db/sqltok.h"

void sqlscan_init(struct sqlscan *s, const char *sql, size_t len)
{
    s->p = sql;
    s->end = sql + len;
    s->depth = 0;
}

static void skip_space(struct sqlscan *s)
{
    while (s->p < s->end) {
        if (isspace((unsigned char)*s->p)) {
            s->p++;
        } else if (s->p + 1 < s->end && s->p[0] == '-' && s->p[1] == '-') {
            while (s->p < s->end && *s->p != '\n')
                s->p++;
        } else if (s->p + 1 < s->end && s->p[0] == '/' && s->p[1] == '*') {
            s->p += 2;
            while (s->p + 1 < s->end && !(s->p[0] == '*' && s->p[1] == '/'))
                s->p++;
            s->p = s->p + 1 < s->end ? s->p + 2 : s->end;
        } else {
            return;
        }
    }
}

/* A quoted token ending with `close`, where a doubled close is an escaped one. */
static void quoted(struct sqlscan *s, struct sqltok *t, char close)
{
    size_t n = 0;
    s->p++;
    while (s->p < s->end) {
        if (*s->p == close) {
            if (close != ']' && s->p + 1 < s->end && s->p[1] == close) {
                s->p++;
            } else {
                s->p++;
                break;
            }
        }
        if (n + 1 < sizeof(t->text))
            t->text[n++] = *s->p;
        s->p++;
    }
    t->text[n] = '\0';
}

enum sqltok_kind sqlscan_next(struct sqlscan *s, struct sqltok *t)
{
    skip_space(s);
    memset(t, 0, sizeof(*t));
    t->start = s->p;
    t->depth = s->depth;
    if (s->p >= s->end) {
        t->kind = SQLTOK_END;
        return t->kind;
    }
    char c = *s->p;
    if (isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80) {
        size_t n = 0;
        while (s->p < s->end && (isalnum((unsigned char)*s->p) || *s->p == '_' || *s->p == '$' ||
                                 (unsigned char)*s->p >= 0x80)) {
            if (n + 1 < sizeof(t->text))
                t->text[n++] = *s->p;
            s->p++;
        }
        t->text[n] = '\0';
        t->kind = SQLTOK_WORD;
    } else if (c == '"' || c == '`' || c == '[') {
        quoted(s, t, c == '[' ? ']' : c);
        t->kind = SQLTOK_WORD;
        t->quoted = 1;
    } else if (c == '\'') {
        quoted(s, t, '\'');
        t->kind = SQLTOK_STRING;
    } else {
        if (c == '(')
            s->depth++;
        else if (c == ')' && s->depth > 0)
            s->depth--;
        t->text[0] = c;
        s->p++;
        t->kind = SQLTOK_PUNCT;
    }
    t->len = (size_t)(s->p - t->start);
    return t->kind;
}

int sqltok_is(const struct sqltok *t, const char *word)
{
    return t->kind == SQLTOK_WORD && !t->quoted && strcasecmp(t->text, word) == 0;
}
