/* test_markdown.c - Markdown to safe HTML: the CommonMark + GitHub set rendered, raw HTML
   escaped unless allowed, every hostile URL form neutralised in links, images, reference
   links and autolinks, attribute values that cannot be broken out of; plain-text excerpts
   cut at word boundaries without splitting UTF-8. Cases are data: markdown in, HTML out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "site/markdown.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct render_case {
    const char *md;
    int allow_html;
    const char *html;
};

static void check_render(const struct render_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct buf b = BUF_INIT;
        int rc = markdown_render(c[i].md, strlen(c[i].md), c[i].allow_html, &b);
        if (rc != 0 || strcmp(buf_str(&b), c[i].html) != 0)
            print_error("case %zu: markdown %s\n  want %s\n  got  %s\n", i, c[i].md, c[i].html,
                        buf_str(&b));
        assert_int_equal(rc, 0);
        assert_string_equal(buf_str(&b), c[i].html);
        buf_release(&b);
    }
}

static void test_blocks_and_spans(void **state)
{
    (void)state;
    static const struct render_case cases[] = {
        {"# Title", 0, "<h1>Title</h1>\n"},
        {"### Three *em* **strong**", 0, "<h3>Three <em>em</em> <strong>strong</strong></h3>\n"},
        {"Setext\n===", 0, "<h1>Setext</h1>\n"},
        {"a _b_ ~~c~~ `d`", 0, "<p>a <em>b</em> <del>c</del> <code>d</code></p>\n"},
        {"one\ntwo", 0, "<p>one\ntwo</p>\n"},
        {"hard  \nbreak", 0, "<p>hard<br>\nbreak</p>\n"},
        {"- a\n- b", 0, "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"},
        {"- a\n\n- b", 0, "<ul>\n<li><p>a</p>\n</li>\n<li><p>b</p>\n</li>\n</ul>\n"},
        {"1. x\n2. y", 0, "<ol>\n<li>x</li>\n<li>y</li>\n</ol>\n"},
        {"3. x", 0, "<ol start=\"3\">\n<li>x</li>\n</ol>\n"},
        {"- [x] done\n- [ ] todo", 0,
         "<ul>\n<li class=\"task-list-item\"><input type=\"checkbox\" disabled checked>done</li>\n"
         "<li class=\"task-list-item\"><input type=\"checkbox\" disabled>todo</li>\n</ul>\n"},
        {"> quoted", 0, "<blockquote>\n<p>quoted</p>\n</blockquote>\n"},
        {"---", 0, "<hr>\n"},
        {"a &copy; &#x41; &bogus; b", 0, "<p>a &copy; &#x41; &bogus; b</p>\n"},
        {"", 0, ""},
    };
    check_render(cases, N(cases));
}

static void test_code_is_escaped(void **state)
{
    (void)state;
    static const struct render_case cases[] = {
        {"```\n<script>alert(1)</script> & \"q\"\n```", 0,
         "<pre><code>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;\n</code></pre>\n"},
        {"```c\nint a = b < c;\n```", 0,
         "<pre><code class=\"language-c\">int a = b &lt; c;\n</code></pre>\n"},
        {"```x\"onclick=\"y\n1\n```", 0,
         "<pre><code class=\"language-x&quot;onclick=&quot;y\">1\n</code></pre>\n"},
        {"    <b>indented</b>", 0, "<pre><code>&lt;b&gt;indented&lt;/b&gt;\n</code></pre>\n"},
        {"`<i>`", 0, "<p><code>&lt;i&gt;</code></p>\n"},
    };
    check_render(cases, N(cases));
}

static void test_tables(void **state)
{
    (void)state;
    static const struct render_case cases[] = {
        {"| a | b | c |\n|:---|:---:|---:|\n| 1 | *2* | <3> |", 0,
         "<table>\n<thead>\n<tr>\n<th align=\"left\">a</th>\n<th align=\"center\">b</th>\n"
         "<th align=\"right\">c</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td align=\"left\">1</td>\n"
         "<td align=\"center\"><em>2</em></td>\n<td align=\"right\">&lt;3&gt;</td>\n</tr>\n"
         "</tbody>\n</table>\n"},
    };
    check_render(cases, N(cases));
}

static void test_autolinks(void **state)
{
    (void)state;
    static const struct render_case cases[] = {
        {"<https://example.com/a>", 0,
         "<p><a href=\"https://example.com/a\">https://example.com/a</a></p>\n"},
        {"see https://example.com/x?a=1&b=2.", 0,
         "<p>see <a href=\"https://example.com/x?a=1&amp;b=2\">https://example.com/x?a=1&amp;b=2"
         "</a>.</p>\n"},
        {"www.example.com", 0, "<p><a href=\"http://www.example.com\">www.example.com</a></p>\n"},
        {"ada@example.com", 0, "<p><a href=\"mailto:ada@example.com\">ada@example.com</a></p>\n"},
        {"<mailto:ada@example.com>", 0,
         "<p><a href=\"mailto:ada@example.com\">mailto:ada@example.com</a></p>\n"},
    };
    check_render(cases, N(cases));
}

static void test_raw_html_is_escaped_unless_allowed(void **state)
{
    (void)state;
    static const struct render_case cases[] = {
        {"<script>alert(1)</script>", 0, "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"},
        {"x <img src=x onerror=alert(1)> y", 0, "<p>x &lt;img src=x onerror=alert(1)&gt; y</p>\n"},
        {"<div onclick=\"x\">\nhi\n</div>", 0,
         "<p>&lt;div onclick=&quot;x&quot;&gt;\nhi\n&lt;/div&gt;</p>\n"},
        {"a <!-- c --> b", 0, "<p>a &lt;!-- c --&gt; b</p>\n"},
        {"**<b>x</b>**", 0, "<p><strong>&lt;b&gt;x&lt;/b&gt;</strong></p>\n"},
        /* allowed: raw HTML passes through the allow-list (html_filter.c) */
        {"a <b>x</b> c", 1, "<p>a <b>x</b> c</p>\n"},
        {"<div class=\"x\">\nhi\n</div>", 1, "<div class=\"x\">\nhi\n</div>\n"},
        /* ... but Markdown URLs are still filtered, and alt text is still an attribute */
        {"[x](javascript:alert(1))", 1, "<p><a href=\"#\">x</a></p>\n"},
        {"![a <b>\"q\"</b>](/i.png)", 1,
         "<p><img src=\"/i.png\" alt=\"a &lt;b&gt;&quot;q&quot;&lt;/b&gt;\"></p>\n"},
    };
    check_render(cases, N(cases));
}

