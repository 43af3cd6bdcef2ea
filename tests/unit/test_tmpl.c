/* test_tmpl.c - the template engine as data: {template, model, expected output} rows for
   escaping, values, sections, inverted sections, context lookup, dotted names, comments,
   whitespace and partials; {template, expected error} rows for compile errors; then the
   limits (output cap, partial recursion, nesting, steps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tmpl/tmpl.h"

struct row {
    const char *tmpl;
    const char *model; /* JSON text */
    const char *want;
};

static struct tmpl_set *set;
static char err[256];

static int setup(void **state)
{
    (void)state;
    set = tmpl_set_new();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tmpl_set_free(set);
    return 0;
}

static void add(const char *name, const char *text)
{
    if (tmpl_set_add(set, name, text, strlen(text), err, sizeof(err)) < 0)
        fail_msg("%s: %s", name, err);
}

static json_t *parse(const char *json)
{
    json_error_t je;
    json_t *m = json_loads(json, JSON_DECODE_ANY, &je);
    if (!m)
        fail_msg("bad model %s: %s", json, je.text);
    return m;
}

/* Compiles tmpl as "t.html", renders it with model, returns 0 and the output in b. */
static int render(const char *tmpl, const char *model, struct buf *b)
{
    add("t.html", tmpl);
    json_t *m = parse(model);
    int rc = tmpl_render(set, "t.html", m, b, err, sizeof(err));
    json_decref(m);
    return rc;
}

static void run_rows(const struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct buf b = BUF_INIT;
        int rc = render(rows[i].tmpl, rows[i].model, &b);
        int same = rc == 0 && strcmp(buf_str(&b), rows[i].want) == 0;
        if (!same)
            print_error("row %zu %s\n  want [%s]\n  got  [%s] %s\n", i, rows[i].tmpl, rows[i].want,
                        buf_str(&b), rc < 0 ? err : "");
        buf_release(&b);
        if (!same)
            fail();
    }
}

#define RUN(rows) run_rows(rows, sizeof(rows) / sizeof(rows[0]))

static void test_escaping_and_raw(void **state)
{
    (void)state;
    static const struct row rows[] = {
        {"{{s}}", "{\"s\": \"<b>&\\\"'\"}", "&lt;b&gt;&amp;&quot;&#39;"},
        {"<a title=\"{{s}}\">", "{\"s\": \"\\\" onmouseover=\\\"alert(1)\"}",
         "<a title=\"&quot; onmouseover=&quot;alert(1)\">"},
        {"<a title='{{s}}'>", "{\"s\": \"' onclick='x()\"}", "<a title='&#39; onclick=&#39;x()'>"},
        {"<p>{{s}}</p>", "{\"s\": \"</p><script>x()</script>\"}",
         "<p>&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</p>"},
        {"{{s}}", "{\"s\": \"&amp;\"}", "&amp;amp;"},
        {"{{{s}}}", "{\"s\": \"<b>&\\\"'\"}", "<b>&\"'"},
        {"{{&s}}", "{\"s\": \"<i>\"}", "<i>"},
        {"{{& s }}|{{{ s }}}|{{ s }}", "{\"s\": \"<i>\"}", "<i>|<i>|&lt;i&gt;"},
        {"a{{s}}b", "{\"s\": \"\"}", "ab"},
        {"plain text, no tags", "{}", "plain text, no tags"},
        {"", "{}", ""},
        {"x } } { y {", "{}", "x } } { y {"},
    };
    RUN(rows);
}

static void test_values(void **state)
{
    (void)state;
    static const struct row rows[] = {
        {"{{i}} {{n}} {{z}}", "{\"i\": 42, \"n\": -7, \"z\": 0}", "42 -7 0"},
        {"{{big}}", "{\"big\": 9007199254740993}", "9007199254740993"},
        {"{{r}} {{t}} {{w}} {{h}}", "{\"r\": 3.5, \"t\": 0.1, \"w\": 2.0, \"h\": 1e300}",
         "3.5 0.1 2 1e+300"},
        {"{{p}}", "{\"p\": 3.141592653589793}", "3.14159265358979"},
        {"[{{t}}][{{f}}][{{n}}][{{missing}}]", "{\"t\": true, \"f\": false, \"n\": null}",
         "[true][][][]"},
        {"[{{o}}][{{a}}]", "{\"o\": {\"x\": 1}, \"a\": [1, 2]}", "[][]"},
        {"héllo {{s}} ✓", "{\"s\": \"日本語 & ü\"}", "héllo 日本語 &amp; ü ✓"},
        {"{{s}}", "{\"s\": \"\\u00e9\\ud83d\\ude00\"}", "é\xf0\x9f\x98\x80"},
        {"{{.}}", "\"top\"", "top"},
        {"{{.}}", "{\"x\": 1}", ""},
    };
    RUN(rows);
}

