/*
 * fuzz_sasl - libFuzzer target over the SASL message parsers (broker/sasl.h):
 * what an unauthenticated client can send in SaslAuthenticate. The first
 * byte picks the parser; the rest is the message. Mode 4 runs a whole SCRAM
 * server exchange against a fixed credential, the input split at its first
 * NUL into client-first and client-final, and checks the exchange never
 * succeeds with a proof the input could not have computed... except by
 * knowing the password, which the corpus does not.
 */
#include "../src/broker/sasl.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] % 6;
    const uint8_t *m = data + 1;
    size_t n = size - 1;
    char u[BK_SASL_NAME_MAX], p[BK_SASL_NAME_MAX], out[1024];
    size_t outlen;
    switch (mode) {
    case 0:
        if (bk_sasl_plain_parse(m, n, u, p) == 0 && (!u[0] || !p[0]))
            abort();
        break;
    case 1: {
        bk_scram_first f;
        if (bk_scram_parse_client_first((const char *)m, n, &f) == 0 &&
            (!f.user[0] || !f.cnonce[0] || f.gs2_len > n))
            abort();
        break;
    }
    case 2: {
        bk_scram_final f;
        if (bk_scram_parse_client_final((const char *)m, n, &f) == 0 &&
            (f.prooflen <= 0 || f.without_proof >= n))
            abort();
        break;
    }
    case 3: {
        bk_scram_cred c;
        int mech = n && (m[0] & 1) ? BK_SCRAM_SHA_512 : BK_SCRAM_SHA_256;
        if (bk_scram_cred_parse(mech, (const char *)m, n, &c) == 0) {
            char txt[600];
            bk_scram_cred c2;
            if (bk_scram_cred_format(&c, txt, sizeof txt) != 0 ||
                bk_scram_cred_parse(mech, txt, strlen(txt), &c2) != 0 ||
                memcmp(c.stored_key, c2.stored_key, sizeof c.stored_key) != 0 ||
                c.iterations != c2.iterations)
                abort();
        }
        break;
    }
    case 4: {
        static const uint8_t salt[] = "fuzz-salt";
        static bk_scram_cred cred;
        static bool have; /* PBKDF2 once, not per input */
        if (!have && bk_scram_cred_from_password(BK_SCRAM_SHA_256, "not in any corpus", salt,
                                                 sizeof salt - 1, 4096, &cred) != 0)
            abort();
        have = true;
        const uint8_t *nul = memchr(m, 0, n);
        size_t l1 = nul ? (size_t)(nul - m) : n;
        bk_scram_sess s;
        bk_scram_first f;
        if (bk_scram_server_start(&s, BK_SCRAM_SHA_256, m, l1, &f) != 0)
            break;
        if (bk_scram_server_first(&s, &cred, "SNONCE", out, sizeof out, &outlen) != 0)
            break;
        if (nul && bk_scram_server_final(&s, nul + 1, n - l1 - 1, out, sizeof out, &outlen) == 0)
            abort(); /* a proof without the password */
        break;
    }
    default: {
        uint8_t buf[512];
        int k = bk_b64_decode((const char *)m, n, buf, sizeof buf);
        if (k > 0) {
            char enc[1024];
            if (bk_b64_encode(buf, (size_t)k, enc, sizeof enc) < 0 ||
                strlen(enc) != n || memcmp(enc, m, n) != 0)
                abort();
        }
        break;
    }
    }
    return 0;
}