/* URL forms that must be neutralised, as written in a Markdown link destination. */
static const char *const hostile[] = {
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "JAVASCRIPT:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:image/svg+xml,x",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://example.com/x",
    "javascript&#58;alert(1)",
    "javascript&#x3A;alert(1)",
    "javascript&#x3a;alert(1)",
    "javascript&#0000058;alert(1)",
    "javascript&colon;alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;&#x61;vascript:alert(1)",
    "java&Tab;script:alert(1)",
    "java&#9;script:alert(1)",
    "java&NewLine;script:alert(1)",
    "javascript%3Aalert(1)",
    "javascript%3aalert(1)",
    "%6Aavascript:alert(1)",
    "javascript%253Aalert(1)",
    "<java\tscript:alert(1)>",
    "< javascript:alert(1)>",
    "<\x01javascript:alert(1)>",
    "<\x7fjavascript:alert(1)>",
    "<javascript :alert(1)>",
    "javascript\\:alert(1)",
    "jav&#x09;ascript:alert(1)",
};

static void check_neutralised_as(const char *md, int allow_html, const char *want)
{
    struct buf b = BUF_INIT;
    assert_int_equal(markdown_render(md, strlen(md), allow_html, &b), 0);
    if (strcmp(buf_str(&b), want) != 0)
        print_error("markdown %s\n  want %s\n  got  %s\n", md, want, buf_str(&b));
    assert_string_equal(buf_str(&b), want);
    buf_release(&b);
}

static void check_neutralised(const char *md, const char *want)
{
    check_neutralised_as(md, 0, want);
}

