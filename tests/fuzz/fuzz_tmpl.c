/* fuzz_tmpl.c - libFuzzer target for src/tmpl: the input is compiled as a template and, when
   it compiles, rendered with a fixed model into a capped buffer, beside fixed partials and
   with itself reachable as the partial "t" (so self-recursion is explored). Any crash,
   sanitizer report, leak or slow input is a finding; errors returned are not.
   Built with clang -fsanitize=fuzzer,address,undefined by tests/CMakeLists.txt. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tmpl/tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char MODEL[] =
    "{\"s\": \"<b>&\\\"'\", \"e\": \"\", \"n\": 42, \"z\": 0, \"r\": 3.5, \"t\": true,"
    " \"f\": false, \"u\": null, \"a\": [1, \"two\", 3.5, [4, 5], {\"s\": \"in\"}],"
    " \"o\": {\"x\": {\"y\": \"deep\"}, \"s\": \"inner\", \"a\": []},"
    " \"items\": [{\"name\": \"a\", \"items\": []},"
    "             {\"name\": \"b\", \"items\": [{\"name\": \"c\", \"items\": []}]}]}";

static const struct {
    const char *name, *text;
} PARTIALS[] = {
    {"item", "<li>{{name}}{{#items}}\n  {{>item}}\n{{/items}}</li>\n"},
    {"row", "|\n{{{s}}}\n|\n"},
    {"loop", "{{>loop}}"},
};

static struct tmpl_set *set;
static json_t *model;

static void init(void)
{
    char err[256];
    json_error_t je;
    set = tmpl_set_new();
    model = json_loads(MODEL, 0, &je);
    if (!model)
        abort();
    for (size_t i = 0; i < sizeof(PARTIALS) / sizeof(PARTIALS[0]); i++)
        if (tmpl_set_add(set, PARTIALS[i].name, PARTIALS[i].text, strlen(PARTIALS[i].text), err,
                         sizeof(err)) < 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (!set)
        init();
    if (tmpl_set_add(set, "t", (const char *)data, size, err, sizeof(err)) < 0)
        return 0;
    struct buf out;
    buf_init(&out, 1 << 16);
    tmpl_render(set, "t", model, &out, err, sizeof(err));
    buf_release(&out);
    return 0;
}
