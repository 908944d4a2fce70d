/*
 * zk.h - an asynchronous ZooKeeper client for the event loop, on top of
 * the multi-threaded C client (libzookeeper_mt).
 *
 * The library runs its own I/O and completion threads. Every completion,
 * watch and session event it reports is copied into a queue (mutex) and
 * an eventfd registered in the loop is poked; the loop drains the queue
 * and runs the user callbacks. So:
 *   - every bk_zk_* call and every callback runs on the loop thread;
 *   - the loop never waits for ZooKeeper (calls only queue a request),
 *     except bk_zk_sync_wait(), meant for start-up, which runs the loop
 *     itself until the answer comes.
 *
 * Results. A completion gets a bk_zk_result whose rc is a ZooKeeper code
 * (ZOK, ZNONODE, ZNODEEXISTS, ZBADVERSION, ZNOTEMPTY, ZCONNECTIONLOSS,
 * ZSESSIONEXPIRED, ZCLOSING, ...); the other fields are borrowed for the
 * duration of the callback. If a request cannot even be queued (no
 * session), the completion still runs, from the loop, with that code:
 * callers have one error path.
 *
 * Watches are one-shot (ZooKeeper semantics): wcb runs once with the
 * event type (ZOO_CREATED_EVENT, ZOO_DELETED_EVENT, ZOO_CHANGED_EVENT,
 * ZOO_CHILD_EVENT) and path; re-register by reading again. Watches die
 * with their session: after BK_ZK_EXPIRED nothing of the old session
 * fires (each such watch's wcb runs once with BK_ZK_WATCH_DROPPED, so its
 * context can be freed), the owner re-reads everything on the new session.
 *
 * Session. scb reports BK_ZK_CONNECTED (first connection and every
 * reconnection within the session), BK_ZK_DISCONNECTED (the library is
 * reconnecting; the session may still be alive, ephemerals stay) and
 * BK_ZK_EXPIRED (ephemerals and watches are gone: call bk_zk_reopen() to
 * start a new session, then re-create ephemerals and re-register).
 *
 * Thread: loop thread, except the internals described above.
 */
#ifndef BK_ZK_H
#define BK_ZK_H

#include "../net/ev.h"

#include <zookeeper/zookeeper.h>

typedef struct bk_zk bk_zk;

enum { BK_ZK_CONNECTED = 1, BK_ZK_DISCONNECTED = 2, BK_ZK_EXPIRED = 3 };

/* The type a watch callback gets when its watch will never fire (its
 * session closed or expired): free the watch's context, nothing else. */
#define BK_ZK_WATCH_DROPPED (-100)

typedef struct bk_zk_result {
    int rc;
    const char *data; /* get: the znode's bytes (NULL if none), len of them */
    int len;
    const struct Stat *stat; /* get, set, exists: NULL when unknown */
    const char *path;        /* create: the created path (sequential suffix included) */
    char *const *kids;       /* get_children: names, nkids of them */
    int nkids;
} bk_zk_result;

typedef void bk_zk_cb(bk_zk *zk, const bk_zk_result *r, void *ud);
typedef void bk_zk_watch_cb(bk_zk *zk, int type, const char *path, void *ud);
typedef void bk_zk_session_cb(bk_zk *zk, int state, void *ud);

/* connect: "host:port[,host:port...][/chroot]". Starts connecting; scb
 * reports the outcome. BK_EINVAL if the library refuses the string. */
int bk_zk_open(bk_zk **out, bk_ev *ev, const char *connect, int session_timeout_ms,
               bk_zk_session_cb *scb, void *ud);
/* Close the session (ephemerals go at once) and free everything. Pending
 * completions run with ZCLOSING before it returns. */
void bk_zk_close(bk_zk *zk);
/* A new session after expiry (the old handle is closed first). */
int bk_zk_reopen(bk_zk *zk);
bool bk_zk_connected(const bk_zk *zk);
/* The session id (0 if none): an ephemeral's ephemeralOwner equals it
 * when this session created it. */
int64_t bk_zk_session_id(const bk_zk *zk);

/* flags: 0, ZOO_EPHEMERAL, ZOO_SEQUENCE or both. Open ACL. */
void bk_zk_create(bk_zk *zk, const char *path, const char *data, int len, int flags, bk_zk_cb *cb,
                  void *ud);
void bk_zk_get(bk_zk *zk, const char *path, bk_zk_watch_cb *wcb, void *wud, bk_zk_cb *cb,
               void *ud);
/* version -1: any. */
void bk_zk_set(bk_zk *zk, const char *path, const char *data, int len, int version, bk_zk_cb *cb,
               void *ud);
void bk_zk_delete(bk_zk *zk, const char *path, int version, bk_zk_cb *cb, void *ud);
void bk_zk_children(bk_zk *zk, const char *path, bk_zk_watch_cb *wcb, void *wud, bk_zk_cb *cb,
                    void *ud);
/* The watch is set whether or not the node exists (ZNONODE). */
void bk_zk_exists(bk_zk *zk, const char *path, bk_zk_watch_cb *wcb, void *wud, bk_zk_cb *cb,
                  void *ud);

/* ------------------------------------------------ start-up (blocking) helpers
 *
 *   bk_zk_sync *s = bk_zk_sync_new();
 *   bk_zk_get(zk, "/cluster/id", NULL, NULL, bk_zk_sync_cb, s);
 *   int rc = bk_zk_sync_wait(zk, s, timeout_ms);   // runs the loop
 *   ... s->data ...
 *   bk_zk_sync_free(s);
 *
 * On timeout (or when the loop is told to stop) rc is ZOPERATIONTIMEOUT
 * and s now belongs to the pending completion: do not touch or free it.
 */
typedef struct bk_zk_sync {
    bool done, abandoned;
    int rc;
    char *data; /* owned, NUL-terminated copy */
    int len;
    struct Stat stat;
    bool has_stat;
    char *path;  /* owned */
    char **kids; /* owned */
    int nkids;
} bk_zk_sync;

bk_zk_sync *bk_zk_sync_new(void);
void bk_zk_sync_cb(bk_zk *zk, const bk_zk_result *r, void *ud);
int bk_zk_sync_wait(bk_zk *zk, bk_zk_sync *s, int64_t timeout_ms);
void bk_zk_sync_free(bk_zk_sync *s);

/* Create path and its missing parents as empty persistent nodes, one
 * request at a time (existing ones are fine). Start-up only. */
int bk_zk_sync_mkdirs(bk_zk *zk, const char *path, int64_t timeout_ms);

/* Wait until connected (start-up): 0, or ZOPERATIONTIMEOUT. */
int bk_zk_wait_connected(bk_zk *zk, int64_t timeout_ms);

#endif
