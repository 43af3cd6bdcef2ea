/*
 * sqltok.h - a small SQL tokenizer, enough to classify a statement (what it does, to
 * which table) and to find a CREATE TABLE's name, without a full parser.
 *
 * Tokens: words (keywords, bare or quoted identifiers - "x", `x`, [x] are returned
 * unquoted - and numbers), string literals, and single punctuation characters.
 * Whitespace and comments are skipped. Each token carries the parenthesis depth it
 * sits at, so "WHERE at depth 0" tells a statement's own WHERE from a subquery's.
 */
#ifndef ONEFILE_DB_SQLTOK_H
#define ONEFILE_DB_SQLTOK_H
#include <stddef.h>

enum sqltok_kind { SQLTOK_END, SQLTOK_WORD, SQLTOK_STRING, SQLTOK_PUNCT };

struct sqltok {
    enum sqltok_kind kind;
    const char *start; /* in the scanned text */
    size_t len;        /* of the token's text in the source, quotes included */
    char text[128];    /* a word's text, unquoted; truncated past 127 bytes */
    int quoted;        /* the word was a quoted identifier (never a keyword) */
    int depth;         /* parenthesis depth before the token */
};

struct sqlscan {
    const char *p, *end;
    int depth;
};

void sqlscan_init(struct sqlscan *s, const char *sql, size_t len);
/* The next token into *t; returns its kind (SQLTOK_END at the end). */
enum sqltok_kind sqlscan_next(struct sqlscan *s, struct sqltok *t);
/* Whether t is the unquoted keyword `word` (case-insensitive). */
int sqltok_is(const struct sqltok *t, const char *word);
#endif
