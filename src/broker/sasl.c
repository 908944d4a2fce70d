/*
 * sasl.c - see sasl.h.
 */
#include "sasl.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ------------------------------------------------------------ mechanisms */

int bk_sasl_mech_parse(const char *name, size_t len)
{
    if (len == 5 && memcmp(name, "PLAIN", 5) == 0)
        return BK_SASL_PLAIN;
    if (len == 13 && memcmp(name, "SCRAM-SHA-256", 13) == 0)
        return BK_SCRAM_SHA_256;
    if (len == 13 && memcmp(name, "SCRAM-SHA-512", 13) == 0)
        return BK_SCRAM_SHA_512;
    if (len == 6 && memcmp(name, "GSSAPI", 6) == 0)
        return BK_SASL_GSSAPI;
    return BK_SASL_NONE;
}

const char *bk_sasl_mech_name(int mech)
{
    switch (mech) {
    case BK_SASL_PLAIN:
        return "PLAIN";
    case BK_SCRAM_SHA_256:
        return "SCRAM-SHA-256";
    case BK_SCRAM_SHA_512:
        return "SCRAM-SHA-512";
    case BK_SASL_GSSAPI:
        return "GSSAPI";
    default:
        return "?";
    }
}

int bk_sasl_plain_parse(const uint8_t *msg, size_t len, char *user, char *pass)
{
    const uint8_t *nul1 = memchr(msg, 0, len);
    if (!nul1)
        return BK_EPARSE;
    const uint8_t *u = nul1 + 1;
    size_t rest = len - (size_t)(u - msg);
    const uint8_t *nul2 = memchr(u, 0, rest);
    if (!nul2)
        return BK_EPARSE;
    size_t azlen = (size_t)(nul1 - msg), ulen = (size_t)(nul2 - u);
    const uint8_t *p = nul2 + 1;
    size_t plen = len - (size_t)(p - msg);
    if (ulen == 0 || plen == 0 || ulen >= BK_SASL_NAME_MAX || plen >= BK_SASL_NAME_MAX ||
        memchr(p, 0, plen))
        return BK_EPARSE;
    memcpy(user, u, ulen);
    user[ulen] = 0;
    memcpy(pass, p, plen);
    pass[plen] = 0;
    if (azlen && (azlen != ulen || memcmp(msg, u, ulen) != 0))
        return BK_EINVAL;
    return 0;
}

/* ---------------------------------------------------------------- base64 */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int bk_b64_encode(const uint8_t *in, size_t len, char *out, size_t outcap)
{
    size_t need = (len + 2) / 3 * 4 + 1;
    if (need > outcap)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? B64[v & 63] : '=';
    }
    out[o] = 0;
    return (int)o;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int bk_b64_decode(const char *in, size_t len, uint8_t *out, size_t outcap)
{
    if (len % 4)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            char ch = in[i + k];
            if (ch == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64val(ch)) < 0) {
                return -1;
            }
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        int n = 3 - pad;
        if ((pad == 1 && (x & 0xff)) || (pad == 2 && (x & 0xffff)))
            return -1; /* non-canonical: bits set past the end */
        if (o + (size_t)n > outcap)
            return -1;
        out[o++] = (uint8_t)(x >> 16);
        if (n > 1)
            out[o++] = (uint8_t)(x >> 8);
        if (n > 2)
            out[o++] = (uint8_t)x;
    }
    return (int)o;
}

/* ------------------------------------------------------------ SCRAM math */

static const EVP_MD *md_of(int mech)
{
    return mech == BK_SCRAM_SHA_256 ? EVP_sha256() : mech == BK_SCRAM_SHA_512 ? EVP_sha512() : NULL;
}

int bk_scram_hlen(int mech)
{
    return mech == BK_SCRAM_SHA_256 ? 32 : mech == BK_SCRAM_SHA_512 ? 64 : 0;
}

static int hmac(int mech, const uint8_t *key, size_t klen, const void *msg, size_t mlen,
                uint8_t *out)
{
    unsigned int n = 0;
    return HMAC(md_of(mech), key, (int)klen, msg, mlen, out, &n) ? 0 : BK_EINVAL;
}

static int digest(int mech, const uint8_t *in, size_t len, uint8_t *out)
{
    unsigned int n = 0;
    return EVP_Digest(in, len, out, &n, md_of(mech), NULL) == 1 ? 0 : BK_EINVAL;
}

