/*
 * coord.h - the group coordinator (Kafka's classic GroupCoordinator and
 * GroupMetadataManager): consumer groups, their members and rebalances,
 * and the committed offsets kept in the internal topic __consumer_offsets.
 *
 * Single node: this broker coordinates every group. A group's offsets and
 * metadata are written to partition abs(javaHash(group)) % P of
 * __consumer_offsets (gstore.h has the record formats), in Kafka 3.9's
 * formats, and read back at start-up (bk_coord_load).
 *
 * States (Kafka's GroupState):
 *
 *     Empty --join--> PreparingRebalance --all joined / rebalance timeout-->
 *     CompletingRebalance --leader's SyncGroup--> Stable
 *     Stable --join of a new member / leader / changed protocols, leave,
 *              session expiry--> PreparingRebalance
 *     any state --last member gone--> Empty;  DeleteGroups: Dead (removed)
 *
 * Waiting requests. JoinGroup waits until the rebalance completes and
 * SyncGroup (followers) until the leader's assignment arrives. The caller
 * passes a bk_gwait; when the coordinator answers it calls w->on_join or
 * w->on_sync exactly once - synchronously (inside bk_coord_join/_sync, which
 * then return 0) or later (they returned BK_EAGAIN). The results passed to
 * the callbacks are borrowed for the call only: copy them. A parked waiter
 * whose request goes away (connection closed, shutdown) must be detached
 * with bk_coord_unwait() before its memory is reused. Timers (session
 * expiry, rebalance deadlines, the initial rebalance delay) run from
 * bk_coord_tick(), called about every 100 ms.
 *
 * Transactional offsets (TxnOffsetCommit, Kafka's pendingTransactional-
 * OffsetCommits). A group keeps, besides its committed offsets, one set of
 * pending offsets per producer id with a transaction open. Pending offsets
 * are invisible (OffsetFetch, bk_coord_fetch_offset, each_offset, lag) until
 * the producer's marker is appended to the group's __consumer_offsets
 * partition and bk_coord_txn_marker() is called: commit moves each into the
 * committed set unless the committed entry's record is later in the log (a
 * plain OffsetCommit after the TxnOffsetCommit wins), abort drops them.
 * Every offset remembers the log offset of its batch for that comparison.
 * The log is the truth: bk_coord_load() rebuilds the same state from the
 * transactional batches and markers (a transaction without a marker stays
 * pending; its marker comes later through bk_coord_txn_marker()).
 * Deleting: DeleteGroups and OffsetDelete drop pending offsets along with
 * the committed ones (tombstones written so a replay agrees); expiry never
 * removes a group with pending offsets, nor the committed offset of a
 * partition that has one pending.
 *
 * Thread: loop thread.
 */
#ifndef BK_COORD_H
#define BK_COORD_H

#include "../cluster/topics.h"
#include "../core/config.h"

#define BK_OFFSETS_TOPIC "__consumer_offsets"

enum {
    BK_GROUP_EMPTY = 0,
    BK_GROUP_PREPARING_REBALANCE,
    BK_GROUP_COMPLETING_REBALANCE,
    BK_GROUP_STABLE,
    BK_GROUP_DEAD
};
/* "Empty", "PreparingRebalance", ... as Kafka names them. */
const char *bk_group_state_name(int state);

typedef struct bk_coord bk_coord;
typedef struct bk_group bk_group;
typedef struct bk_gmember bk_gmember;
typedef struct bk_gwait bk_gwait;

/* One member as JoinGroup returns it to the leader. Borrowed. */
typedef struct bk_join_member {
    const char *member_id;
    const char *instance_id; /* NULL = none */
    const uint8_t *meta;
    int32_t meta_len;
} bk_join_member;

typedef struct bk_join_out {
    int16_t error;
    int32_t generation;
    const char *protocol_type; /* NULL = null */
    const char *protocol;      /* NULL = null */
    const char *leader;
    const char *member_id;
    bool skip_assignment;
    int nmembers; /* the leader's view; 0 for followers */
    const bk_join_member *members;
} bk_join_out;

typedef struct bk_sync_out {
    int16_t error;
    const char *protocol_type;
    const char *protocol;
    const uint8_t *assignment;
    int32_t assignment_len;
} bk_sync_out;

struct bk_gwait {
    bk_gmember *member; /* set by the coordinator while parked */
    void (*on_join)(bk_gwait *w, const bk_join_out *o);
    void (*on_sync)(bk_gwait *w, const bk_sync_out *o);
    void *ud;
};

typedef struct bk_join_proto {
    const char *name;
    size_t name_len;
    const uint8_t *meta;
    int32_t meta_len;
} bk_join_proto;