static void test_hostile_urls_in_links_and_images(void **state)
{
    (void)state;
    char md[256];
    for (size_t i = 0; i < N(hostile); i++) {
        snprintf(md, sizeof(md), "[text](%s)", hostile[i]);
        check_neutralised(md, "<p><a href=\"#\">text</a></p>\n");
        snprintf(md, sizeof(md), "[text](%s \"title\")", hostile[i]);
        check_neutralised(md, "<p><a href=\"#\" title=\"title\">text</a></p>\n");
        snprintf(md, sizeof(md), "![alt](%s)", hostile[i]);
        check_neutralised(md, "<p><img src=\"#\" alt=\"alt\"></p>\n");
        snprintf(md, sizeof(md), "[text][r]\n\n[r]: %s", hostile[i]);
        check_neutralised(md, "<p><a href=\"#\">text</a></p>\n");
        snprintf(md, sizeof(md), "![alt][r]\n\n[r]: %s", hostile[i]);
        check_neutralised(md, "<p><img src=\"#\" alt=\"alt\"></p>\n");
        snprintf(md, sizeof(md), "[text]\n\n[text]: %s 'title'", hostile[i]);
        check_neutralised(md, "<p><a href=\"#\" title=\"title\">text</a></p>\n");
    }
}

/* ONEFILE_MARKDOWN_HTML=1: the same URLs in raw HTML attributes, quoted either way, inline
   and in an HTML block (the README's promise: link and image URLs are still filtered). */
static void test_hostile_urls_in_raw_html(void **state)
{
    (void)state;
    char md[256];
    for (size_t i = 0; i < N(hostile); i++) {
        const char *u = hostile[i];
        if (u[0] == '<')
            continue; /* Markdown's <autolink> forms */
        snprintf(md, sizeof(md), "x <a href=\"%s\">t</a>", u);
        check_neutralised_as(md, 1, "<p>x <a href=\"#\">t</a></p>\n");
        snprintf(md, sizeof(md), "x <img alt='a' src='%s'>", u);
        check_neutralised_as(md, 1, "<p>x <img alt=\"a\" src=\"#\"></p>\n");
        snprintf(md, sizeof(md), "<div>\n<a title=t\nhref=\"%s\">t</a>\n</div>", u);
        check_neutralised_as(md, 1, "<div>\n<a title=\"t\" href=\"#\">t</a>\n</div>\n");
        snprintf(md, sizeof(md), "<blockquote cite=\"%s\">\nq\n</blockquote>", u);
        check_neutralised_as(md, 1, "<blockquote cite=\"#\">\nq\n</blockquote>\n");
    }
}

/* ONEFILE_MARKDOWN_HTML=1: what the adversarial test found passing verbatim (script, iframe,
   event handlers), and the rest of the allow-list's edges. */
static void test_raw_html_allow_list(void **state)
{
    (void)state;
    static const struct render_case cases[] = {
        {"<script>alert(1)</script>", 1, "&lt;script&gt;alert(1)\n"},
        {"a <script>alert(1)</script> b", 1, "<p>a &lt;script&gt;alert(1) b</p>\n"},
        {"<iframe src=\"https://e.example/\"></iframe>", 1,
         "&lt;iframe src=&quot;https://e.example/&quot;&gt;\n"},
        {"x <img src=x onerror=alert(1)> y", 1, "<p>x <img src=\"x\"> y</p>\n"},
        {"x <IMG SRC=\"/i.png\" OnError=\"alert(1)\" width=3> y", 1,
         "<p>x <img src=\"/i.png\" width=\"3\"> y</p>\n"},
        {"<div onclick=\"x\" style=\"position:fixed\" class=\"c\">\nhi\n</div>", 1,
         "<div class=\"c\">\nhi\n</div>\n"},
        {"x <a href=\"/p\" target=_blank id=q name=n>t</a>", 1, "<p>x <a href=\"/p\">t</a></p>\n"},
        {"x <svg onload=alert(1)> <math> <object data=x> <embed src=x>", 1,
         "<p>x &lt;svg onload=alert(1)&gt; &lt;math&gt; &lt;object data=x&gt; &lt;embed "
         "src=x&gt;</p>\n"},
        {"<form action=\"/admin\"><input name=a></form>", 1,
         "&lt;form action=&quot;/admin&quot;&gt;&lt;input name=a&gt;\n"},
        {"<style>*{display:none}</style>", 1, "&lt;style&gt;*{display:none}\n"},
        /* attribute values decoded once, then escaped: no quote can end the attribute */
        {"x <a href=\"/p\" title=\"a&quot; onclick=&quot;x\">t</a>", 1,
         "<p>x <a href=\"/p\" title=\"a&quot; onclick=&quot;x\">t</a></p>\n"},
        {"x <a title='a\"b'>t</a>", 1, "<p>x <a title=\"a&quot;b\">t</a></p>\n"},
        {"x <a href=\"/a?b=1&amp;c=2\">t</a>", 1, "<p>x <a href=\"/a?b=1&amp;c=2\">t</a></p>\n"},
        /* comments dropped; declarations and processing instructions shown as text */
        {"a <!-- hidden --> b", 1, "<p>a  b</p>\n"},
        {"a <?php x ?> b", 1, "<p>a &lt;?php x ?&gt; b</p>\n"},
        /* end tags only for what the post opened: the theme's elements stay closed */
        {"a </main></body> <b>c", 1, "<p>a  <b>c</b></p>\n"},
        {"<div>\n\n*md* </div> <b>x\n\n</div>", 1, "<div>\n<p><em>md</em>  <b>x</b></p>\n</div>\n"},
        {"<div>\n<i>open", 1, "<div>\n<i>open\n</i></div>"},
        /* a tag spanning lines inline is still one tag */
        {"a <a\nhref=\"javascript:x\">b</a> c", 1, "<p>a <a href=\"#\">b</a> c</p>\n"},
    };
    check_render(cases, N(cases));
}

