/*
 * tmpl.c - compiling and rendering mustache-style templates; see tmpl.h.
 *
 * COMPILING walks the text once, tag by tag, appending nodes to one flat array:
 *
 *   N_TEXT     bytes of the source           N_VAR, N_RAW   a value, escaped or not
 *   N_SECTION  .end = index of its N_END     N_PARTIAL      another template, by name
 *   N_INVERTED .end likewise; a section's body is the nodes (i, end], END included
 *
 * Open sections wait on a fixed stack of TMPL_MAX_NEST indices; a close tag checks its
 * name against the top and patches .end. Once the whole text has compiled, names are
 * NUL-terminated in place in the template's own copy of the text (a tag's bytes are never
 * output), dots becoming NULs too, so a dotted name is a run of .nseg segments.
 *
 * Standalone lines: before a section, inverted, close, comment or partial tag, the
 * compiler looks back over blanks to the start of the line and forward over blanks to
 * its end. If both get there, the blanks are cut from the text before and the line's
 * newline after the tag is skipped.
 *
 * Indentation of a standalone partial: the spec indents the partial's text, not its
 * output (a value holding newlines is not indented). So a node that begins a line of its
 * template is marked .bol, a text node also indents after its own inner newlines, and
 * the renderer puts the current indentation there. The indentation is a stack of pieces
 * of source text, one per standalone partial being rendered; a frame uses the pieces from
 * its ibase up, so an inline partial (ibase = top) is not indented at all.
 *
 * RENDERING recurses once per section and once per partial, both bounded (TMPL_MAX_NEST
 * within a template, TMPL_MAX_PARTIALS templates deep), so the context stack has a fixed
 * size that covers the worst case; a step count bounds the time.
 */
#include "tmpl/tmpl.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"

enum node_type { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_END, N_PARTIAL };

struct node {
    unsigned char type;       /* enum node_type */
    unsigned char bol;        /* begins a line of its template: indentation goes first */
    unsigned char standalone; /* N_PARTIAL alone on its line, indented by [off, off+len) */
    int line;                 /* of the tag, for render errors */
    int nseg;                 /* dotted names: segments ("a.b" 2, "." 0) */
    size_t end;               /* N_SECTION, N_INVERTED: index of the N_END */
    size_t off, len;          /* N_TEXT: its bytes; N_PARTIAL: its indentation */
    size_t name, namelen;     /* named nodes: where the name is in src */
};

struct tmpl {
    char *name;
    char *src; /* the text, names NUL-terminated in place */
    struct node *nodes;
    size_t n;
};

struct tmpl_set {
    struct tmpl **v; /* few templates (a theme's): a linear search is enough */
    size_t n, cap;
};

#define NPOS ((size_t)-1)
#define NAME_SHOWN 64 /* longest name quoted in an error */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- compiling ---- */

struct compiler {
    const char *name; /* of the template, for errors */
    char *src;
    size_t len;
    struct node *nodes;
    size_t n, cap;
    size_t open[TMPL_MAX_NEST]; /* indices of the open sections */
    int nopen;
    int at_bol;  /* nothing output yet on the current line of the template */
    size_t lpos; /* line_at() has counted newlines up to here */
    int line;
    char *err;
    size_t errlen;
};

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int is_hblank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Where pat first occurs in s[from, len), or NPOS. */
static size_t find(const char *s, size_t from, size_t len, const char *pat)
{
    size_t m = strlen(pat);
    while (from + m <= len) {
        const char *p = memchr(s + from, pat[0], len - from - m + 1);
        if (!p)
            return NPOS;
        if (memcmp(p, pat, m) == 0)
            return (size_t)(p - s);
        from = (size_t)(p - s) + 1;
    }
    return NPOS;
}

/* Line number of pos; pos never goes backwards between calls. */
static int line_at(struct compiler *c, size_t pos)
{
    for (; c->lpos < pos; c->lpos++)
        if (c->src[c->lpos] == '\n')
            c->line++;
    return c->line;
}

