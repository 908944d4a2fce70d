/*
 * sasl_gssapi.c - see sasl_gssapi.h.
 *
 * Cyrus SASL is configured through callbacks, never through a file in
 * /etc/sasl2: SASL_CB_GETOPT answers mech_list=GSSAPI (no other plugin is
 * offered) and keytab=<the JAAS keyTab> (Debian's gssapiv2 plugin hands it
 * to krb5_gss_register_acceptor_identity at sasl_server_init), and
 * SASL_CB_LOG routes Cyrus's messages to the broker log.
 */
#include "sasl_gssapi.h"

#include "../core/log.h"

#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct bk_gssapi {
    sasl_conn_t *conn;
    bool started;
};

static struct {
    bool ok;
    char service[128];
    char host[256];
    char keytab[1024];
    char realm[256]; /* of the broker's principal */
} g_gss;

/* ------------------------------------------------------------ JAAS text */

/* The value of option name (name=value or name="value") in s. */
static bool jaas_opt(const char *s, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = s; (p = strstr(p, name)) != NULL; p += nl) {
        if (p > s && (p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n' && p[-1] != '\r'))
            continue;
        const char *v = p + nl;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v != '=')
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        const char *end;
        if (*v == '"') {
            v++;
            end = strchr(v, '"');
            if (!end)
                return false;
        } else {
            end = v + strcspn(v, " \t\r\n;");
        }
        size_t l = (size_t)(end - v);
        if (l == 0 || l >= cap)
            return false;
        memcpy(out, v, l);
        out[l] = '\0';
        return true;
    }
    return false;
}

int bk_gssapi_jaas_parse(const char *jaas, char *keytab, size_t kcap, char *principal,
                         size_t pcap, char *err, size_t errlen)
{
    if (!jaas || !strstr(jaas, "Krb5LoginModule")) {
        snprintf(err, errlen, "no com.sun.security.auth.module.Krb5LoginModule entry");
        return -1;
    }
    if (!jaas_opt(jaas, "keyTab", keytab, kcap)) {
        snprintf(err, errlen, "Krb5LoginModule entry without keyTab=\"...\"");
        return -1;
    }
    if (!jaas_opt(jaas, "principal", principal, pcap)) {
        snprintf(err, errlen, "Krb5LoginModule entry without principal=\"...\"");
        return -1;
    }
    return 0;
}

void bk_gssapi_short_name(const char *full, char *out, size_t cap)
{
    size_t n = strcspn(full, "/@");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, full, n);
    out[n] = '\0';
}

/* ---------------------------------------------------------- Cyrus glue */

static int cb_getopt(void *ctx, const char *plugin, const char *option, const char **result,
                     unsigned *len)
{
    (void)ctx;
    const char *v = NULL;
    if (strcmp(option, "mech_list") == 0)
        v = "GSSAPI";
    else if (strcmp(option, "keytab") == 0 && g_gss.keytab[0])
        v = g_gss.keytab;
    else if (strcmp(option, "log_level") == 0)
        v = "3"; /* SASL_LOG_WARN */
    (void)plugin;
    if (!v)
        return SASL_FAIL;
    *result = v;
    if (len)
        *len = (unsigned)strlen(v);
    return SASL_OK;
}

static int cb_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level <= SASL_LOG_ERR)
        bk_log_rl(BK_LOG_WARN, "cyrus sasl: %s", msg ? msg : "");
    else if (level <= SASL_LOG_NOTE)
        bk_log_rl(BK_LOG_INFO, "cyrus sasl: %s", msg ? msg : "");
    else
        bk_log(BK_LOG_DEBUG, "cyrus sasl: %s", msg ? msg : "");
    return SASL_OK;
}

