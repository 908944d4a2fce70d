/* meta_props.c - see meta_props.h. */
#include "meta_props.h"

#include "../core/err.h"
#include "../core/log.h"
#include "../core/uuid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define META_FILE "meta.properties"

/* ------------------------------------------------------------- cluster id */

void bk_random_cluster_id(char out[23])
{
    uint8_t id[16];
    bk_uuid_random(id);
    bk_uuid_encode(id, out);
}

/* ------------------------------------------------------------------ file */

typedef struct read_ctx {
    bk_meta_props *mp;
    const char *path;
    char *err;
    size_t errlen;
} read_ctx;

static int parse_int(const char *s, int32_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < INT32_MIN || v > INT32_MAX)
        return BK_EINVAL;
    *out = (int32_t)v;
    return 0;
}

static int read_cb(void *ud, const char *key, const char *value, int lineno)
{
    read_ctx *rc = ud;
    int32_t v;
    if (strcmp(key, "version") == 0) {
        if (parse_int(value, &v) != 0 || v < 0 || v > 1) {
            snprintf(rc->err, rc->errlen, "%s:%d: unsupported version '%s'", rc->path, lineno,
                     value);
            return BK_EINVAL;
        }
        rc->mp->version = v;
    } else if (strcmp(key, "broker.id") == 0 || strcmp(key, "node.id") == 0) {
        if (parse_int(value, &v) != 0 || v < 0) {
            snprintf(rc->err, rc->errlen, "%s:%d: bad %s '%s'", rc->path, lineno, key, value);
            return BK_EINVAL;
        }
        rc->mp->broker_id = v;
    } else if (strcmp(key, "cluster.id") == 0) {
        if (strlen(value) >= sizeof rc->mp->cluster_id || !*value) {
            snprintf(rc->err, rc->errlen, "%s:%d: bad cluster.id '%s'", rc->path, lineno, value);
            return BK_EINVAL;
        }
        snprintf(rc->mp->cluster_id, sizeof rc->mp->cluster_id, "%s", value);
    }
    /* Other keys (directory.id of newer Kafka) are not ours to judge. */
    return 0;
}

int bk_meta_props_read(const char *dir, bk_meta_props *mp, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, META_FILE);
    memset(mp, 0, sizeof *mp);
    mp->broker_id = -1;
    mp->version = -1;

    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return BK_ENOENT;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return BK_EIO;
    }
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    bool big = n == sizeof buf, bad = ferror(f);
    fclose(f);
    if (bad || big) {
        snprintf(err, errlen, "cannot read %s: %s", path, big ? "file too large" : "I/O error");
        return BK_EIO;
    }
    read_ctx ctx = {mp, path, err, errlen};
    int rc = bk_props_parse(buf, n, read_cb, &ctx);
    if (rc != 0)
        return rc == BK_ENOMEM ? BK_ENOMEM : BK_EINVAL;
    if (mp->version < 0 || !mp->cluster_id[0]) {
        snprintf(err, errlen, "%s: missing %s", path, mp->version < 0 ? "version" : "cluster.id");
        return BK_EINVAL;
    }
    return 0;
}

int bk_meta_props_write(const char *dir, const bk_meta_props *mp, char *err, size_t errlen)
{
    char path[4096], tmp[4200], text[512], date[64];
    snprintf(path, sizeof path, "%s/%s", dir, META_FILE);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &tm);
    int len = snprintf(text, sizeof text, "#\n#%s\nversion=0\nbroker.id=%d\ncluster.id=%s\n", date,
                       mp->broker_id, mp->cluster_id);

    /* New content goes to a temporary file that replaces the old one only
     * once it is on disk, so a crash leaves either file, never half of one. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return BK_EIO;
    }
    bool ok = write(fd, text, (size_t)len) == len && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            e = errno;
        unlink(tmp);
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
        return BK_EIO;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd != -1) {
        (void)fsync(dfd); /* make the rename durable; best effort */
        close(dfd);
    }
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char p[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p) {
        snprintf(err, errlen, "bad log directory '%s'", dir);
        return BK_EINVAL;
    }
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create log directory %s: %s", p, strerror(errno));
            return BK_EIO;
        }
        p[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "log directory %s is not a directory", dir);
        return BK_EIO;
    }
    return 0;
}

/* -------------------------------------------------------------- identity */

int bk_meta_identity(const bk_config *cfg, int32_t *node_id, char *cluster_id,
                     size_t cluster_id_len, char *err, size_t errlen)
{
    int ndirs = cfg->log_dirs.n;
    bool *have = calloc((size_t)ndirs, sizeof *have);
    if (!have)
        return BK_ENOMEM;
    int rc = 0;
    bk_meta_props found = {.version = -1, .broker_id = -1};
    const char *found_in = NULL;

    for (int i = 0; i < ndirs && rc == 0; i++) {
        const char *dir = cfg->log_dirs.v[i];
        if ((rc = make_dirs(dir, err, errlen)) != 0)
            break;
        bk_meta_props mp;
        rc = bk_meta_props_read(dir, &mp, err, errlen);
        if (rc == BK_ENOENT) {
            rc = 0;
            continue;
        }
        if (rc != 0)
            break;
        have[i] = true;
        if (!found_in) {
            found = mp;
            found_in = dir;
        } else if (strcmp(found.cluster_id, mp.cluster_id) != 0 ||
                   found.broker_id != mp.broker_id) {
            snprintf(err, errlen,
                     "inconsistent meta.properties: %s has broker.id=%d cluster.id=%s, %s has "
                     "broker.id=%d cluster.id=%s",
                     found_in, found.broker_id, found.cluster_id, dir, mp.broker_id, mp.cluster_id);
            rc = BK_EINVAL;
        }
    }
    if (rc != 0)
        goto out;

    int32_t id = cfg->broker_id;
    if (found_in && found.broker_id >= 0 && id >= 0 && id != found.broker_id) {
        snprintf(err, errlen,
                 "configured broker.id %d doesn't match stored broker.id %d in %s/" META_FILE
                 "; if you moved your data, make sure your configured broker.id matches",
                 id, found.broker_id, found_in);
        rc = BK_EINVAL;
        goto out;
    }
    if (id < 0)
        id = found_in && found.broker_id >= 0 ? found.broker_id : cfg->reserved_broker_max_id + 1;

    char cid[65];
    if (cfg->cluster_id) {
        if (found_in && strcmp(found.cluster_id, cfg->cluster_id) != 0) {
            snprintf(err, errlen,
                     "the cluster id %s doesn't match stored cluster id %s in %s/" META_FILE
                     "; the broker is trying to join the wrong cluster",
                     cfg->cluster_id, found.cluster_id, found_in);
            rc = BK_EINVAL;
            goto out;
        }
        snprintf(cid, sizeof cid, "%s", cfg->cluster_id);
    } else if (found_in) {
        snprintf(cid, sizeof cid, "%s", found.cluster_id);
    } else {
        bk_random_cluster_id(cid);
        bk_log(BK_LOG_INFO, "no meta.properties found; new cluster id %s", cid);
    }

    bk_meta_props mine = {.version = 0, .broker_id = id};
    snprintf(mine.cluster_id, sizeof mine.cluster_id, "%s", cid);
    for (int i = 0; i < ndirs && rc == 0; i++)
        if (!have[i])
            rc = bk_meta_props_write(cfg->log_dirs.v[i], &mine, err, errlen);
    if (rc == 0) {
        *node_id = id;
        snprintf(cluster_id, cluster_id_len, "%s", cid);
    }
out:
    free(have);
    return rc;
}