static struct node *add_node(struct compiler *c, enum node_type type, int line, int standalone)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->nodes = xrealloc(c->nodes, c->cap * sizeof(*c->nodes));
    }
    struct node *n = &c->nodes[c->n++];
    memset(n, 0, sizeof(*n));
    n->type = (unsigned char)type;
    n->line = line;
    n->bol = (unsigned char)(!standalone && c->at_bol);
    c->at_bol = standalone;
    return n;
}

static void add_text(struct compiler *c, size_t from, size_t to)
{
    if (to <= from)
        return;
    struct node *n = add_node(c, N_TEXT, 0, 0);
    n->off = from;
    n->len = to - from;
    c->at_bol = c->src[to - 1] == '\n';
}

/* Whether s[0, n) is a good name: no blanks, controls or braces; when dotted, "." or
   segments that are not empty. */
static int good_name(const char *s, size_t n, int dotted)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch == 0x7f || ch == '{' || ch == '}')
            return 0;
    }
    if (!dotted || (n == 1 && s[0] == '.'))
        return 1;
    if (s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] == '.' && s[i - 1] == '.')
            return 0;
    return 1;
}

static int shown(size_t n)
{
    return n > NAME_SHOWN ? NAME_SHOWN : (int)n;
}

/* The close tag named src[a, b): checks it against the innermost open section. */
static int close_section(struct compiler *c, size_t a, size_t b, int line, int standalone)
{
    size_t len = b - a;
    if (c->nopen == 0)
        return fail(c->err, c->errlen, "%s line %d: close tag '{{/%.*s}}' without an open section",
                    c->name, line, shown(len), c->src + a);
    struct node *open = &c->nodes[c->open[c->nopen - 1]];
    if (open->namelen != len || memcmp(c->src + open->name, c->src + a, len) != 0)
        return fail(c->err, c->errlen,
                    "%s line %d: mismatched close tag '{{/%.*s}}' for open section '%.*s' "
                    "(line %d)",
                    c->name, line, shown(len), c->src + a, shown(open->namelen),
                    c->src + open->name, open->line);
    c->nopen--;
    size_t at = c->open[c->nopen];
    add_node(c, N_END, line, standalone);
    c->nodes[at].end = c->n - 1;
    return 0;
}

/* One tag: sigil (0 for a variable) and name src[a, b); a standalone tag's line began with
   the blanks src[ls, open). */
static int add_tag(struct compiler *c, char sigil, size_t a, size_t b, int line, int standalone,
                   size_t ls, size_t open)
{
    if (sigil == '!')
        return 0;
    if (sigil == '=')
        return fail(c->err, c->errlen, "%s line %d: set-delimiter tags are not supported", c->name,
                    line);
    if (a == b)
        return fail(c->err, c->errlen, "%s line %d: empty tag name", c->name, line);
    if (!good_name(c->src + a, b - a, sigil != '>'))
        return fail(c->err, c->errlen, "%s line %d: bad tag name '%.*s'", c->name, line,
                    shown(b - a), c->src + a);
    if (sigil == '/')
        return close_section(c, a, b, line, standalone);
    if ((sigil == '#' || sigil == '^') && c->nopen == TMPL_MAX_NEST)
        return fail(c->err, c->errlen, "%s line %d: sections nested deeper than %d", c->name, line,
                    TMPL_MAX_NEST);

    enum node_type type = N_VAR;
    switch (sigil) {
    case '#':
        type = N_SECTION;
        break;
    case '^':
        type = N_INVERTED;
        break;
    case '>':
        type = N_PARTIAL;
        break;
    case '&':
        type = N_RAW;
        break;
    default:
        break;
    }
    struct node *n = add_node(c, type, line, standalone);
    n->name = a;
    n->namelen = b - a;
    if (type == N_SECTION || type == N_INVERTED)
        c->open[c->nopen++] = c->n - 1;
    if (type == N_PARTIAL && standalone) {
        n->standalone = 1;
        n->off = ls;
        n->len = open - ls;
    }
    return 0;
}