static void test_sections(void **state)
{
    (void)state;
    static const struct row rows[] = {
        /* arrays: once per element, the element as context */
        {"{{#a}}[{{.}}]{{/a}}", "{\"a\": [1, \"two\", 3.5]}", "[1][two][3.5]"},
        {"<ul>{{#posts}}<li>{{title}}</li>{{/posts}}</ul>",
         "{\"posts\": [{\"title\": \"A\"}, {\"title\": \"<B>\"}]}",
         "<ul><li>A</li><li>&lt;B&gt;</li></ul>"},
        {"{{#a}}x{{/a}}", "{\"a\": []}", ""},
        {"{{#a}}{{#.}}({{.}}){{/.}}{{/a}}", "{\"a\": [[1, 2], [], [3]]}", "(1)(2)(3)"},
        /* objects: once, pushed */
        {"{{#o}}{{x}}-{{y}}{{/o}}", "{\"o\": {\"x\": 1, \"y\": \"z\"}}", "1-z"},
        {"{{#o}}in{{/o}}", "{\"o\": {}}", "in"},
        /* scalars: once, pushed: names resolve as outside, {{.}} is the value */
        {"{{#t}}yes {{s}}{{/t}}", "{\"t\": true, \"s\": \"S\"}", "yes S"},
        {"{{#s}}{{s}}!{{/s}}", "{\"s\": \"x\"}", "x!"},
        {"{{#s}}<h1>{{.}}</h1>{{/s}}", "{\"s\": \"a&b\"}", "<h1>a&amp;b</h1>"},
        {"{{#n}}{{.}}/{{x}}{{/n}}", "{\"n\": 3, \"x\": \"X\"}", "3/X"},
        {"{{#n}}{{n}}{{/n}}", "{\"n\": -0.5}", "-0.5"},
        {"[{{#f}}x{{/f}}{{#z}}x{{/z}}{{#m}}x{{/m}}{{#e}}x{{/e}}{{#i}}x{{/i}}{{#r}}x{{/r}}]",
         "{\"f\": false, \"z\": null, \"e\": \"\", \"i\": 0, \"r\": 0.0}", "[]"},
        /* inverted: exactly when the section would not render */
        {"[{{^f}}1{{/f}}{{^z}}2{{/z}}{{^m}}3{{/m}}{{^e}}4{{/e}}{{^i}}5{{/i}}{{^a}}6{{/a}}]",
         "{\"f\": false, \"z\": null, \"e\": \"\", \"i\": 0, \"a\": []}", "[123456]"},
        {"[{{^t}}1{{/t}}{{^s}}2{{/s}}{{^o}}3{{/o}}{{^a}}4{{/a}}{{^n}}5{{/n}}]",
         "{\"t\": true, \"s\": \"x\", \"o\": {}, \"a\": [0], \"n\": 1}", "[]"},
        {"{{#a}}{{.}},{{/a}}{{^a}}none{{/a}}", "{\"a\": []}", "none"},
        {"{{^a}}{{x}}{{/a}}", "{\"x\": \"kept\"}", "kept"},
        /* nested sections see outer names; inner ones hide them */
        {"{{#posts}}{{title}} on {{site}}{{#tags}} #{{.}}{{/tags}};{{/posts}}",
         "{\"site\": \"S\", \"posts\": [{\"title\": \"a\", \"tags\": [\"x\", \"y\"]},"
         " {\"title\": \"b\"}]}",
         "a on S #x #y;b on S;"},
        {"{{#o}}{{name}}{{#p}}{{name}}{{/p}}{{/o}}{{name}}",
         "{\"name\": \"root\", \"o\": {\"name\": \"o\", \"p\": {}}}", "ooroot"},
        {"{{#a}}{{#b}}{{#c}}{{x}}{{/c}}{{/b}}{{/a}}",
         "{\"x\": 0, \"a\": {\"b\": [true, {\"c\": {\"x\": 3}}]}}", "3"},
        {"{{#a}}{{#b}}{{#c}}{{x}}{{/c}}{{/b}}{{/a}}",
         "{\"x\": 0, \"c\": 1, \"a\": {\"b\": [true, {\"c\": {\"x\": 3}}]}}", "03"},
        {"{{# o }}{{ x }}{{/ o }}", "{\"o\": {\"x\": 1}}", "1"},
    };
    RUN(rows);
}

