/* connlimit.c - connection limit helpers. See connlimit.h. */
#include "connlimit.h"

#include "../core/err.h"

#include <stdlib.h>
#include <string.h>

void bk_peer_ip(const char *peer, char *out, size_t outlen)
{
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']')
        peer++, n -= 2;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, peer, n);
    out[n] = 0;
}

/* Walk "host:count,..." calling back per entry; -1 on a malformed one. */
static int walk(const char *s, const char *ip, int32_t *found)
{
    while (s && *s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (!*s)
            break;
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *colon = NULL;
        for (size_t i = len; i > 0; i--)
            if (s[i - 1] == ':') {
                colon = s + i - 1;
                break;
            }
        if (!colon || colon == s)
            return -1;
        char *e;
        long v = strtol(colon + 1, &e, 10);
        if (e == colon + 1 || (e != s + len && *e != ' ') || v < 0 || v > INT32_MAX)
            return -1;
        size_t hl = (size_t)(colon - s);
        while (hl && s[hl - 1] == ' ')
            hl--;
        if (ip && found && strlen(ip) == hl && memcmp(ip, s, hl) == 0)
            *found = (int32_t)v;
        s += len;
    }
    return 0;
}

int32_t bk_connlimit_for(const char *overrides, const char *ip, int32_t per_ip)
{
    int32_t v = per_ip;
    (void)walk(overrides, ip, &v);
    return v;
}

int bk_connlimit_check(const char *overrides) { return walk(overrides, NULL, NULL) ? BK_EINVAL : 0; }