/* NUL-terminates every name in place and splits dotted ones into segments. */
static void finish_names(struct compiler *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct node *n = &c->nodes[i];
        if (n->type == N_TEXT || n->type == N_END)
            continue;
        char *s = c->src + n->name;
        s[n->namelen] = '\0';
        if (n->type == N_PARTIAL || (n->namelen == 1 && s[0] == '.'))
            continue; /* nseg 0: the current context; partial names keep their dots */
        n->nseg = 1;
        for (size_t k = 0; k < n->namelen; k++) {
            if (s[k] == '.') {
                s[k] = '\0';
                n->nseg++;
            }
        }
    }
}

static int compile(struct compiler *c)
{
    const char *src = c->src;
    size_t pos = 0, text = 0; /* scanning at pos; src[text, pos) is not a node yet */
    c->line = 1;
    c->at_bol = 1;
    for (;;) {
        size_t open = find(src, pos, c->len, "{{");
        if (open == NPOS)
            break;
        int line = line_at(c, open);
        int triple = open + 2 < c->len && src[open + 2] == '{';
        size_t a = open + 2 + (size_t)triple;
        size_t b = find(src, a, c->len, triple ? "}}}" : "}}");
        if (b == NPOS)
            return fail(c->err, c->errlen, "%s line %d: unclosed tag '{{'", c->name, line);
        size_t after = b + 2 + (size_t)triple;

        char sigil = triple ? '&' : 0;
        while (a < b && is_blank(src[a]))
            a++;
        if (!triple && a < b) {
            switch (src[a]) {
            case '#':
            case '^':
            case '/':
            case '>':
            case '!':
            case '&':
            case '=':
                sigil = src[a++];
                break;
            default:
                break;
            }
        }
        while (a < b && is_blank(src[a]))
            a++;
        while (b > a && is_blank(src[b - 1]))
            b--;

        /* standalone: only blanks between the line's start (not before text) and its end */
        size_t ls = open, le = after;
        int standalone = 0;
        if (sigil && sigil != '&') {
            while (ls > text && is_hblank(src[ls - 1]))
                ls--;
            if (ls == 0 || src[ls - 1] == '\n') {
                while (le < c->len && is_hblank(src[le]))
                    le++;
                if (le == c->len) {
                    standalone = 1;
                } else if (src[le] == '\n') {
                    standalone = 1;
                    le++;
                } else if (src[le] == '\r' && le + 1 < c->len && src[le + 1] == '\n') {
                    standalone = 1;
                    le += 2;
                }
            }
        }

        add_text(c, text, standalone ? ls : open);
        if (add_tag(c, sigil, a, b, line, standalone, ls, open) < 0)
            return -1;
        if (standalone)
            c->at_bol = 1;
        pos = text = standalone ? le : after;
    }
    add_text(c, text, c->len);
    if (c->nopen) {
        const struct node *n = &c->nodes[c->open[c->nopen - 1]];
        return fail(c->err, c->errlen, "%s line %d: unclosed section '%.*s'", c->name, n->line,
                    shown(n->namelen), src + n->name);
    }
    finish_names(c);
    return 0;
}

/* ---- the set ---- */

static void tmpl_free(struct tmpl *t)
{
    free(t->name);
    free(t->src);
    free(t->nodes);
    free(t);
}

static size_t set_index(const struct tmpl_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i]->name, name) == 0)
            return i;
    return NPOS;
}

static const struct tmpl *set_find(const struct tmpl_set *s, const char *name)
{
    size_t i = set_index(s, name);
    return i == NPOS ? NULL : s->v[i];
}

struct tmpl_set *tmpl_set_new(void)
{
    return xcalloc(1, sizeof(struct tmpl_set));
}