static void test_dotted_names(void **state)
{
    (void)state;
    static const struct row rows[] = {
        {"{{a.b.c}}", "{\"a\": {\"b\": {\"c\": \"<deep>\"}}}", "&lt;deep&gt;"},
        {"{{{a.b.c}}}", "{\"a\": {\"b\": {\"c\": \"<deep>\"}}}", "<deep>"},
        {"{{#a.b}}{{c}}{{/a.b}}", "{\"a\": {\"b\": {\"c\": 5}}}", "5"},
        {"{{^a.b.x}}none{{/a.b.x}}", "{\"a\": {\"b\": {\"c\": 5}}}", "none"},
        /* the first segment through the context stack ... */
        {"{{#o}}{{site.name}}{{/o}}", "{\"site\": {\"name\": \"S\"}, \"o\": {}}", "S"},
        /* ... the rest only inside what it found */
        {"{{#a}}[{{b.c}}]{{/a}}", "{\"a\": {\"b\": {}}, \"b\": {\"c\": \"ERROR\"}}", "[]"},
        {"[{{a.b.c.name}}]", "{\"a\": {}, \"c\": {\"name\": \"Jim\"}}", "[]"},
        {"[{{s.length}}][{{a.0}}]", "{\"s\": \"str\", \"a\": [1]}", "[][]"},
    };
    RUN(rows);
}

static void test_comments_and_whitespace(void **state)
{
    (void)state;
    static const struct row rows[] = {
        {"a{{! a comment }}b", "{}", "ab"},
        {"a{{!\n multi\n line {{ not a tag\n}}b", "{}", "ab"},
        {"a\n  {{! standalone }}\nb", "{}", "a\nb"},
        {"a\n{{!c}}", "{}", "a\n"},
        /* standalone section lines disappear */
        {"<ul>\n  {{#a}}\n  <li>{{.}}</li>\n  {{/a}}\n</ul>\n", "{\"a\": [1, 2]}",
         "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>\n"},
        {"<ul>\n  {{^a}}\n  <li>none</li>\n  {{/a}}\n</ul>\n", "{\"a\": []}",
         "<ul>\n  <li>none</li>\n</ul>\n"},
        {"  {{#t}}\n#{{/t}}\n/", "{\"t\": true}", "#\n/"},
        {"#{{#t}}\n/\n  {{/t}}", "{\"t\": true}", "#\n/\n"},
        {"|\r\n{{#t}}\r\n{{/t}}\r\n|", "{\"t\": true}", "|\r\n|"},
        {"\t {{#t}} \t\nx\n {{/t}}\t\n", "{\"t\": true}", "x\n"},
        /* not standalone: something else on the line */
        {"  {{#t}}x{{/t}}\n", "{\"t\": true}", "  x\n"},
        {" {{#t}}{{/t}} \n", "{\"t\": true}", "  \n"},
        {"a {{#t}}\nb{{/t}}", "{\"t\": true}", "a \nb"},
        /* variables are never standalone */
        {"  {{s}}\n", "{\"s\": \"x\"}", "  x\n"},
        {"  {{s}}\n", "{}", "  \n"},
    };
    RUN(rows);
}

static void test_partials(void **state)
{
    (void)state;
    add("item.html", "<li>{{name}} ({{site}})</li>");
    add("row.html", "|\n{{{c}}}\n|\n");
    add("outer.html", "<\n  {{>row.html}}\n>\n");
    add("tree.html", "{{name}}{{#kids}}({{>tree.html}}){{/kids}}");
    add("empty.html", "");
    static const struct row rows[] = {
        {"<ul>{{#items}}{{>item.html}}{{/items}}</ul>",
         "{\"site\": \"S\", \"items\": [{\"name\": \"a\"}, {\"name\": \"<b>\"}]}",
         "<ul><li>a (S)</li><li>&lt;b&gt; (S)</li></ul>"},
        {"{{> item.html }}", "{\"name\": \"n\"}", "<li>n ()</li>"},
        {"[{{>empty.html}}]", "{}", "[]"},
        /* recursion that the data ends (a leaf without "kids" would find its parent's) */
        {"{{>tree.html}}",
         "{\"name\": \"a\", \"kids\": [{\"name\": \"b\", \"kids\": [{\"name\": \"c\","
         " \"kids\": []}]}, {\"name\": \"d\", \"kids\": []}]}",
         "a(b(c))(d)"},
        /* a standalone partial is indented line by line; values inside are not */
        {"\\\n {{>row.html}}\n/\n", "{\"c\": \"<\\n->\"}", "\\\n |\n <\n->\n |\n/\n"},
        {"  {{>outer.html}}\n", "{\"c\": \"C\"}", "  <\n    |\n    C\n    |\n  >\n"},
        /* inline partials are not indented */
        {"  {{>row.html}}x\n", "{\"c\": \"C\"}", "  |\nC\n|\nx\n"},
    };
    RUN(rows);
    assert_true(tmpl_set_has(set, "item.html"));
    assert_false(tmpl_set_has(set, "nope.html"));
}

