/* jsonfile.c - see jsonfile.h. */
#include "jsonfile.h"

#include "../src/cluster/zkjson.h"
#include "tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *bk_tool_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        bk_tool_die("cannot read %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0, r;
    char *buf = malloc(cap);
    if (!buf)
        bk_tool_die("out of memory");
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                bk_tool_die("out of memory");
            buf = nb;
        }
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

int bk_tool_json_partitions(const char *path, bool with_offset, int64_t *version,
                            bk_tool_tp **out)
{
    size_t len;
    char *buf = bk_tool_read_file(path, &len);
    bk_json *root = bk_json_parse(buf, len);
    free(buf);
    if (!root || root->type != BK_J_OBJ)
        bk_tool_die("The input string is not a valid JSON");
    const bk_json *ver = bk_json_get(root, "version");
    *version = 1;
    if (ver && bk_json_int(ver, version) != 0)
        bk_tool_die("The input string is not a valid JSON");
    const bk_json *parts = bk_json_get(root, "partitions");
    if (!parts || parts->type != BK_J_ARR)
        bk_tool_die("Missing partitions field");
    bk_tool_tp *v = calloc((size_t)parts->nkids + 1, sizeof *v);
    if (!v)
        bk_tool_die("out of memory");
    for (int i = 0; i < parts->nkids; i++) {
        const bk_json *e = &parts->kids[i];
        const bk_json *t = bk_json_get(e, "topic"), *p = bk_json_get(e, "partition"),
                      *o = bk_json_get(e, "offset");
        if (!t || t->type != BK_J_STR || !p || (with_offset && !o))
            bk_tool_die(with_offset
                            ? "%s: each partition needs \"topic\", \"partition\" and \"offset\""
                            : "%s: each partition needs \"topic\" and \"partition\"",
                        path);
        if (bk_json_int(p, &v[i].partition) != 0 || v[i].partition < 0 ||
            v[i].partition > INT32_MAX)
            bk_tool_die("bad \"partition\" in %s", path);
        if (with_offset && bk_json_int(o, &v[i].offset) != 0)
            bk_tool_die("bad \"offset\" in %s", path);
        if (!(v[i].topic = strdup(t->str)))
            bk_tool_die("out of memory");
    }
    int n = parts->nkids;
    bk_json_free(root);
    *out = v;
    return n;
}

void bk_tool_tp_free(bk_tool_tp *v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i].topic);
    free(v);
}