void tmpl_set_free(struct tmpl_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        tmpl_free(s->v[i]);
    free(s->v);
    free(s);
}

int tmpl_set_add(struct tmpl_set *s, const char *name, const char *text, size_t len, char *err,
                 size_t errlen)
{
    int ret = -1;
    struct compiler c = {.name = name, .len = len, .err = err, .errlen = errlen};
    c.src = xmalloc(len + 1);
    if (len)
        memcpy(c.src, text, len);
    c.src[len] = '\0';
    if (compile(&c) < 0)
        goto out;

    struct tmpl *t = xmalloc(sizeof(*t));
    *t = (struct tmpl){xstrdup(name), c.src, c.nodes, c.n};
    c.src = NULL;
    c.nodes = NULL;
    size_t i = set_index(s, name);
    if (i != NPOS) {
        tmpl_free(s->v[i]);
        s->v[i] = t;
    } else {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
        }
        s->v[s->n++] = t;
    }
    ret = 0;
out:
    free(c.src);
    free(c.nodes);
    return ret;
}

int tmpl_set_has(const struct tmpl_set *s, const char *name)
{
    return set_find(s, name) != NULL;
}

/* ---- rendering ---- */

/* Contexts: the model, then at most TMPL_MAX_NEST per template rendered. */
#define MAX_CTX (1 + (TMPL_MAX_PARTIALS + 1) * TMPL_MAX_NEST)

struct piece {
    const char *p;
    size_t len;
};

struct render {
    const struct tmpl_set *set;
    struct buf *out;
    char *err;
    size_t errlen;
    unsigned long steps;
    int partials; /* depth of partials */
    int nindent;
    struct piece indent[TMPL_MAX_PARTIALS]; /* one per standalone partial, outermost first */
    int nctx;
    json_t *ctx[MAX_CTX]; /* innermost last */
};

static int render_nodes(struct render *st, const struct tmpl *t, size_t from, size_t to, int ibase);

static int too_big(struct render *st, const struct tmpl *t)
{
    return fail(st->err, st->errlen, "%s: output larger than %zu bytes", t->name, st->out->limit);
}

/* The value a named node refers to, or NULL. */
static json_t *lookup(struct render *st, const struct tmpl *t, const struct node *n)
{
    if (n->nseg == 0)
        return st->ctx[st->nctx - 1];
    const char *seg = t->src + n->name;
    json_t *v = NULL;
    for (int i = st->nctx - 1; i >= 0 && !v; i--) {
        st->steps++;
        if (json_is_object(st->ctx[i]))
            v = json_object_get(st->ctx[i], seg);
    }
    for (int k = 1; k < n->nseg && v; k++) {
        seg += strlen(seg) + 1;
        v = json_is_object(v) ? json_object_get(v, seg) : NULL;
    }
    return v;
}

static int truthy(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT:
        return 1;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_TRUE:
        return 1;
    default:
        return 0;
    }
}

static int put_value(struct buf *out, const json_t *v, int escape)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        return escape ? buf_add_html(out, json_string_value(v))
                      : buf_adds(out, json_string_value(v));
    case JSON_INTEGER:
        return buf_addf(out, "%lld", (long long)json_integer_value(v));
    case JSON_REAL:
        return buf_addf(out, "%.15g", json_real_value(v));
    case JSON_TRUE:
        return buf_adds(out, "true");
    default:
        return 0;
    }
}

static int put_indent(struct render *st, int ibase)
{
    for (int i = ibase; i < st->nindent; i++)
        if (buf_add(st->out, st->indent[i].p, st->indent[i].len) < 0)
            return -1;
    return 0;
}

/* Text, indented after each inner newline when the frame is indented. */
static int put_text(struct render *st, const char *p, size_t n, int ibase)
{
    if (ibase == st->nindent)
        return buf_add(st->out, p, n);
    size_t start = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] != '\n')
            continue;
        if (buf_add(st->out, p + start, i + 1 - start) < 0 || put_indent(st, ibase) < 0)
            return -1;
        start = i + 1;
    }
    return buf_add(st->out, p + start, n - start);
}