static void test_render_errors(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    json_t *m = json_object();
    assert_int_equal(tmpl_render(set, "none.html", m, &b, err, sizeof(err)), -1);
    assert_string_equal(err, "unknown template 'none.html'");

    assert_int_equal(render("a\n{{>nope.html}}", "{}", &b), -1);
    assert_string_equal(err, "t.html line 2: missing partial 'nope.html'");

    /* a partial that includes itself stops with an error, not a crash */
    add("loop.html", "x{{>loop.html}}");
    buf_reset(&b);
    assert_int_equal(tmpl_render(set, "loop.html", m, &b, err, sizeof(err)), -1);
    assert_string_equal(err, "loop.html line 1: partials nested deeper than 16 ('loop.html')");
    add("a.html", "{{>b.html}}");
    add("b.html", "\n{{#t}}{{>a.html}}{{/t}}");
    buf_reset(&b);
    assert_int_equal(render("{{>a.html}}", "{\"t\": true}", &b), -1);
    assert_non_null(strstr(err, "partials nested deeper than 16"));

    /* a render without an err buffer still fails cleanly */
    assert_int_equal(tmpl_render(set, "loop.html", m, &b, NULL, 0), -1);
    json_decref(m);
    buf_release(&b);
}

static void test_output_limit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(render("{{#a}}0123456789{{/a}}", "{\"a\": [1, 2, 3, 4, 5, 6, 7, 8]}", &b), -1);
    assert_string_equal(err, "t.html: output larger than 64 bytes");
    assert_true(b.toobig);
    assert_true(b.len <= 64);
    buf_release(&b);

    /* escaping that grows past the limit, and a limit that is just enough */
    buf_init(&b, 64);
    assert_int_equal(render("{{s}}", "{\"s\": \"<<<<<<<<<<<<<<<<<<<<\"}", &b), -1);
    assert_true(b.toobig);
    buf_release(&b);
    buf_init(&b, 64);
    assert_int_equal(render("{{#a}}0123456789{{/a}}", "{\"a\": [1, 2, 3, 4, 5, 6]}", &b), 0);
    assert_int_equal(b.len, 60);
    buf_release(&b);
}

struct bad {
    const char *tmpl;
    const char *err;
};