static void test_hostile_urls_in_autolinks(void **state)
{
    (void)state;
    static const struct render_case cases[] = {
        {"<javascript:alert(1)>", 0, "<p><a href=\"#\">javascript:alert(1)</a></p>\n"},
        {"<JaVaScRiPt:alert(1)>", 0, "<p><a href=\"#\">JaVaScRiPt:alert(1)</a></p>\n"},
        {"<data:text/html,x>", 0, "<p><a href=\"#\">data:text/html,x</a></p>\n"},
        {"<vbscript:x>", 0, "<p><a href=\"#\">vbscript:x</a></p>\n"},
        {"<file:///etc/passwd>", 0, "<p><a href=\"#\">file:///etc/passwd</a></p>\n"},
        {"<javascript:alert(%22x%22)>", 0, "<p><a href=\"#\">javascript:alert(%22x%22)</a></p>\n"},
        {"ftp://example.com/x", 0, "<p><a href=\"#\">ftp://example.com/x</a></p>\n"},
    };
    check_render(cases, N(cases));
}

static void test_allowed_urls_are_kept(void **state)
{
    (void)state;
    static const struct render_case cases[] = {
        {"[a](http://example.com/)", 0, "<p><a href=\"http://example.com/\">a</a></p>\n"},
        {"[a](https://example.com/p?q=1&r=2#f)", 0,
         "<p><a href=\"https://example.com/p?q=1&amp;r=2#f\">a</a></p>\n"},
        {"[a](HTTPS://EXAMPLE.COM)", 0, "<p><a href=\"HTTPS://EXAMPLE.COM\">a</a></p>\n"},
        {"[a](mailto:ada@example.com)", 0, "<p><a href=\"mailto:ada@example.com\">a</a></p>\n"},
        {"[a](/posts/x)", 0, "<p><a href=\"/posts/x\">a</a></p>\n"},
        {"[a](x)", 0, "<p><a href=\"x\">a</a></p>\n"},
        {"[a](#x)", 0, "<p><a href=\"#x\">a</a></p>\n"},
        {"[a](?x=1)", 0, "<p><a href=\"?x=1\">a</a></p>\n"},
        {"[a](//host/x)", 0, "<p><a href=\"//host/x\">a</a></p>\n"},
        {"[a](/a:b)", 0, "<p><a href=\"/a:b\">a</a></p>\n"},
        {"[a]()", 0, "<p><a href=\"\">a</a></p>\n"},
        {"[a](/café \"t\")", 0, "<p><a href=\"/caf%C3%A9\" title=\"t\">a</a></p>\n"},
        {"[a](/x?a=1&amp;b=2)", 0, "<p><a href=\"/x?a=1&amp;b=2\">a</a></p>\n"},
        {"[a](https&#58;//example.com/)", 0, "<p><a href=\"https://example.com/\">a</a></p>\n"},
        {"![a](/i.png \"t\")", 0, "<p><img src=\"/i.png\" alt=\"a\" title=\"t\"></p>\n"},
        {"[a][r]\n\n[r]: https://example.com/r", 0,
         "<p><a href=\"https://example.com/r\">a</a></p>\n"},
        {"[![i](/i.png)](/p)", 0, "<p><a href=\"/p\"><img src=\"/i.png\" alt=\"i\"></a></p>\n"},
    };
    check_render(cases, N(cases));
}