/* Renders from..to of t with ctx pushed. */
static int render_in(struct render *st, const struct tmpl *t, json_t *ctx, size_t from, size_t to,
                     int ibase)
{
    assert(st->nctx < MAX_CTX); /* TMPL_MAX_NEST and TMPL_MAX_PARTIALS see to it */
    st->ctx[st->nctx++] = ctx;
    int rc = render_nodes(st, t, from, to, ibase);
    st->nctx--;
    return rc;
}

static int render_section(struct render *st, const struct tmpl *t, const struct node *n,
                          size_t from, int ibase)
{
    json_t *v = lookup(st, t, n);
    size_t to = n->end + 1;
    if (n->type == N_INVERTED)
        return truthy(v) ? 0 : render_nodes(st, t, from, to, ibase);
    if (json_is_array(v)) {
        for (size_t k = 0; k < json_array_size(v); k++)
            if (render_in(st, t, json_array_get(v, k), from, to, ibase) < 0)
                return -1;
        return 0;
    }
    return truthy(v) ? render_in(st, t, v, from, to, ibase) : 0;
}

static int render_partial(struct render *st, const struct tmpl *t, const struct node *n, int ibase)
{
    const char *name = t->src + n->name;
    const struct tmpl *p = set_find(st->set, name);
    if (!p)
        return fail(st->err, st->errlen, "%s line %d: missing partial '%s'", t->name, n->line,
                    name);
    if (st->partials == TMPL_MAX_PARTIALS)
        return fail(st->err, st->errlen, "%s line %d: partials nested deeper than %d ('%s')",
                    t->name, n->line, TMPL_MAX_PARTIALS, name);
    int saved = st->nindent;
    int base = st->nindent; /* an inline partial is not indented */
    if (n->standalone) {
        base = ibase;
        if (n->len)
            st->indent[st->nindent++] = (struct piece){t->src + n->off, n->len};
    }
    st->partials++;
    int rc = render_nodes(st, p, 0, p->n, base);
    st->partials--;
    st->nindent = saved;
    return rc;
}

static int render_nodes(struct render *st, const struct tmpl *t, size_t from, size_t to, int ibase)
{
    for (size_t i = from; i < to; i++) {
        const struct node *n = &t->nodes[i];
        if (++st->steps > TMPL_MAX_STEPS)
            return fail(st->err, st->errlen, "%s: rendering takes more than %lu steps", t->name,
                        (unsigned long)TMPL_MAX_STEPS);
        if (n->bol && put_indent(st, ibase) < 0)
            return too_big(st, t);
        switch ((enum node_type)n->type) {
        case N_TEXT:
            if (put_text(st, t->src + n->off, n->len, ibase) < 0)
                return too_big(st, t);
            break;
        case N_VAR:
        case N_RAW:
            if (put_value(st->out, lookup(st, t, n), n->type == N_VAR) < 0)
                return too_big(st, t);
            break;
        case N_SECTION:
        case N_INVERTED:
            if (render_section(st, t, n, i + 1, ibase) < 0)
                return -1;
            i = n->end;
            break;
        case N_PARTIAL:
            if (render_partial(st, t, n, ibase) < 0)
                return -1;
            break;
        case N_END:
            break;
        }
    }
    return 0;
}

int tmpl_render(const struct tmpl_set *s, const char *name, json_t *model, struct buf *out,
                char *err, size_t errlen)
{
    const struct tmpl *t = set_find(s, name);
    if (!t)
        return fail(err, errlen, "unknown template '%s'", name);
    struct render st = {.set = s, .out = out, .err = err, .errlen = errlen, .nctx = 1};
    st.ctx[0] = model;
    return render_nodes(&st, t, 0, t->n, 0);
}
