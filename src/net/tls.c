/*
 * tls.c - see tls.h.
 */
#include "tls.h"

#include "../core/err.h"
#include "../core/log.h"
#include "ev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct bk_tls_ctx {
    SSL_CTX *ctx;
    bool verify_host; /* client side: ssl.endpoint.identification.algorithm=https */
};

/* The last OpenSSL error as text (the queue is cleared). */
static void ossl_err(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    unsigned long last = e;
    while ((e = ERR_get_error()) != 0)
        last = e;
    if (last)
        ERR_error_string_n(last, buf, len);
    else
        snprintf(buf, len, "unknown error");
}

static int pw_cb(char *buf, int size, int rwflag, void *u)
{
    const char *pw = u;
    if (!pw)
        return 0;
    int n = (int)strlen(pw);
    if (n > size)
        n = size;
    memcpy(buf, pw, (size_t)n);
    return n;
}

static int proto_version(const char *p)
{
    if (strcasecmp(p, "TLSv1.2") == 0)
        return TLS1_2_VERSION;
    if (strcasecmp(p, "TLSv1.3") == 0 || strcasecmp(p, "TLS") == 0)
        return TLS1_3_VERSION;
    return 0;
}

/* Load the chain (leaf first) and key from one PEM blob. */
static int load_keystore(SSL_CTX *ctx, const char *chain, size_t chainlen, const char *key,
                         size_t keylen, const char *pw, char *err, size_t errlen)
{
    char why[160];
    BIO *b = BIO_new_mem_buf(chain, (int)chainlen);
    X509 *leaf = b ? PEM_read_bio_X509(b, NULL, pw_cb, (void *)pw) : NULL;
    if (!leaf || SSL_CTX_use_certificate(ctx, leaf) != 1) {
        ossl_err(why, sizeof why);
        snprintf(err, errlen, "ssl keystore: no usable certificate: %s", why);
        X509_free(leaf);
        BIO_free(b);
        return BK_EINVAL;
    }
    X509_free(leaf);
    X509 *ca;
    while ((ca = PEM_read_bio_X509(b, NULL, pw_cb, (void *)pw)) != NULL)
        if (SSL_CTX_add_extra_chain_cert(ctx, ca) != 1) { /* takes ownership on success */
            X509_free(ca);
            break;
        }
    ERR_clear_error(); /* the end of the PEM stream reads as an error */
    BIO_free(b);
    b = BIO_new_mem_buf(key, (int)keylen);
    EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, pw_cb, (void *)pw) : NULL;
    BIO_free(b);
    if (!pk || SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        ossl_err(why, sizeof why);
        snprintf(err, errlen, "ssl keystore: no usable private key (wrong ssl.key.password?): %s",
                 why);
        EVP_PKEY_free(pk);
        return BK_EINVAL;
    }
    EVP_PKEY_free(pk);
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
        if (n > 16 * 1024 * 1024) { /* not a key store */
            free(buf);
            fclose(f);
            return NULL;
        }
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

static int load_trust(SSL_CTX *ctx, const char *pem, size_t len, char *err, size_t errlen)
{
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    int n = 0;
    X509 *x;
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (X509_STORE_add_cert(st, x) == 1)
            n++;
        X509_NAME *nm = names ? X509_NAME_dup(X509_get_subject_name(x)) : NULL;
        if (nm && sk_X509_NAME_push(names, nm) <= 0)
            X509_NAME_free(nm);
        X509_free(x);
    }
    ERR_clear_error();
    BIO_free(b);
    if (names)
        SSL_CTX_set_client_CA_list(ctx, names); /* takes ownership */
    if (n == 0) {
        snprintf(err, errlen, "ssl truststore: no certificate found");
        return BK_EINVAL;
    }
    return 0;
}

/* An empty value counts as not given (Kafka's null). */
static const char *opt(const char *v)
{
    return v && v[0] ? v : NULL;
}