static void test_quotes_cannot_break_out_of_attributes(void **state)
{
    (void)state;
    static const struct render_case cases[] = {
        {"[a](<http://x/\" onmouseover=\"alert(1)>)", 0,
         "<p><a href=\"http://x/%22%20onmouseover=%22alert(1)\">a</a></p>\n"},
        {"[a](/x\"onclick=\"y)", 0, "<p><a href=\"/x%22onclick=%22y\">a</a></p>\n"},
        {"[a](/x&quot;onclick=&quot;y)", 0, "<p><a href=\"/x%22onclick=%22y\">a</a></p>\n"},
        {"[a](/x'y<z>)", 0, "<p><a href=\"/x%27y%3Cz%3E\">a</a></p>\n"},
        {"[a](/x \"t\\\" onclick=\\\"y\")", 0,
         "<p><a href=\"/x\" title=\"t&quot; onclick=&quot;y\">a</a></p>\n"},
        {"[a](/x 't\" <b>')", 0, "<p><a href=\"/x\" title=\"t&quot; &lt;b&gt;\">a</a></p>\n"},
        {"[a](/x \"t&quot;q\")", 0, "<p><a href=\"/x\" title=\"t&quot;q\">a</a></p>\n"},
        {"![a\" onerror=\"x](/i.png \"t\\\"\")", 0,
         "<p><img src=\"/i.png\" alt=\"a&quot; onerror=&quot;x\" title=\"t&quot;\"></p>\n"},
        {"![**a** `<c>`](/i.png)", 0, "<p><img src=\"/i.png\" alt=\"a &lt;c&gt;\"></p>\n"},
    };
    check_render(cases, N(cases));
}

static void test_nul_bytes_and_limits(void **state)
{
    (void)state;
    struct buf b;
    static const char md[] = "a\0b";
    char big[4096];

    buf_init(&b, 0);
    assert_int_equal(markdown_render(md, sizeof(md) - 1, 0, &b), 0);
    assert_string_equal(buf_str(&b), "<p>a�b</p>\n");
    buf_release(&b);

    /* out hits its limit: -1, out as it was, toobig set */
    memset(big, 'x', sizeof(big));
    buf_init(&b, 1024);
    buf_adds(&b, "kept");
    assert_int_equal(markdown_render(big, sizeof(big), 0, &b), -1);
    assert_string_equal(buf_str(&b), "kept");
    assert_true(b.toobig);
    buf_release(&b);

    /* appends to what is there */
    buf_init(&b, 0);
    buf_adds(&b, "<x>");
    assert_int_equal(markdown_render("*a*", 3, 0, &b), 0);
    assert_string_equal(buf_str(&b), "<x><p><em>a</em></p>\n");
    buf_release(&b);

    /* len is honoured: no NUL needed */
    buf_init(&b, 0);
    assert_int_equal(markdown_render("# Title and more", 7, 0, &b), 0);
    assert_string_equal(buf_str(&b), "<h1>Title</h1>\n");
    buf_release(&b);
}

/* md4c 0.4.8 reads past the end of these (found by fuzzing): rendered from exact-size heap
   copies, they must give the same output as from padded memory, not text from the heap. */