typedef struct bk_join_args {
    const char *group;
    size_t group_len;
    const char *member_id; /* "" = unknown */
    size_t member_id_len;
    const char *instance_id; /* NULL = none */
    size_t instance_id_len;
    const char *protocol_type;
    size_t protocol_type_len;
    const char *client_id;
    const char *client_host;
    int32_t session_ms;
    int32_t rebalance_ms;
    bool require_known_member_id;  /* JoinGroup v4+ */
    bool supports_skip_assignment; /* v9+ */
    int nprotos;
    const bk_join_proto *protos;
} bk_join_args;

typedef struct bk_sync_assign {
    const char *member_id;
    size_t member_id_len;
    const uint8_t *assignment;
    int32_t len;
} bk_sync_assign;

/* Partition p of __consumer_offsets got `bytes` appended (wake fetches). */
typedef void bk_coord_append_fn(void *ud, bk_partition *p, uint64_t bytes);

/* topics may be NULL (no storage: offsets are kept in memory only). */
bk_coord *bk_coord_new(const bk_config *cfg, bk_topics *topics, bk_coord_append_fn *fn, void *ud);
/* Every parked waiter must have been detached or answered first. */
void bk_coord_free(bk_coord *co);
/* Read __consumer_offsets (if it exists) and rebuild groups and offsets. */
int bk_coord_load(bk_coord *co);
/* Cluster mode, on becoming leader of __consumer_offsets-idx: drop the
 * in-memory groups of that partition and replay it from its log start. */
int bk_coord_load_partition(bk_coord *co, int32_t idx);
/* On no longer leading it: parked JoinGroup/SyncGroup of its groups are
 * answered NOT_COORDINATOR, then the groups are dropped. */
int bk_coord_unload_partition(bk_coord *co, int32_t idx);
void bk_coord_tick(bk_coord *co, int64_t now_ms);
/* Create __consumer_offsets when missing. 0, or < 0 with *kerr. */
int bk_coord_ensure_topic(bk_coord *co, int16_t *kerr);

/* Java's String.hashCode of a UTF-8 string (over UTF-16 code units). */
int32_t bk_java_string_hash(const char *s, size_t len);
/* Kafka's partitionFor: abs(hash) % nparts, Utils.abs(INT_MIN) = 0. */
int32_t bk_group_partition(const char *group, size_t len, int32_t nparts);
/* The __consumer_offsets partition of a group (its partition count, or
 * offsets.topic.num.partitions while the topic does not exist). */
int32_t bk_coord_partition_for(bk_coord *co, const char *group, size_t glen);

/* ------------------------------------------------------- membership */

int bk_coord_join(bk_coord *co, const bk_join_args *a, bk_gwait *w);
int bk_coord_sync(bk_coord *co, const char *group, size_t glen, int32_t generation,
                  const char *member, size_t mlen, const char *instance, size_t ilen,
                  const char *ptype, size_t ptlen, const char *pname, size_t pnlen,
                  const bk_sync_assign *as, int nas, bk_gwait *w);
void bk_coord_unwait(bk_coord *co, bk_gwait *w);
int16_t bk_coord_heartbeat(bk_coord *co, const char *group, size_t glen, int32_t generation,
                           const char *member, size_t mlen, const char *instance, size_t ilen);
/* One member leaving (member id "" + instance id: by instance id). */
int16_t bk_coord_leave(bk_coord *co, const char *group, size_t glen, const char *member,
                       size_t mlen, const char *instance, size_t ilen);
/* Group-level check for LeaveGroup (UNKNOWN_MEMBER_ID when no such group). */
bool bk_coord_group_exists(bk_coord *co, const char *group, size_t glen);

/* ------------------------------------------------------- offsets */

typedef struct bk_commit_part {
    const char *topic;
    size_t topic_len;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    const char *metadata; /* NULL = "" */
    size_t metadata_len;
    int64_t commit_ts;
    int64_t expire_ts; /* -1 = none (value v3), else value v1 */
    int16_t error;     /* OUT */
} bk_commit_part;

/* Group-level checks, then per-partition errors in parts[i].error. */
/* Where the latest write (the last bk_coord_commit, sync, ...) went: its
 * __consumer_offsets partition and last offset; false if it wrote
 * nothing. Cluster mode answers once that offset is replicated. */
bool bk_coord_last_write(const bk_coord *co, int32_t *partition, int64_t *offset);
void bk_coord_commit(bk_coord *co, const char *group, size_t glen, int32_t generation,
                     const char *member, size_t mlen, const char *instance, size_t ilen,
                     bk_commit_part *parts, int n);

typedef struct bk_offset_info {
    int64_t offset; /* -1 = none */
    int32_t leader_epoch;
    const char *metadata; /* borrowed until the next call that changes the group */
} bk_offset_info;

/* false when nothing is committed (info = -1, -1, ""). */
bool bk_coord_fetch_offset(bk_coord *co, const char *group, size_t glen, const char *topic,
                           size_t tlen, int32_t partition, bk_offset_info *out);
/* Every committed partition of a group: calls fn per entry (sorted by topic).
 */