bk_tls_ctx *bk_tls_ctx_new(const bk_config *cfg, bool sasl, char *err, size_t errlen)
{
    if ((cfg->ssl_keystore_type && strcasecmp(cfg->ssl_keystore_type, "PEM") != 0) ||
        (cfg->ssl_truststore_type && strcasecmp(cfg->ssl_truststore_type, "PEM") != 0)) {
        snprintf(err, errlen, "ssl.keystore.type and ssl.truststore.type must be PEM");
        return NULL;
    }
    bk_tls_ctx *x = calloc(1, sizeof *x);
    if (!x || !(x->ctx = SSL_CTX_new(TLS_server_method()))) {
        free(x);
        snprintf(err, errlen, "out of memory for the TLS context");
        return NULL;
    }
    SSL_CTX *ctx = x->ctx;
    char *chain = NULL, *trust = NULL;
    size_t chainlen = 0, trustlen = 0;

    /* versions: the enabled list bounds min and max */
    int minv = 0, maxv = 0;
    for (int i = 0; i < cfg->ssl_enabled_protocols.n; i++) {
        int v = proto_version(cfg->ssl_enabled_protocols.v[i]);
        if (!v) {
            snprintf(err, errlen, "ssl.enabled.protocols: %s is not supported (TLSv1.2, TLSv1.3)",
                     cfg->ssl_enabled_protocols.v[i]);
            goto fail;
        }
        if (!minv || v < minv)
            minv = v;
        if (v > maxv)
            maxv = v;
    }
    if (!minv)
        minv = TLS1_2_VERSION, maxv = TLS1_3_VERSION;
    if (cfg->ssl_protocol && !proto_version(cfg->ssl_protocol)) {
        snprintf(err, errlen, "ssl.protocol: %s is not supported (TLSv1.2, TLSv1.3)",
                 cfg->ssl_protocol);
        goto fail;
    }
    SSL_CTX_set_min_proto_version(ctx, minv);
    SSL_CTX_set_max_proto_version(ctx, maxv);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    static const unsigned char sid[] = "brook";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);

    if (opt(cfg->ssl_keystore_location)) {
        chain = slurp(cfg->ssl_keystore_location, &chainlen);
        if (!chain) {
            snprintf(err, errlen, "ssl.keystore.location %s: cannot read: %s",
                     cfg->ssl_keystore_location, strerror(errno ? errno : ENOMEM));
            goto fail;
        }
        if (load_keystore(ctx, chain, chainlen, chain, chainlen, cfg->ssl_key_password, err,
                          errlen) != 0)
            goto fail;
    } else if (opt(cfg->ssl_keystore_certificate_chain) && opt(cfg->ssl_keystore_key)) {
        if (load_keystore(ctx, cfg->ssl_keystore_certificate_chain,
                          strlen(cfg->ssl_keystore_certificate_chain), cfg->ssl_keystore_key,
                          strlen(cfg->ssl_keystore_key), cfg->ssl_key_password, err, errlen) != 0)
            goto fail;
    } else {
        snprintf(err, errlen,
                 "an SSL listener needs ssl.keystore.location or ssl.keystore.certificate.chain "
                 "and ssl.keystore.key");
        goto fail;
    }

    const char *auth = cfg->ssl_client_auth && !sasl ? cfg->ssl_client_auth : "none";
    bool want_trust = strcasecmp(auth, "none") != 0;
    if (opt(cfg->ssl_truststore_location)) {
        trust = slurp(cfg->ssl_truststore_location, &trustlen);
        if (!trust) {
            snprintf(err, errlen, "ssl.truststore.location %s: cannot read: %s",
                     cfg->ssl_truststore_location, strerror(errno ? errno : ENOMEM));
            goto fail;
        }
        if (load_trust(ctx, trust, trustlen, err, errlen) != 0)
            goto fail;
    } else if (opt(cfg->ssl_truststore_certificates)) {
        if (load_trust(ctx, cfg->ssl_truststore_certificates,
                       strlen(cfg->ssl_truststore_certificates), err, errlen) != 0)
            goto fail;
    } else if (want_trust) {
        snprintf(err, errlen,
                 "ssl.client.auth=%s needs ssl.truststore.location or "
                 "ssl.truststore.certificates",
                 auth);
        goto fail;
    }
    if (strcasecmp(auth, "required") == 0)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    else if (strcasecmp(auth, "requested") == 0)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    else
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    free(chain);
    free(trust);
    return x;

fail:
    free(chain);
    free(trust);
    bk_tls_ctx_free(x);
    return NULL;
}