static void test_input_ending_mid_construct(void **state)
{
    (void)state;
    static const struct render_case cases[] = {
        {"[](", 0, "<p>[](</p>\n"},
        {"[\n](www.", 0, "<p>[\n](www.</p>\n"},
        {"a [x](y \"t", 0, "<p>a [x](y &quot;t</p>\n"},
        {"[x]: <", 0, "<p>[x]: &lt;</p>\n"},
        {"![](", 0, "<p>![](</p>\n"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        size_t len = strlen(cases[i].md);
        char *md = malloc(len);
        struct buf b = BUF_INIT;
        memcpy(md, cases[i].md, len);
        assert_int_equal(markdown_render(md, len, 0, &b), 0);
        assert_string_equal(buf_str(&b), cases[i].html);
        buf_reset(&b);
        markdown_excerpt(md, len, 100, &b);
        assert_true(b.len <= len);
        buf_release(&b);
        free(md);
    }
}

struct url_case {
    const char *url;
    size_t len; /* 0: strlen */
    int allowed;
};

static void test_url_filter(void **state)
{
    (void)state;
    static const struct url_case cases[] = {
        {"", 0, 1},
        {"/x", 0, 1},
        {"x", 0, 1},
        {"x/y:z", 0, 1},
        {"#x", 0, 1},
        {"#x:y", 0, 1},
        {"?x", 0, 1},
        {"?a=b:c", 0, 1},
        {"//host/x", 0, 1},
        {"http://example.com", 0, 1},
        {"https://example.com", 0, 1},
        {"HtTpS://example.com", 0, 1},
        {"mailto:ada@example.com", 0, 1},
        {"MAILTO:ada@example.com", 0, 1},
        {"  https://example.com", 0, 1},
        {"https://a/?x=javascript:alert(1)", 0, 1},
        {"https://a/&#x6A;avascript:", 0, 1},
        {"javascript:alert(1)", 0, 0},
        {"JaVaScRiPt:alert(1)", 0, 0},
        {"data:text/html,x", 0, 0},
        {"vbscript:x", 0, 0},
        {"file:///etc/passwd", 0, 0},
        {"ftp://x", 0, 0},
        {"httpx://x", 0, 0},
        {"http", 0, 1},
        {":x", 0, 0},
        {" javascript:alert(1)", 0, 0},
        {"\t\n\r\f javascript:alert(1)", 0, 0},
        {"\x01\x02javascript:alert(1)", 0, 0},
        {"\x7fjavascript:alert(1)", 0, 0},
        {"java\tscript:alert(1)", 0, 0},
        {"java\nscript:alert(1)", 0, 0},
        {"java\rscript:alert(1)", 0, 0},
        {"java script:alert(1)", 0, 0},
        {"javascript\x00:alert(1)", 21, 0},
        {"\x00javascript:alert(1)", 20, 0},
        {"javascript&#58;alert(1)", 0, 0},
        {"javascript&#58alert(1)", 0, 0},
        {"javascript&#x3a;alert(1)", 0, 0},
        {"javascript&#X3A;alert(1)", 0, 0},
        {"javascript&#x003A;alert(1)", 0, 0},
        {"javascript&#0000058;alert(1)", 0, 0},
        {"javascript&colon;alert(1)", 0, 0},
        {"javascript&unknownentity;alert(1)", 0, 0},
        {"java&Tab;script:alert(1)", 0, 0},
        {"java&NewLine;script:alert(1)", 0, 0},
        {"&#106;avascript:alert(1)", 0, 0},
        {"&#x6a&#x61&#x76&#x61script:alert(1)", 0, 0},
        {"&#x20;javascript:alert(1)", 0, 0},
        {"javascript%3Aalert(1)", 0, 0},
        {"javascript%3aalert(1)", 0, 0},
        {"%6Aavascript:alert(1)", 0, 0},
        {"javascript%253Aalert(1)", 0, 0},
        {"javascript&#37;3Aalert(1)", 0, 0},
        {"%20javascript:alert(1)", 0, 0},
        {"java%09script:alert(1)", 0, 0},
        {" javascript:alert(1)", 0, 0}, /* no-break space */
        {"ｊavascript:alert(1)", 0, 0}, /* fullwidth j */
        {"javascript:alert(1)", 10, 1}, /* len honoured: "javascript" is a relative path */
        {"javascript:alert(1)", 11, 0},
    };
    for (size_t i = 0; i < N(cases); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].url);
        if (markdown_url_allowed(cases[i].url, len) != cases[i].allowed)
            print_error("case %zu: %s\n", i, cases[i].url);
        assert_int_equal(markdown_url_allowed(cases[i].url, len), cases[i].allowed);
    }
}