int bk_scram_cred_from_salted(int mech, const uint8_t *salted, size_t len, const uint8_t *salt,
                              size_t saltlen, int iterations, bk_scram_cred *out)
{
    int h = bk_scram_hlen(mech);
    if (!h || (size_t)h != len || saltlen == 0 || saltlen > sizeof out->salt)
        return BK_EINVAL;
    memset(out, 0, sizeof *out);
    out->mech = mech;
    out->iterations = iterations;
    memcpy(out->salt, salt, saltlen);
    out->saltlen = (int)saltlen;
    uint8_t ck[64];
    if (hmac(mech, salted, len, "Client Key", 10, ck) != 0 ||
        digest(mech, ck, (size_t)h, out->stored_key) != 0 ||
        hmac(mech, salted, len, "Server Key", 10, out->server_key) != 0)
        return BK_EINVAL;
    OPENSSL_cleanse(ck, sizeof ck);
    return 0;
}

int bk_scram_cred_from_password(int mech, const char *password, const uint8_t *salt,
                                size_t saltlen, int iterations, bk_scram_cred *out)
{
    int h = bk_scram_hlen(mech);
    uint8_t sp[64];
    if (!h || iterations < 1 ||
        PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)saltlen, iterations,
                          md_of(mech), h, sp) != 1)
        return BK_EINVAL;
    int rc = bk_scram_cred_from_salted(mech, sp, (size_t)h, salt, saltlen, iterations, out);
    OPENSSL_cleanse(sp, sizeof sp);
    return rc;
}

int bk_scram_cred_format(const bk_scram_cred *c, char *buf, size_t len)
{
    char s[100], sk[100], vk[100];
    int h = bk_scram_hlen(c->mech);
    if (!h || bk_b64_encode(c->salt, (size_t)c->saltlen, s, sizeof s) < 0 ||
        bk_b64_encode(c->stored_key, (size_t)h, sk, sizeof sk) < 0 ||
        bk_b64_encode(c->server_key, (size_t)h, vk, sizeof vk) < 0)
        return BK_EINVAL;
    int n = snprintf(buf, len, "salt=%s,stored_key=%s,server_key=%s,iterations=%d", s, sk, vk,
                     c->iterations);
    return n < 0 || (size_t)n >= len ? BK_ENOMEM : 0;
}

int bk_scram_cred_parse(int mech, const char *s, size_t len, bk_scram_cred *out)
{
    int h = bk_scram_hlen(mech);
    if (!h)
        return BK_EINVAL;
    memset(out, 0, sizeof *out);
    out->mech = mech;
    int have = 0;
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (!eq)
            return BK_EPARSE;
        size_t kl = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vl = (size_t)(e - v);
        if (kl == 4 && memcmp(p, "salt", 4) == 0) {
            int n = bk_b64_decode(v, vl, out->salt, sizeof out->salt);
            if (n <= 0)
                return BK_EPARSE;
            out->saltlen = n;
            have |= 1;
        } else if (kl == 10 && memcmp(p, "stored_key", 10) == 0) {
            if (bk_b64_decode(v, vl, out->stored_key, sizeof out->stored_key) != h)
                return BK_EPARSE;
            have |= 2;
        } else if (kl == 10 && memcmp(p, "server_key", 10) == 0) {
            if (bk_b64_decode(v, vl, out->server_key, sizeof out->server_key) != h)
                return BK_EPARSE;
            have |= 4;
        } else if (kl == 10 && memcmp(p, "iterations", 10) == 0) {
            char tmp[16];
            if (vl == 0 || vl >= sizeof tmp)
                return BK_EPARSE;
            memcpy(tmp, v, vl);
            tmp[vl] = 0;
            char *x;
            long it = strtol(tmp, &x, 10);
            if (*x || it < 1 || it > 1000000)
                return BK_EPARSE;
            out->iterations = (int)it;
            have |= 8;
        }
        p = comma ? comma + 1 : end;
    }
    return have == 15 ? 0 : BK_EPARSE;
}

/* ----------------------------------------------------------- SCRAM parse */

/* The next attribute "x=value" of a comma list at *p (before end). */
static bool next_attr(const char **p, const char *end, char *name, const char **v, size_t *vl)
{
    if (*p >= end || end - *p < 2 || (*p)[1] != '=')
        return false;
    *name = **p;
    *v = *p + 2;
    const char *comma = memchr(*v, ',', (size_t)(end - *v));
    const char *e = comma ? comma : end;
    *vl = (size_t)(e - *v);
    *p = comma ? comma + 1 : end;
    return true;
}

