/*
 * tmpl.h - mustache-style templates over jansson values, HTML-escaped by default.
 *
 * A set holds templates by name ("post.html"). Each is compiled once, when added, into a
 * flat node array (a section node knows the index of its end), so rendering never parses.
 *
 *   {{name}}            the value, HTML-escaped (&<>"' become entities)
 *   {{{name}}} {{&name}} the value, raw
 *   {{#name}}..{{/name}} section: an array renders once per element, the element pushed as
 *                       the context; an object, true, a non-empty string or a non-zero
 *                       number once, pushed (names still resolve as outside, since only
 *                       objects hold names, but {{.}} is the value); false, null, missing,
 *                       an empty array, "" and 0 not at all
 *   {{^name}}..{{/name}} inverted: renders exactly when the section would not
 *   {{> other.html}}    another template of the set, with the current context stack
 *   {{! comment}}       nothing
 *   {{a.b.c}} {{.}}     "a" is looked up through the context stack, innermost first, the
 *                       rest inside that value only; "." is the current context
 *
 * Values print as: strings as they are, integers "%lld", reals "%.15g", true "true";
 * false, null, missing, objects and arrays as nothing. Set-delimiter tags are refused, and
 * a missing partial is a render error (the spec renders nothing). As in every mustache, a
 * name missing from an element is looked up further out: give a recursive tree's leaves
 * "children": [] so {{#children}} does not find their parent's.
 *
 * Whitespace follows the mustache spec's "standalone" rule: a section, inverted, close,
 * comment or partial tag alone on its line (blanks aside) takes the whole line with it,
 * and a standalone partial's indentation is put before every line of the partial.
 *
 * Limits keep hostile templates cheap: sections nest at most TMPL_MAX_NEST deep (a compile
 * error), partials at most TMPL_MAX_PARTIALS deep (a render error, so a partial that
 * includes itself fails instead of recursing), and a render gives up after TMPL_MAX_STEPS
 * units of work (nodes visited plus contexts searched), so nested loops cannot spin for
 * ever even when they print nothing. Output growth is capped by out's own limit.
 *
 * Threads: build a set at start-up (or under the caller's lock); tmpl_render() only reads
 * the set and the model, so any number of threads may render from one set at once.
 */
#ifndef ONEFILE_TMPL_TMPL_H
#define ONEFILE_TMPL_TMPL_H
#include <jansson.h>
#include <stddef.h>

struct buf;

#define TMPL_MAX_NEST 64     /* sections open at once within one template */
#define TMPL_MAX_PARTIALS 16 /* partials inside partials */
#ifndef TMPL_MAX_STEPS       /* a fuzz build may lower it */
#define TMPL_MAX_STEPS 10000000UL
#endif

struct tmpl_set; /* compiled templates, by name */

/* An empty set, owned by the caller. Never NULL. */
struct tmpl_set *tmpl_set_new(void);
/* Frees the set and every template in it; NULL is fine. */
void tmpl_set_free(struct tmpl_set *s);
/* Compiles len bytes of text (not necessarily NUL-terminated; copied) under name, replacing a
   template of the same name. 0, or -1 with err filled ("post.html line 12: unclosed section
   'posts'") and the set unchanged. err may be NULL. */
int tmpl_set_add(struct tmpl_set *s, const char *name, const char *text, size_t len, char *err,
                 size_t errlen);
/* Whether a template of that name exists. */
int tmpl_set_has(const struct tmpl_set *s, const char *name);
/* Renders template name with model (borrowed; NULL renders as an empty context) and appends
   the result to out. 0, or -1 with err filled: unknown template, missing partial, partials
   deeper than TMPL_MAX_PARTIALS, more than TMPL_MAX_STEPS, or out's limit reached (then
   out->toobig is set). On failure out may hold part of the rendering. */
int tmpl_render(const struct tmpl_set *s, const char *name, json_t *model, struct buf *out,
                char *err, size_t errlen);

#endif