/* Code points in s, which must be valid UTF-8. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

struct excerpt_case {
    const char *md;
    size_t max;
    const char *want;
};

static void test_excerpt(void **state)
{
    (void)state;
    static const struct excerpt_case cases[] = {
        /* markup removed */
        {"# Title\n\nSome **bold** and _em_ and [a link](http://x.example \"t\") and `code`.\n\n"
         "```\nskip me\n```\n\n    indented skipped\n\n![image alt](/i.png) end",
         200, "Title Some bold and em and a link and code. end"},
        {"- one\n- two\n\n> three\n\n| a | b |\n|---|---|\n| 1 | 2 |", 200,
         "one two three a b 1 2"},
        {"a <b>bold</b> <script>x</script> c", 200, "a bold x c"},
        {"<div>\nraw block\n</div>\n\nafter", 200, "after"},
        {"Tom &amp; Jerry &copy; &#x41;&#66; &nosuch;", 200, "Tom & Jerry © AB &nosuch;"},
        {"  spaced \n\n\n  out  \t here  ", 200, "spaced out here"},
        {"", 10, ""},
        {"text", 0, ""},
        /* fits exactly: no ellipsis */
        {"one two", 7, "one two"},
        {"one two", 8, "one two"},
        /* cut at a word boundary, ellipsis counted */
        {"one two three four", 10, "one two…"},
        {"one two three four", 8, "one two…"},
        {"one two three four", 9, "one two…"},
        {"one two three four", 7, "one…"},
        {"Hello, world again", 10, "Hello…"},
        {"**one** two three", 6, "one…"},
        /* one long word: cut inside it */
        {"abcdefghijkl", 5, "abcd…"},
        {"abcdefghijkl", 1, "…"},
        /* multibyte: counted as characters, never split */
        {"héllo wörld ñandú", 9, "héllo…"},
        {"héllo wörld", 11, "héllo wörld"},
        {"éééééé", 4, "ééé…"},
        {"日本語の文", 3, "日本…"},
        {"😀😀😀😀", 3, "😀😀…"},
        /* invalid UTF-8 in, valid UTF-8 out */
        {"a\xff!b \xc3", 200, "a�!b �"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct buf b = BUF_INIT;
        markdown_excerpt(cases[i].md, strlen(cases[i].md), cases[i].max, &b);
        if (strcmp(buf_str(&b), cases[i].want) != 0)
            print_error("case %zu: want [%s] got [%s]\n", i, cases[i].want, buf_str(&b));
        assert_string_equal(buf_str(&b), cases[i].want);
        assert_true(utf8_chars(buf_str(&b)) <= cases[i].max);
        buf_release(&b);
    }
}

static void test_excerpt_of_a_long_document(void **state)
{
    (void)state;
    struct buf md = BUF_INIT, b = BUF_INIT;
    for (int i = 0; i < 20000; i++)
        buf_adds(&md, "Café *crème* brûlée. ");
    for (size_t max = 1; max < 60; max++) {
        buf_reset(&b);
        markdown_excerpt(buf_str(&md), md.len, max, &b);
        assert_true(utf8_chars(buf_str(&b)) <= max);
        assert_true(b.len >= 3 && memcmp(b.data + b.len - 3, "…", 3) == 0);
    }
    buf_reset(&b);
    markdown_excerpt(buf_str(&md), md.len, 44, &b);
    assert_string_equal(buf_str(&b), "Café crème brûlée. Café crème brûlée. Café…");
    buf_release(&md);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_and_spans),
        cmocka_unit_test(test_code_is_escaped),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_autolinks),
        cmocka_unit_test(test_raw_html_is_escaped_unless_allowed),
        cmocka_unit_test(test_hostile_urls_in_links_and_images),
        cmocka_unit_test(test_hostile_urls_in_raw_html),
        cmocka_unit_test(test_raw_html_allow_list),
        cmocka_unit_test(test_hostile_urls_in_autolinks),
        cmocka_unit_test(test_allowed_urls_are_kept),
        cmocka_unit_test(test_quotes_cannot_break_out_of_attributes),
        cmocka_unit_test(test_nul_bytes_and_limits),
        cmocka_unit_test(test_input_ending_mid_construct),
        cmocka_unit_test(test_url_filter),
        cmocka_unit_test(test_excerpt),
        cmocka_unit_test(test_excerpt_of_a_long_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