static bool printable_nonce(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0x21 || v[i] > 0x7e || v[i] == ',')
            return false;
    return n > 0;
}

/* saslname: "=2C" -> ',', "=3D" -> '='; anything else after '=' is bad. */
static int decode_saslname(const char *v, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == 0)
            return BK_EPARSE;
        if (c == '=') {
            if (i + 2 >= n)
                return BK_EPARSE;
            if (v[i + 1] == '2' && v[i + 2] == 'C')
                c = ',';
            else if (v[i + 1] == '3' && v[i + 2] == 'D')
                c = '=';
            else
                return BK_EPARSE;
            i += 2;
        }
        if (o + 1 >= cap)
            return BK_EPARSE;
        out[o++] = c;
    }
    out[o] = 0;
    return o ? 0 : BK_EPARSE;
}

int bk_scram_parse_client_first(const char *msg, size_t len, bk_scram_first *out)
{
    memset(out, 0, sizeof *out);
    const char *p = msg, *end = msg + len;
    if (memchr(msg, 0, len))
        return BK_EPARSE;
    /* gs2-header: cbind-flag "," [authzid] "," */
    if (len < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',')
        return BK_EPARSE; /* "p=" (channel binding) is not offered */
    p += 2;
    const char *comma = memchr(p, ',', (size_t)(end - p));
    if (!comma)
        return BK_EPARSE;
    char authzid[BK_SASL_NAME_MAX] = "";
    if (comma > p) {
        if (comma - p < 3 || p[0] != 'a' || p[1] != '=' ||
            decode_saslname(p + 2, (size_t)(comma - p - 2), authzid, sizeof authzid) != 0)
            return BK_EPARSE;
    }
    p = comma + 1;
    out->gs2_len = (size_t)(p - msg);
    char name;
    const char *v;
    size_t vl;
    if (!next_attr(&p, end, &name, &v, &vl) || name != 'n' ||
        decode_saslname(v, vl, out->user, sizeof out->user) != 0)
        return BK_EPARSE;
    if (!next_attr(&p, end, &name, &v, &vl) || name != 'r' || vl >= sizeof out->cnonce ||
        !printable_nonce(v, vl))
        return BK_EPARSE;
    memcpy(out->cnonce, v, vl);
    out->cnonce[vl] = 0;
    /* extensions: Kafka's delegation tokens ("tokenauth=true") are not served */
    while (p < end) {
        const char *c2 = memchr(p, ',', (size_t)(end - p));
        const char *e = c2 ? c2 : end;
        if (e - p >= 9 && memcmp(p, "tokenauth", 9) == 0)
            return BK_EINVAL;
        if (!memchr(p, '=', (size_t)(e - p)))
            return BK_EPARSE;
        p = c2 ? c2 + 1 : end;
    }
    if (authzid[0] && strcmp(authzid, out->user) != 0)
        return BK_EINVAL;
    return 0;
}

int bk_scram_parse_client_final(const char *msg, size_t len, bk_scram_final *out)
{
    memset(out, 0, sizeof *out);
    if (memchr(msg, 0, len))
        return BK_EPARSE;
    const char *p = msg, *end = msg + len;
    char name;
    const char *v;
    size_t vl;
    if (!next_attr(&p, end, &name, &v, &vl) || name != 'c' || vl >= sizeof out->cbind)
        return BK_EPARSE;
    memcpy(out->cbind, v, vl);
    if (!next_attr(&p, end, &name, &v, &vl) || name != 'r' || vl >= sizeof out->nonce ||
        !printable_nonce(v, vl))
        return BK_EPARSE;
    memcpy(out->nonce, v, vl);
    for (;;) {
        const char *at = p;
        if (!next_attr(&p, end, &name, &v, &vl))
            return BK_EPARSE;
        if (name == 'p') {
            if (p != end) /* the proof is last */
                return BK_EPARSE;
            int n = bk_b64_decode(v, vl, out->proof, sizeof out->proof);
            if (n <= 0)
                return BK_EPARSE;
            out->prooflen = n;
            out->without_proof = (size_t)(at - msg) - 1; /* before the ',' */
            return 0;
        }
    }
}

