/* sasl_client.c - client side of PLAIN and SCRAM. See sasl_client.h. */
#include "sasl_client.h"

#include "../core/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

int bk_sasl_plain_message(const char *user, const char *pass, uint8_t *out, size_t cap)
{
    size_t ul = strlen(user), pl = strlen(pass);
    if (ul + pl + 2 > cap)
        return BK_ENOMEM;
    out[0] = 0;
    memcpy(out + 1, user, ul);
    out[1 + ul] = 0;
    memcpy(out + 2 + ul, pass, pl);
    return (int)(ul + pl + 2);
}

static const EVP_MD *md_of(int mech)
{
    return mech == BK_SCRAM_SHA_256 ? EVP_sha256() : mech == BK_SCRAM_SHA_512 ? EVP_sha512() : NULL;
}

int bk_scram_client_first(bk_scram_client *s, int mech, const char *user, const char *cnonce,
                          char *out, size_t cap, size_t *outlen)
{
    memset(s, 0, sizeof *s);
    if (!md_of(mech) || !cnonce[0] || strlen(cnonce) >= sizeof s->cnonce || strchr(cnonce, ','))
        return BK_EINVAL;
    s->mech = mech;
    s->hlen = bk_scram_hlen(mech);
    strcpy(s->cnonce, cnonce);
    /* saslname: ',' -> =2C, '=' -> =3D */
    size_t n = 0;
    char *b = s->first_bare;
    size_t bcap = sizeof s->first_bare;
    n += (size_t)snprintf(b, bcap, "n=");
    for (const char *p = user; *p; p++) {
        const char *rep = *p == ',' ? "=2C" : *p == '=' ? "=3D" : NULL;
        size_t rl = rep ? 3 : 1;
        if (n + rl + 1 >= bcap)
            return BK_ENOMEM;
        if (rep)
            memcpy(b + n, rep, 3);
        else
            b[n] = *p;
        n += rl;
    }
    int w = snprintf(b + n, bcap - n, ",r=%s", cnonce);
    if (w < 0 || (size_t)w >= bcap - n)
        return BK_ENOMEM;
    w = snprintf(out, cap, "n,,%s", b);
    if (w < 0 || (size_t)w >= cap)
        return BK_ENOMEM;
    *outlen = (size_t)w;
    return 0;
}

/* The value of attribute "<c>=" in a comma-separated SCRAM message. */
static bool attr(const char *m, size_t len, char c, const char **v, size_t *vl)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && m[j] != ',')
            j++;
        if (j - i >= 2 && m[i] == c && m[i + 1] == '=') {
            *v = m + i + 2;
            *vl = j - i - 2;
            return true;
        }
        i = j + 1;
    }
    return false;
}

static int hmac(const EVP_MD *md, const uint8_t *key, int klen, const void *d, size_t dl,
                uint8_t *out)
{
    unsigned int ol = 0;
    return HMAC(md, key, klen, d, dl, out, &ol) ? 0 : BK_EIO;
}

int bk_scram_client_final(bk_scram_client *s, const char *password, const uint8_t *msg,
                          size_t len, char *out, size_t cap, size_t *outlen)
{
    const EVP_MD *md = md_of(s->mech);
    const char *m = (const char *)msg, *r, *salt64, *it;
    size_t rl, sl, il;
    if (!md || len > 1024 || memchr(msg, 0, len))
        return BK_EPARSE;
    if (len >= 2 && m[0] == 'e' && m[1] == '=')
        return BK_EINVAL;
    if (!attr(m, len, 'r', &r, &rl) || !attr(m, len, 's', &salt64, &sl) ||
        !attr(m, len, 'i', &it, &il) || il == 0 || il > 9 || sl == 0)
        return BK_EPARSE;
    size_t cl = strlen(s->cnonce);
    if (rl <= cl || memcmp(r, s->cnonce, cl) != 0)
        return BK_EINVAL;
    int iters = 0;
    for (size_t i = 0; i < il; i++) {
        if (it[i] < '0' || it[i] > '9')
            return BK_EPARSE;
        iters = iters * 10 + (it[i] - '0');
    }
    if (iters < BK_SCRAM_MIN_ITERATIONS || iters > 1000000)
        return BK_EINVAL;
    uint8_t salt[128];
    int saltlen = bk_b64_decode(salt64, sl, salt, sizeof salt);
    if (saltlen <= 0)
        return BK_EPARSE;
    int h = s->hlen;
    uint8_t salted[64], ckey[64], skey[64], stored[64], csig[64], proof[64];
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, saltlen, iters, md, h,
                          salted) != 1)
        return BK_EIO;
    /* client-final-without-proof */
    char wp[600];
    int wl = snprintf(wp, sizeof wp, "c=biws,r=%.*s", (int)rl, r);
    if (wl < 0 || (size_t)wl >= sizeof wp)
        return BK_EPARSE;
    char auth[2400];
    int al = snprintf(auth, sizeof auth, "%s,%.*s,%s", s->first_bare, (int)len, m, wp);
    if (al < 0 || (size_t)al >= sizeof auth)
        return BK_EPARSE;
    unsigned int dl = 0;
    if (hmac(md, salted, h, "Client Key", 10, ckey) || hmac(md, salted, h, "Server Key", 10, skey) ||
        EVP_Digest(ckey, (size_t)h, stored, &dl, md, NULL) != 1 ||
        hmac(md, stored, h, auth, (size_t)al, csig) ||
        hmac(md, skey, h, auth, (size_t)al, s->server_sig))
        return BK_EIO;
    for (int i = 0; i < h; i++)
        proof[i] = ckey[i] ^ csig[i];
    char p64[100];
    if (bk_b64_encode(proof, (size_t)h, p64, sizeof p64) < 0)
        return BK_EIO;
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(ckey, sizeof ckey);
    int w = snprintf(out, cap, "%s,p=%s", wp, p64);
    if (w < 0 || (size_t)w >= cap)
        return BK_ENOMEM;
    *outlen = (size_t)w;
    return 0;
}

int bk_scram_client_verify(const bk_scram_client *s, const uint8_t *msg, size_t len)
{
    const char *v;
    size_t vl;
    if (len > 512 || !attr((const char *)msg, len, 'v', &v, &vl))
        return BK_EINVAL;
    uint8_t sig[100];
    int n = bk_b64_decode(v, vl, sig, sizeof sig);
    if (n != s->hlen || CRYPTO_memcmp(sig, s->server_sig, (size_t)n) != 0)
        return BK_EINVAL;
    return 0;
}

/* The quoted value of option name="..." (name at a word start). */
static bool jaas_opt(const char *j, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = j; (p = strstr(p, name)) != NULL; p += nl) {
        if (p != j && !(p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n' || p[-1] == ';'))
            continue;
        const char *q = p + nl;
        while (*q == ' ')
            q++;
        if (*q++ != '=')
            continue;
        while (*q == ' ')
            q++;
        if (*q++ != '"')
            continue;
        const char *e = strchr(q, '"');
        if (!e || (size_t)(e - q) >= cap)
            return false;
        memcpy(out, q, (size_t)(e - q));
        out[e - q] = 0;
        return true;
    }
    return false;
}

int bk_jaas_credentials(const char *jaas, char *user, size_t ucap, char *pass, size_t pcap)
{
    if (!jaas || !jaas_opt(jaas, "username", user, ucap) || !jaas_opt(jaas, "password", pass, pcap))
        return BK_ENOENT;
    return 0;
}