static void test_compile_errors(void **state)
{
    (void)state;
    static const struct bad rows[] = {
        {"a\n{{#posts}}\nx\n", "t.html line 2: unclosed section 'posts'"},
        {"{{#a}}\n\n{{^b}}{{/b}}{{#c}}\n", "t.html line 3: unclosed section 'c'"},
        {"{{#a}}\n{{#b}}\n{{/a}}",
         "t.html line 3: mismatched close tag '{{/a}}' for open section 'b' (line 2)"},
        {"x\n\n{{/a}}", "t.html line 3: close tag '{{/a}}' without an open section"},
        {"a\nb {{name\n", "t.html line 2: unclosed tag '{{'"},
        {"{{{a}}", "t.html line 1: unclosed tag '{{'"},
        {"{{", "t.html line 1: unclosed tag '{{'"},
        {"x\n{{}}", "t.html line 2: empty tag name"},
        {"{{ }}", "t.html line 1: empty tag name"},
        {"{{#}}{{/}}", "t.html line 1: empty tag name"},
        {"{{>}}", "t.html line 1: empty tag name"},
        {"{{{}}}", "t.html line 1: empty tag name"},
        {"{{a b}}", "t.html line 1: bad tag name 'a b'"},
        {"{{a..b}}", "t.html line 1: bad tag name 'a..b'"},
        {"{{.a}}", "t.html line 1: bad tag name '.a'"},
        {"{{a.}}", "t.html line 1: bad tag name 'a.'"},
        {"{{a}b}}", "t.html line 1: bad tag name 'a}b'"},
        {"{{=<% %>=}}", "t.html line 1: set-delimiter tags are not supported"},
        {"{{!\n\n}}{{/x}}", "t.html line 3: close tag '{{/x}}' without an open section"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        err[0] = '\0';
        if (tmpl_set_add(set, "t.html", rows[i].tmpl, strlen(rows[i].tmpl), err, sizeof(err)) != -1)
            fail_msg("row %zu %s: compiled", i, rows[i].tmpl);
        if (strcmp(err, rows[i].err) != 0)
            fail_msg("row %zu %s\n  want [%s]\n  got  [%s]", i, rows[i].tmpl, rows[i].err, err);
    }
}

static void test_add_replaces_and_failure_keeps(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    add("r.html", "one");
    add("r.html", "two");
    assert_int_equal(tmpl_set_add(set, "r.html", "{{#x}}", 6, err, sizeof(err)), -1);
    assert_int_equal(tmpl_render(set, "r.html", NULL, &b, err, sizeof(err)), 0);
    assert_string_equal(buf_str(&b), "two");
    buf_release(&b);

    /* text is len bytes, not a C string */
    assert_int_equal(tmpl_set_add(set, "n.html", "ab{{x}}cd", 4, err, sizeof(err)), -1);
    assert_string_equal(err, "n.html line 1: unclosed tag '{{'");
    assert_int_equal(tmpl_set_add(set, "n.html", "ab{{x}}cd", 7, err, sizeof(err)), 0);
    json_t *m = parse("{\"x\": 1}");
    assert_int_equal(tmpl_render(set, "n.html", m, &b, err, sizeof(err)), 0);
    assert_string_equal(buf_str(&b), "ab1");
    json_decref(m);
    buf_release(&b);
    assert_int_equal(tmpl_set_add(set, "z.html", NULL, 0, err, sizeof(err)), 0);
    assert_int_equal(tmpl_render(set, "z.html", NULL, &b, err, sizeof(err)), 0);
    assert_string_equal(buf_str(&b), "");
    buf_release(&b);
}

/* "{{#o}}" n times, then middle, then "{{/o}}" n times. */
static char *nested(int n, const char *middle)
{
    struct buf b = BUF_INIT;
    for (int i = 0; i < n; i++)
        buf_adds(&b, "{{#o}}");
    buf_adds(&b, middle);
    for (int i = 0; i < n; i++)
        buf_adds(&b, "{{/o}}");
    return buf_detach(&b, NULL);
}

static void test_nesting_limits(void **state)
{
    (void)state;
    char *ok = nested(TMPL_MAX_NEST, "{{x}}");
    char *deep = nested(TMPL_MAX_NEST + 1, "{{x}}");
    assert_int_equal(tmpl_set_add(set, "d.html", ok, strlen(ok), err, sizeof(err)), 0);
    assert_int_equal(tmpl_set_add(set, "d.html", deep, strlen(deep), err, sizeof(err)), -1);
    assert_string_equal(err, "d.html line 1: sections nested deeper than 64");
    free(ok);
    free(deep);

    /* the worst case: every partial level nests as deep as allowed, pushing a context
       each time (an outer "o" is found again and again), until partials run out */
    char *worst = nested(TMPL_MAX_NEST, "{{x}}{{>w.html}}");
    assert_int_equal(tmpl_set_add(set, "w.html", worst, strlen(worst), err, sizeof(err)), 0);
    free(worst);
    struct buf b = BUF_INIT;
    json_t *m = parse("{\"o\": {\"x\": 1}}");
    assert_int_equal(tmpl_render(set, "w.html", m, &b, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "partials nested deeper than 16"));
    assert_int_equal(b.len, TMPL_MAX_PARTIALS + 1);
    json_decref(m);
    buf_release(&b);
}

static void test_step_limit(void **state)
{
    (void)state;
    /* 10^8 empty iterations would print nothing but spin for minutes */
    char *spin = nested(8, "");
    for (char *p = spin; (p = strstr(p, "{{#o}}")) != NULL; p++)
        p[3] = 'a';
    for (char *p = spin; (p = strstr(p, "{{/o}}")) != NULL; p++)
        p[3] = 'a';
    struct buf b = BUF_INIT;
    assert_int_equal(render(spin, "{\"a\": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}", &b), -1);
    assert_non_null(strstr(err, "t.html: rendering takes more than"));
    free(spin);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping_and_raw),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_dotted_names),
        cmocka_unit_test(test_comments_and_whitespace),
        cmocka_unit_test(test_partials),
        cmocka_unit_test(test_render_errors),
        cmocka_unit_test(test_output_limit),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_add_replaces_and_failure_keeps),
        cmocka_unit_test(test_nesting_limits),
        cmocka_unit_test(test_step_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