/* ---------------------------------------------------------- SCRAM server */

int bk_scram_server_start(bk_scram_sess *s, int mech, const uint8_t *msg, size_t len,
                          bk_scram_first *f)
{
    memset(s, 0, sizeof *s);
    s->mech = mech;
    if (!bk_scram_hlen(mech))
        return BK_EINVAL;
    int rc = bk_scram_parse_client_first((const char *)msg, len, f);
    if (rc != 0)
        return rc;
    size_t bare = len - f->gs2_len;
    if (f->gs2_len >= sizeof s->gs2 || bare + 1 >= sizeof s->auth)
        return BK_EPARSE;
    memcpy(s->gs2, msg, f->gs2_len);
    s->gs2[f->gs2_len] = 0;
    memcpy(s->auth, msg + f->gs2_len, bare);
    s->authlen = bare;
    s->auth[s->authlen++] = ',';
    snprintf(s->nonce, sizeof s->nonce, "%s", f->cnonce);
    return 0;
}

int bk_scram_server_first(bk_scram_sess *s, const bk_scram_cred *cred, const char *snonce,
                          char *out, size_t outcap, size_t *outlen)
{
    if (s->step != 0 || cred->mech != s->mech)
        return BK_EINVAL;
    s->cred = *cred;
    size_t cl = strlen(s->nonce), sl = strlen(snonce);
    if (cl + sl >= sizeof s->nonce)
        return BK_EINVAL;
    memcpy(s->nonce + cl, snonce, sl + 1);
    char salt[100];
    if (bk_b64_encode(cred->salt, (size_t)cred->saltlen, salt, sizeof salt) < 0)
        return BK_EINVAL;
    int n = snprintf(out, outcap, "r=%s,s=%s,i=%d", s->nonce, salt, cred->iterations);
    if (n < 0 || (size_t)n >= outcap || s->authlen + (size_t)n + 1 >= sizeof s->auth)
        return BK_ENOMEM;
    memcpy(s->auth + s->authlen, out, (size_t)n);
    s->authlen += (size_t)n;
    s->auth[s->authlen++] = ',';
    *outlen = (size_t)n;
    s->step = 1;
    return 0;
}

int bk_scram_server_final(bk_scram_sess *s, const uint8_t *msg, size_t len, char *out,
                          size_t outcap, size_t *outlen)
{
    if (s->step != 1)
        return BK_EINVAL;
    s->step = 2; /* one attempt */
    bk_scram_final f;
    int rc = bk_scram_parse_client_final((const char *)msg, len, &f);
    if (rc != 0)
        return rc;
    char gs2b64[100];
    if (bk_b64_encode((const uint8_t *)s->gs2, strlen(s->gs2), gs2b64, sizeof gs2b64) < 0 ||
        strcmp(gs2b64, f.cbind) != 0)
        return BK_EINVAL;
    /* The nonce must end with the server's (Kafka's ScramSaslServer checks
     * endsWith: librdkafka up to 2.x sends the client nonce once more in
     * front). */
    size_t fl = strlen(f.nonce), nl = strlen(s->nonce);
    if (fl < nl || strcmp(f.nonce + fl - nl, s->nonce) != 0)
        return BK_EINVAL;
    int h = bk_scram_hlen(s->mech);
    if (f.prooflen != h || s->authlen + f.without_proof > sizeof s->auth)
        return BK_ENOENT;
    memcpy(s->auth + s->authlen, msg, f.without_proof);
    size_t alen = s->authlen + f.without_proof;
    uint8_t csig[64], ckey[64], stored[64], ssig[64];
    if (hmac(s->mech, s->cred.stored_key, (size_t)h, s->auth, alen, csig) != 0)
        return BK_EINVAL;
    for (int i = 0; i < h; i++)
        ckey[i] = f.proof[i] ^ csig[i];
    if (digest(s->mech, ckey, (size_t)h, stored) != 0)
        return BK_EINVAL;
    if (CRYPTO_memcmp(stored, s->cred.stored_key, (size_t)h) != 0)
        return BK_ENOENT;
    if (hmac(s->mech, s->cred.server_key, (size_t)h, s->auth, alen, ssig) != 0)
        return BK_EINVAL;
    char sigb64[100];
    if (bk_b64_encode(ssig, (size_t)h, sigb64, sizeof sigb64) < 0)
        return BK_EINVAL;
    int n = snprintf(out, outcap, "v=%s", sigb64);
    if (n < 0 || (size_t)n >= outcap)
        return BK_ENOMEM;
    *outlen = (size_t)n;
    return 0;
}