void bk_coord_each_offset(bk_coord *co, const char *group, size_t glen,
                          void (*fn)(void *ud, const char *topic, int32_t partition,
                                     const bk_offset_info *oi),
                          void *ud);

/* ------------------------------------------------------- transactions */

/*
 * TxnOffsetCommit: offsets committed inside producer pid's transaction.
 * Written to the group's __consumer_offsets partition as a transactional
 * batch (producer id/epoch set, sequence -1) and held as pending offsets
 * of (group, pid): invisible to OffsetFetch until the commit marker
 * arrives (bk_coord_txn_marker), dropped on abort. Group-level checks as
 * Kafka (INVALID_GROUP_ID for ""; generation/member checked only when
 * given - generation >= 0, a member id or an instance id: ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID; any group state is accepted; an
 * unknown group is created Empty when nothing is given;
 * INVALID_PRODUCER_EPOCH when epoch is older than the pending
 * transaction's or the partition's producer state says so;
 * COORDINATOR_NOT_AVAILABLE / NOT_COORDINATOR when the write cannot be
 * done). Parts that come in with an error are skipped; the others get
 * OFFSET_METADATA_TOO_LARGE or the group-level error in parts[i].error.
 * A later commit of the same partition by the same pid replaces the pending
 * value. Returns the group-level error or BK_KERR_NONE.
 */
int16_t bk_coord_txn_commit(bk_coord *co, const char *group, size_t glen, int64_t pid,
                            int16_t epoch, int32_t generation, const char *member, size_t mlen,
                            const char *instance, size_t ilen, bk_commit_part *parts, int n);

/* A transaction marker for producer pid was appended to partition
 * `partition` of __consumer_offsets: make the pending offsets of pid for
 * the groups on that partition visible (commit) or drop them (abort).
 * Call it after the marker is in the log (a load replays it from there). */
void bk_coord_txn_marker(bk_coord *co, int32_t partition, int64_t pid, bool commit);

/* OffsetFetch RequireStable (v7+): does any transaction still hold
 * pending offsets of this group for topic/partition? */
bool bk_coord_offset_pending(bk_coord *co, const char *group, size_t glen, const char *topic,
                             size_t tlen, int32_t partition);

/* ------------------------------------------------------- admin */

typedef struct bk_group_summary {
    const char *group_id;
    const char *state;
    const char *protocol_type; /* "" when none */
    const char *protocol;      /* "" unless Stable */
    int nmembers;
} bk_group_summary;

int bk_coord_ngroups(bk_coord *co);
bk_group *bk_coord_group_at(bk_coord *co, int i);
bk_group *bk_coord_group_get(bk_coord *co, const char *group, size_t glen);
void bk_group_summarize(const bk_group *g, bk_group_summary *s);

typedef struct bk_member_desc {
    const char *member_id;
    const char *instance_id;
    const char *client_id;
    const char *client_host;
    const uint8_t *meta; /* selected protocol's metadata (Stable only) */
    int32_t meta_len;
    const uint8_t *assign;
    int32_t assign_len;
} bk_member_desc;
int bk_group_nmembers(const bk_group *g);
void bk_group_member_desc(const bk_group *g, int i, bk_member_desc *d);
int32_t bk_group_generation(const bk_group *g);

/* DeleteGroups: NONE, GROUP_ID_NOT_FOUND or NON_EMPTY_GROUP. */
int16_t bk_coord_delete_group(bk_coord *co, const char *group, size_t glen);

/* OffsetDelete. Returns the group error; per partition in parts[i].error
 * (only topic/partition of parts are read). */
int16_t bk_coord_delete_offsets(bk_coord *co, const char *group, size_t glen, bk_commit_part *parts,
                                int n);

/* ------------------------------------------------------- lag */

typedef struct bk_lag {
    const char *topic; /* borrowed */
    int32_t partition;
    int64_t committed; /* -1 = none */
    int64_t log_end;   /* high watermark; -1 if the partition's log is not here */
    int64_t lag;       /* log_end - committed (>= 0), or -1 when either is unknown */
    int64_t oldest_ts; /* timestamp (ms) of the oldest unconsumed message
                        * (lag.h); -1 when caught up or not known */
} bk_lag;

/* Per committed partition of the group (sorted by topic, partition).
 * Returns the number of entries, or -1 when the group does not exist.
 * oldest_ts comes from the cache only (no log reads). */
int bk_coord_lag(bk_coord *co, const char *group, size_t glen,
                 void (*fn)(void *ud, const bk_lag *l), void *ud);
/* The same, filling oldest_ts: a partition behind its end whose cached
 * timestamp is not for the current lookup offset costs one batch-header
 * read from its log (lag.h), while *reads > 0 (decremented per read). The
 * cache lives with the committed offset and follows it. */
int bk_coord_lag_ts(bk_coord *co, const char *group, size_t glen, int *reads,
                    void (*fn)(void *ud, const bk_lag *l), void *ud);

#endif