bk_tls_ctx *bk_tls_client_ctx_new(const bk_config *cfg, char *err, size_t errlen)
{
    if ((cfg->ssl_keystore_type && strcasecmp(cfg->ssl_keystore_type, "PEM") != 0) ||
        (cfg->ssl_truststore_type && strcasecmp(cfg->ssl_truststore_type, "PEM") != 0)) {
        snprintf(err, errlen, "ssl.keystore.type and ssl.truststore.type must be PEM");
        return NULL;
    }
    bk_tls_ctx *x = calloc(1, sizeof *x);
    if (!x || !(x->ctx = SSL_CTX_new(TLS_client_method()))) {
        free(x);
        snprintf(err, errlen, "out of memory for the TLS client context");
        return NULL;
    }
    SSL_CTX *ctx = x->ctx;
    char *chain = NULL, *trust = NULL;
    size_t chainlen = 0, trustlen = 0;
    int minv = 0, maxv = 0;
    for (int i = 0; i < cfg->ssl_enabled_protocols.n; i++) {
        int v = proto_version(cfg->ssl_enabled_protocols.v[i]);
        if (!v) {
            snprintf(err, errlen, "ssl.enabled.protocols: %s is not supported (TLSv1.2, TLSv1.3)",
                     cfg->ssl_enabled_protocols.v[i]);
            goto fail;
        }
        if (!minv || v < minv)
            minv = v;
        if (v > maxv)
            maxv = v;
    }
    if (!minv)
        minv = TLS1_2_VERSION, maxv = TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(ctx, minv);
    SSL_CTX_set_max_proto_version(ctx, maxv);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (opt(cfg->ssl_keystore_location)) {
        chain = slurp(cfg->ssl_keystore_location, &chainlen);
        if (!chain) {
            snprintf(err, errlen, "ssl.keystore.location %s: cannot read: %s",
                     cfg->ssl_keystore_location, strerror(errno ? errno : ENOMEM));
            goto fail;
        }
        if (load_keystore(ctx, chain, chainlen, chain, chainlen, cfg->ssl_key_password, err,
                          errlen) != 0)
            goto fail;
    } else if (opt(cfg->ssl_keystore_certificate_chain) && opt(cfg->ssl_keystore_key)) {
        if (load_keystore(ctx, cfg->ssl_keystore_certificate_chain,
                          strlen(cfg->ssl_keystore_certificate_chain), cfg->ssl_keystore_key,
                          strlen(cfg->ssl_keystore_key), cfg->ssl_key_password, err, errlen) != 0)
            goto fail;
    }
    if (opt(cfg->ssl_truststore_location)) {
        trust = slurp(cfg->ssl_truststore_location, &trustlen);
        if (!trust) {
            snprintf(err, errlen, "ssl.truststore.location %s: cannot read: %s",
                     cfg->ssl_truststore_location, strerror(errno ? errno : ENOMEM));
            goto fail;
        }
        if (load_trust(ctx, trust, trustlen, err, errlen) != 0)
            goto fail;
    } else if (opt(cfg->ssl_truststore_certificates)) {
        if (load_trust(ctx, cfg->ssl_truststore_certificates,
                       strlen(cfg->ssl_truststore_certificates), err, errlen) != 0)
            goto fail;
    } else {
        snprintf(err, errlen,
                 "TLS between brokers needs ssl.truststore.location or "
                 "ssl.truststore.certificates (the CA of the other brokers' certificates)");
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    const char *alg = opt(cfg->ssl_endpoint_identification_algorithm);
    if (alg && strcasecmp(alg, "https") != 0) {
        snprintf(err, errlen, "ssl.endpoint.identification.algorithm must be https or empty");
        goto fail;
    }
    x->verify_host = alg != NULL;
    free(chain);
    free(trust);
    return x;

fail:
    free(chain);
    free(trust);
    bk_tls_ctx_free(x);
    return NULL;
}

bk_tls *bk_tls_client_new(bk_tls_ctx *x, int fd, const char *host)
{
    SSL *s = SSL_new(x->ctx);
    if (!s)
        return NULL;
    if (SSL_set_fd(s, fd) != 1) {
        SSL_free(s);
        return NULL;
    }
    if (host && host[0]) {
        unsigned char ip[16];
        bool numeric = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
        if (!numeric)
            (void)SSL_set_tlsext_host_name(s, host); /* SNI */
        if (x->verify_host &&
            (numeric ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), host) != 1
                     : SSL_set1_host(s, host) != 1)) {
            SSL_free(s);
            return NULL;
        }
    }
    SSL_set_connect_state(s);
    return (bk_tls *)s;
}

