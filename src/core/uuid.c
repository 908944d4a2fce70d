/* uuid.c - see uuid.h. */
#include "uuid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void bk_uuid_encode(const uint8_t id[16], char out[23])
{
    int o = 0;
    for (int i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)id[i] << 16;
        if (i + 1 < 16)
            v |= (uint32_t)id[i + 1] << 8;
        if (i + 2 < 16)
            v |= id[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < 16)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < 16)
            out[o++] = b64url[v & 63];
    }
    out[o] = 0;
}

int bk_uuid_decode(const char *s, uint8_t id[16])
{
    if (strlen(s) != 22)
        return -1;
    uint32_t acc = 0;
    int bits = 0, out = 0;
    for (int i = 0; i < 22; i++) {
        const char *c = strchr(b64url, s[i]);
        if (!c)
            return -1;
        acc = (acc << 6) | (uint32_t)(c - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out < 16)
                id[out++] = (uint8_t)(acc >> bits);
        }
    }
    /* the last character carries 2 bits of data; the other 4 must be 0 */
    return out == 16 && (acc & 0x0f) == 0 ? 0 : -1;
}

void bk_uuid_random(uint8_t id[16])
{
    for (;;) {
        size_t got = 0;
        while (got < 16) {
            ssize_t n = getrandom(id + got, 16 - got, 0);
            if (n > 0)
                got += (size_t)n;
            else
                BK_BUG_ON(n == -1 && errno != EINTR); /* fails only with bad arguments */
        }
        id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* version 4 */
        id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); /* IETF variant */
        if ((id[0] >> 2) != 62)                   /* first character not '-' */
            return;
    }
}