typedef int (*cb_fn)(void);
static const sasl_callback_t g_callbacks[] = {
    {SASL_CB_GETOPT, (cb_fn)(void (*)(void))cb_getopt, NULL},
    {SASL_CB_LOG, (cb_fn)(void (*)(void))cb_log, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

bool bk_gssapi_global_init(const char *service, const char *jaas, char *err, size_t errlen)
{
    static bool tried;
    if (tried) {
        if (!g_gss.ok)
            snprintf(err, errlen, "initialization failed earlier");
        return g_gss.ok;
    }
    tried = true;
    char principal[512];
    if (bk_gssapi_jaas_parse(jaas, g_gss.keytab, sizeof g_gss.keytab, principal,
                             sizeof principal, err, errlen) != 0)
        return false;
    if (access(g_gss.keytab, R_OK) != 0) {
        snprintf(err, errlen, "keytab %s is not readable", g_gss.keytab);
        return false;
    }
    /* principal "service/host@REALM": the host is the acceptor's FQDN */
    const char *slash = strchr(principal, '/');
    if (!slash) {
        snprintf(err, errlen, "principal %s has no host part (service/host@REALM)", principal);
        return false;
    }
    size_t pl = (size_t)(slash - principal);
    if (strlen(service) >= sizeof g_gss.service) {
        snprintf(err, errlen, "sasl.kerberos.service.name too long");
        return false;
    }
    if (pl != strlen(service) || memcmp(principal, service, pl) != 0)
        bk_log(BK_LOG_WARN,
               "GSSAPI: principal %s does not start with sasl.kerberos.service.name %s; "
               "clients must use the service name %s",
               principal, service, service);
    snprintf(g_gss.service, sizeof g_gss.service, "%s", service);
    size_t hl = strcspn(slash + 1, "@");
    if (hl == 0 || hl >= sizeof g_gss.host) {
        snprintf(err, errlen, "principal %s: bad host part", principal);
        return false;
    }
    memcpy(g_gss.host, slash + 1, hl);
    g_gss.host[hl] = '\0';
    const char *at = strchr(slash + 1, '@');
    if (!at || !at[1] || strlen(at + 1) >= sizeof g_gss.realm) {
        snprintf(err, errlen, "principal %s: no realm (service/host@REALM)", principal);
        return false;
    }
    snprintf(g_gss.realm, sizeof g_gss.realm, "%s", at + 1);
    int rc = sasl_server_init(g_callbacks, "brook");
    if (rc != SASL_OK) {
        snprintf(err, errlen, "sasl_server_init: %s", sasl_errstring(rc, NULL, NULL));
        return false;
    }
    g_gss.ok = true;
    bk_log(BK_LOG_INFO, "SASL/GSSAPI: acceptor %s/%s, keytab %s", g_gss.service, g_gss.host,
           g_gss.keytab);
    return true;
}

bool bk_gssapi_available(void)
{
    return g_gss.ok;
}

bk_gssapi *bk_gssapi_new(void)
{
    if (!g_gss.ok)
        return NULL;
    bk_gssapi *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    int rc = sasl_server_new(g_gss.service, g_gss.host, NULL, NULL, NULL, NULL, 0, &g->conn);
    if (rc != SASL_OK) {
        bk_log_rl(BK_LOG_WARN, "sasl_server_new: %s", sasl_errstring(rc, NULL, NULL));
        free(g);
        return NULL;
    }
    sasl_security_properties_t sp = {0};
    sp.min_ssf = 0;
    sp.max_ssf = 0; /* no security layer: TLS does that */
    sp.maxbufsize = 0;
    if (sasl_setprop(g->conn, SASL_SEC_PROPS, &sp) != SASL_OK) {
        sasl_dispose(&g->conn);
        free(g);
        return NULL;
    }
    return g;
}

void bk_gssapi_free(bk_gssapi *g)
{
    if (!g)
        return;
    if (g->conn)
        sasl_dispose(&g->conn);
    free(g);
}

int bk_gssapi_step(bk_gssapi *g, const uint8_t *in, size_t len, const uint8_t **out,
                   size_t *outlen, char *full, size_t fullcap, char *err, size_t errlen)
{
    const char *o = NULL;
    unsigned ol = 0;
    if (len > 65536) {
        snprintf(err, errlen, "GSSAPI token too large");
        return -1;
    }
    int rc;
    if (!g->started) {
        g->started = true;
        rc = sasl_server_start(g->conn, "GSSAPI", (const char *)in, (unsigned)len, &o, &ol);
    } else {
        rc = sasl_server_step(g->conn, (const char *)in, (unsigned)len, &o, &ol);
    }
    *out = (const uint8_t *)(o ? o : "");
    *outlen = o ? ol : 0;
    if (rc == SASL_CONTINUE)
        return 1;
    if (rc != SASL_OK) {
        const char *d = sasl_errdetail(g->conn);
        snprintf(err, errlen, "%s", d ? d : sasl_errstring(rc, NULL, NULL));
        return -1;
    }
    const void *user = NULL;
    if (sasl_getprop(g->conn, SASL_AUTHUSER, &user) != SASL_OK || !user ||
        !((const char *)user)[0]) {
        snprintf(err, errlen, "no authenticated user");
        return -1;
    }
    /* Cyrus strips the realm when it is the acceptor's own (the default
     * realm); Kafka's DEFAULT rule maps only that realm, so does Brook */
    const char *u = user, *at = strchr(u, '@');
    if (at && strcmp(at + 1, g_gss.realm) != 0) {
        snprintf(err, errlen, "no principal.to.local rule for %s (realm is not %s)", u,
                 g_gss.realm);
        return -1;
    }
    if (at)
        snprintf(full, fullcap, "%s", u);
    else
        snprintf(full, fullcap, "%s@%s", u, g_gss.realm);
    return 0;
}