/* ------------------------------------------------------------ PLAIN users */

struct bk_plain_users {
    int n;
    char **user, **pass;
};

void bk_plain_users_free(bk_plain_users *u)
{
    if (!u)
        return;
    for (int i = 0; i < u->n; i++) {
        free(u->user[i]);
        if (u->pass[i])
            OPENSSL_cleanse(u->pass[i], strlen(u->pass[i]));
        free(u->pass[i]);
    }
    free(u->user);
    free(u->pass);
    free(u);
}

bk_plain_users *bk_plain_users_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "sasl.plain.users.file %s: %s", path, strerror(errno));
        return NULL;
    }
    bk_plain_users *u = calloc(1, sizeof *u);
    char line[1024];
    int lineno = 0;
    while (u && fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "user_", 5) != 0)
            continue;
        p += 5;
        char *eq = strchr(p, '=');
        char *q1 = eq ? strchr(eq, '"') : NULL;
        char *q2 = q1 ? strchr(q1 + 1, '"') : NULL;
        if (!eq || eq == p || !q1 || !q2) {
            snprintf(err, errlen, "sasl.plain.users.file %s:%d: expected user_<name>=\"<password>\"",
                     path, lineno);
            bk_plain_users_free(u);
            fclose(f);
            return NULL;
        }
        char **nu = realloc(u->user, (size_t)(u->n + 1) * sizeof *nu);
        if (nu)
            u->user = nu;
        char **np = realloc(u->pass, (size_t)(u->n + 1) * sizeof *np);
        if (np)
            u->pass = np;
        if (!nu || !np) {
            bk_plain_users_free(u);
            u = NULL;
            break;
        }
        u->user[u->n] = strndup(p, (size_t)(eq - p));
        u->pass[u->n] = strndup(q1 + 1, (size_t)(q2 - q1 - 1));
        u->n++;
        if (!u->user[u->n - 1] || !u->pass[u->n - 1]) {
            bk_plain_users_free(u);
            u = NULL;
        }
    }
    fclose(f);
    if (!u)
        snprintf(err, errlen, "out of memory");
    return u;
}

int bk_plain_users_add_text(bk_plain_users **up, const char *text, char *err, size_t errlen)
{
    if (!*up && !(*up = calloc(1, sizeof **up)))
        return BK_ENOMEM;
    bk_plain_users *u = *up;
    const char *p = text;
    while ((p = strstr(p, "user_")) != NULL) {
        /* only at the start of an option (after a blank, newline or start) */
        if (p != text && !strchr(" \t\r\n;", p[-1])) {
            p += 5;
            continue;
        }
        const char *name = p + 5, *eq = strchr(name, '=');
        if (!eq || eq == name || eq[1] != '"' || strchr(" \t\r\n", *name)) {
            snprintf(err, errlen, "JAAS config: expected user_<name>=\"<password>\"");
            return BK_EPARSE;
        }
        const char *q2 = strchr(eq + 2, '"');
        if (!q2) {
            snprintf(err, errlen, "JAAS config: unterminated password of user_%.*s",
                     (int)(eq - name), name);
            return BK_EPARSE;
        }
        char **nu = realloc(u->user, (size_t)(u->n + 1) * sizeof *nu);
        if (nu)
            u->user = nu;
        char **np = realloc(u->pass, (size_t)(u->n + 1) * sizeof *np);
        if (np)
            u->pass = np;
        if (!nu || !np)
            return BK_ENOMEM;
        u->user[u->n] = strndup(name, (size_t)(eq - name));
        u->pass[u->n] = strndup(eq + 2, (size_t)(q2 - eq - 2));
        u->n++;
        if (!u->user[u->n - 1] || !u->pass[u->n - 1])
            return BK_ENOMEM;
        p = q2 + 1;
    }
    return 0;
}

bool bk_plain_users_check(const bk_plain_users *u, const char *user, const char *pass)
{
    if (!u)
        return false;
    for (int i = 0; i < u->n; i++) {
        if (strcmp(u->user[i], user) != 0)
            continue;
        size_t a = strlen(u->pass[i]), b = strlen(pass);
        return a == b && CRYPTO_memcmp(u->pass[i], pass, a) == 0;
    }
    return false;
}

