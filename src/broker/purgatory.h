/*
 * purgatory.h - requests that wait for something to happen on partitions
 * (Kafka's DelayedOperationPurgatory): a Fetch waiting for MinBytes of new
 * data, and - with replication - a Produce (acks=-1) waiting for the high
 * watermark to reach its last offset.
 *
 * Model. A delayed operation (bk_delayed) belongs to one deferred request
 * (conn.h: the handler returned BK_EAGAIN). It is parked with a deadline
 * and a set of partitions to watch. Three things end it, all through the
 * op's complete() callback, which must answer the request and call
 * bk_req_done():
 *   - a wake-up: bk_purgatory_notify() on a watched partition calls the
 *     op's on_event(); when that says "satisfied" the op completes;
 *   - the deadline: it completes with whatever is there;
 *   - cancellation (its connection failed) or shutdown.
 * complete() never runs inside the caller of notify/cancel: those only
 * re-arm the op's timer to "now", and the loop fires it after the current
 * batch of I/O callbacks. So a Produce handler that wakes a Fetch never
 * re-enters another connection's request handling, and a woken Fetch is
 * answered in the same loop iteration as the Produce that woke it.
 *
 * Memory. Nothing here allocates per request: the bk_delayed and its watch
 * nodes live in the deferred request's arena, which stays put until
 * bk_req_done(). Per partition there is one bk_watchers list, reached
 * through bk_partition.waiters and owned by the purgatory (registry below).
 *
 * Why the registry. A bk_partition may move (CreatePartitions reallocates
 * the array) or vanish (DeleteTopics) while operations watch it. Watch
 * nodes therefore point at the bk_watchers list, never at the partition,
 * and a list is only freed by bk_purgatory_gc() once nobody watches it AND
 * its partition no longer refers to it (looked up again by name). A
 * deleted partition's waiting fetches stay parked on the orphaned list
 * until their deadline and then answer UNKNOWN_TOPIC_OR_PARTITION, which
 * is what Kafka's DelayedFetch does.
 *
 * Thread: loop thread.
 */
#ifndef BK_PURGATORY_H
#define BK_PURGATORY_H

#include "../cluster/topics.h"
#include "../net/ev.h"

/* What happened on a partition (bk_purgatory_notify). */
enum {
    BK_WAKE_DATA = 0x1, /* records were appended */
    BK_WAKE_HW = 0x2,   /* the high watermark moved (single node: with every append) */
    BK_WAKE_FLUSH = 0x4 /* a flush of the partition's log completed */
};

/* What a parked op is, for kafka_server_delayedoperationpurgatory_purgatorysize. */
enum { BK_DELAYED_OTHER = 0, BK_DELAYED_PRODUCE = 1, BK_DELAYED_FETCH = 2 };

typedef struct bk_purgatory bk_purgatory;
typedef struct bk_delayed bk_delayed;
typedef struct bk_watch bk_watch;
typedef struct bk_watchers bk_watchers;

/* One partition's waiting operations (owned by the purgatory). */
struct bk_watchers {
    bk_watch *head; /* borrowed nodes of parked ops */
    int n;
    char *topic; /* owned: for bk_purgatory_gc() */
    int32_t index;
    bk_watchers *reg_prev, *reg_next; /* the purgatory's registry */
};

/* An op's membership in one partition's list. Embedded in the op's memory. */
struct bk_watch {
    bk_watch *prev, *next;
    bk_watchers *list; /* NULL when not linked */
    bk_delayed *op;
};

struct bk_delayed {
    bk_purgatory *pg; /* set by park */
    bk_ev_timer timer;
    bk_watch *watch; /* borrowed: nwatch nodes */
    int nwatch;
    unsigned wants; /* BK_WAKE_* this op reacts to */
    bool parked;
    bool completing;         /* the timer was moved to "now" */
    uint8_t kind;            /* BK_DELAYED_*: PurgatorySize by operation (metrics) */
    bk_delayed *prev, *next; /* the purgatory's parked list */

    /* A wake-up on partition p (with `bytes` appended, for DATA): return
     * true when the op can complete now. Must not complete it itself. */
    bool (*on_event)(bk_delayed *d, unsigned what, uint64_t bytes);
    /* Finish: answer (unless the connection is closing) and bk_req_done().
     * `expired` tells a deadline from a wake-up. The op is unparked first. */
    void (*complete)(bk_delayed *d, bool expired);
};

struct bk_purgatory {
    bk_ev *ev;          /* borrowed */
    bk_delayed *parked; /* borrowed: parked ops (intrusive list) */
    int nparked;
    bk_watchers *lists; /* owned: every bk_watchers ever attached */
    int nlists;
    int64_t next_gc_ms;
    uint64_t completed; /* counters for tests and metrics */
    uint64_t expired;
};

void bk_purgatory_init(bk_purgatory *pg, bk_ev *ev);
/* Complete every parked op (as expired), then free the lists and detach
 * them from the partitions of topics (may be NULL) that still exist. */
void bk_purgatory_fini(bk_purgatory *pg, bk_topics *topics);

/*
 * Park op d until deadline (monotonic ms), watching parts[0..n) with the
 * caller's nodes[0..n) (arena memory that outlives the park). on_event and
 * complete must be set. 0, or BK_ENOMEM (nothing parked: answer now).
 */
int bk_delayed_park(bk_purgatory *pg, bk_delayed *d, int64_t deadline, bk_partition *const *parts,
                    bk_watch *nodes, int n);

/* Complete d from the loop as soon as possible (see above). */
void bk_delayed_complete_soon(bk_delayed *d);

/* Something happened on p: wake the ops watching it that want it. */
void bk_purgatory_notify(bk_purgatory *pg, bk_partition *p, unsigned what, uint64_t bytes);

/* Complete every parked op now, on the calling thread (shutdown). */
void bk_purgatory_complete_all(bk_purgatory *pg);

/* Free unwatched lists whose partition is gone (at most once a second). */
void bk_purgatory_gc(bk_purgatory *pg, bk_topics *topics, int64_t now_ms);

#endif