void bk_tls_ctx_free(bk_tls_ctx *x)
{
    if (!x)
        return;
    SSL_CTX_free(x->ctx);
    free(x);
}

bk_tls *bk_tls_new(bk_tls_ctx *x, int fd)
{
    SSL *s = SSL_new(x->ctx);
    if (!s)
        return NULL;
    if (SSL_set_fd(s, fd) != 1) {
        SSL_free(s);
        return NULL;
    }
    SSL_set_accept_state(s);
    return (bk_tls *)s;
}

void bk_tls_free(bk_tls *t)
{
    if (t)
        SSL_free((SSL *)t);
}

/* Map an SSL_* result: BK_EAGAIN with *want, 0 = clean close, BK_EIO. */
static int classify(SSL *s, int r, uint32_t *want)
{
    int e = SSL_get_error(s, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want = BK_EV_READ;
        return BK_EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want = BK_EV_WRITE;
        return BK_EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == EINTR || errno == EAGAIN) {
            *want = BK_EV_READ;
            return BK_EAGAIN;
        }
        ERR_clear_error();
        return BK_EIO;
    default:
        return BK_EIO;
    }
}

int bk_tls_handshake(bk_tls *t, uint32_t *want, char *why, size_t whylen)
{
    SSL *s = (SSL *)t;
    ERR_clear_error();
    int r = SSL_do_handshake(s);
    if (r == 1)
        return 0;
    int rc = classify(s, r, want);
    if (rc == BK_EAGAIN)
        return rc;
    if (rc == 0)
        snprintf(why, whylen, "TLS handshake: peer closed");
    else
        ossl_err(why, whylen);
    long vr = SSL_get_verify_result(s);
    size_t n = strlen(why);
    if (vr != X509_V_OK && n + 4 < whylen) /* e.g. "hostname mismatch" */
        snprintf(why + n, whylen - n, " (%s)", X509_verify_cert_error_string(vr));
    ERR_clear_error();
    return BK_EIO;
}

ssize_t bk_tls_read(bk_tls *t, void *buf, size_t len, uint32_t *want)
{
    SSL *s = (SSL *)t;
    ERR_clear_error();
    int r = SSL_read(s, buf, (int)BK_MIN(len, (size_t)INT32_MAX));
    if (r > 0)
        return r;
    int rc = classify(s, r, want);
    ERR_clear_error();
    return rc;
}

ssize_t bk_tls_write(bk_tls *t, const void *buf, size_t len, uint32_t *want)
{
    SSL *s = (SSL *)t;
    ERR_clear_error();
    int r = SSL_write(s, buf, (int)BK_MIN(len, (size_t)INT32_MAX));
    if (r > 0)
        return r;
    int rc = classify(s, r, want);
    ERR_clear_error();
    return rc == 0 ? BK_EIO : rc;
}

size_t bk_tls_pending(bk_tls *t)
{
    return (size_t)SSL_pending((SSL *)t);
}

bool bk_tls_peer_principal(bk_tls *t, char *buf, size_t len)
{
    SSL *s = (SSL *)t;
    X509 *peer = SSL_get1_peer_certificate(s);
    if (!peer)
        return false;
    bool ok = false;
    if (SSL_get_verify_result(s) == X509_V_OK) {
        BIO *b = BIO_new(BIO_s_mem());
        if (b && X509_NAME_print_ex(b, X509_get_subject_name(peer), 0,
                                    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
            char *p;
            long n = BIO_get_mem_data(b, &p);
            if (n > 0 && (size_t)n + 6 < len) {
                memcpy(buf, "User:", 5);
                memcpy(buf + 5, p, (size_t)n);
                buf[5 + n] = 0;
                ok = true;
            }
        }
        BIO_free(b);
    }
    X509_free(peer);
    return ok;
}

const char *bk_tls_version(bk_tls *t)
{
    return SSL_get_version((SSL *)t);
}
