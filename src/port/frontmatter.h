/*
 * frontmatter.h - a Markdown file with YAML front matter, read and written with libyaml.
 *
 *   ---
 *   title: "Hello: world"
 *   slug: hello-world
 *   kind: post            (post | page; default post, or page for a file under pages/)
 *   draft: false          (true/false/yes/no; default false)
 *   date: 2024-05-01T10:00:00Z    (published_at; 2024-05-01 and "2024-05-01 10:00:00"
 *                                  are taken too, as UTC)
 *   created: 2024-05-01T09:00:00Z
 *   updated: 2024-05-02T09:00:00Z
 *   ---
 *   The body, Markdown, to the end of the file.
 *
 * title is required; slug defaults to one made from the title. `tags`, `summary` and
 * `description` are accepted and reported as not imported (onefile has no column for
 * them yet); any other key is reported too. A syntax error names the file's line (the
 * front matter starts on line 2). Reading never follows anything outside the text: no
 * aliases are expanded beyond libyaml's document, no includes exist in YAML.
 *
 * Threads: any (no shared state).
 */
#ifndef ONEFILE_PORT_FRONTMATTER_H
#define ONEFILE_PORT_FRONTMATTER_H
#include <stddef.h>
#include <stdio.h>

#include "store/porting.h"

#define FM_MAX_NOTES 8

struct frontmatter {
    char *title, *slug, *kind, *date, *created, *updated; /* malloc'ed, or NULL */
    int draft;
    char *body;                    /* malloc'ed */
    char notes[FM_MAX_NOTES][160]; /* keys not imported, for the report */
    int nnotes;
};

/* Parses text[0..len) of file `name` (for messages). 0 with fm filled (release it), or -1
   with err holding "LINE: problem". default_kind for a missing `kind`. */
int frontmatter_parse(const char *text, size_t len, const char *default_kind,
                      struct frontmatter *fm, char *err, size_t errlen);
void frontmatter_release(struct frontmatter *fm);
/* Writes p as a front-matter file to out. 0, or -1 (libyaml failed: message in err). */
int frontmatter_write(FILE *out, const struct port_post *p, char *err, size_t errlen);
#endif