/* -------------------------------------------------------------- SCRAM db */

typedef struct scram_ent {
    char *user;
    bk_scram_cred cred;
} scram_ent;

struct bk_scram_db {
    int n, cap;
    scram_ent *v;
};

bk_scram_db *bk_scram_db_new(void)
{
    return calloc(1, sizeof(bk_scram_db));
}

void bk_scram_db_free(bk_scram_db *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n; i++)
        free(d->v[i].user);
    free(d->v);
    free(d);
}

const bk_scram_cred *bk_scram_db_get(const bk_scram_db *d, const char *user, int mech)
{
    for (int i = 0; d && i < d->n; i++)
        if (d->v[i].cred.mech == mech && strcmp(d->v[i].user, user) == 0)
            return &d->v[i].cred;
    return NULL;
}

int bk_scram_db_put(bk_scram_db *d, const char *user, const bk_scram_cred *c)
{
    for (int i = 0; i < d->n; i++)
        if (d->v[i].cred.mech == c->mech && strcmp(d->v[i].user, user) == 0) {
            d->v[i].cred = *c;
            return 0;
        }
    if (d->n == d->cap) {
        int ncap = d->cap ? d->cap * 2 : 8;
        scram_ent *nv = realloc(d->v, (size_t)ncap * sizeof *nv);
        if (!nv)
            return BK_ENOMEM;
        d->v = nv;
        d->cap = ncap;
    }
    char *u = strdup(user);
    if (!u)
        return BK_ENOMEM;
    d->v[d->n].user = u;
    d->v[d->n].cred = *c;
    d->n++;
    return 0;
}

int bk_scram_db_del(bk_scram_db *d, const char *user, int mech)
{
    for (int i = 0; i < d->n; i++)
        if (d->v[i].cred.mech == mech && strcmp(d->v[i].user, user) == 0) {
            free(d->v[i].user);
            d->v[i] = d->v[--d->n];
            return 0;
        }
    return BK_ENOENT;
}

bool bk_scram_db_at(const bk_scram_db *d, int i, const char **user, const bk_scram_cred **c)
{
    if (!d || i < 0 || i >= d->n)
        return false;
    *user = d->v[i].user;
    *c = &d->v[i].cred;
    return true;
}

static void pct_encode(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == '-' || c == '@')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
    }
    out[o] = 0;
}

static int pct_decode(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s; s++) {
        if (o + 1 >= cap)
            return BK_EPARSE;
        if (*s == '%') {
            unsigned v;
            if (!s[1] || !s[2] || sscanf(s + 1, "%2x", &v) != 1)
                return BK_EPARSE;
            out[o++] = (char)v;
            s += 2;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = 0;
    return 0;
}

int bk_scram_db_load(bk_scram_db *d, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : BK_EIO;
    char line[1024];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char user[BK_SASL_NAME_MAX * 3], mech[32], cred[600], dec[BK_SASL_NAME_MAX];
        if (sscanf(line, "scram %767s %31s %599s", user, mech, cred) != 3)
            continue;
        bk_scram_cred c;
        int m = bk_sasl_mech_parse(mech, strlen(mech));
        if (pct_decode(user, dec, sizeof dec) != 0 || !bk_scram_hlen(m) ||
            bk_scram_cred_parse(m, cred, strlen(cred), &c) != 0) {
            rc = BK_ECORRUPT;
            break;
        }
        rc = bk_scram_db_put(d, dec, &c);
    }
    fclose(f);
    return rc;
}

int bk_scram_db_save(const bk_scram_db *d, const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return BK_EINVAL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return BK_EIO;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return BK_EIO;
    }
    int rc = 0;
    fprintf(f, "brook-scram-credentials 1\n");
    for (int i = 0; i < d->n && rc == 0; i++) {
        char user[BK_SASL_NAME_MAX * 3], cred[600];
        pct_encode(d->v[i].user, user, sizeof user);
        rc = bk_scram_cred_format(&d->v[i].cred, cred, sizeof cred);
        if (rc == 0)
            fprintf(f, "scram %s %s %s\n", user, bk_sasl_mech_name(d->v[i].cred.mech), cred);
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = BK_EIO;
    if (fclose(f) != 0)
        rc = BK_EIO;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = BK_EIO;
    if (rc != 0)
        unlink(tmp);
    return rc;
}
