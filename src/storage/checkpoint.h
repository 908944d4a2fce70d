/*
 * checkpoint.h - Kafka's small text files, written atomically.
 *
 * Offset checkpoints (recovery-point-offset-checkpoint,
 * log-start-offset-checkpoint, replication-offset-checkpoint in each log
 * directory), Kafka's CheckpointFile format:
 *
 *   line 1   version          "0"
 *   line 2   entry count      "N"
 *   N lines  "<topic> <partition> <offset>"
 *
 * leader-epoch-checkpoint (one per partition): same frame, entries
 * "<epoch> <start offset>".
 *
 * Every write goes to <path>.tmp, is fsynced, renamed over <path>, and the
 * directory is fsynced, so a crash leaves either the old or the new file.
 * Readers reject a file whose header or any line does not parse
 * (BK_ECORRUPT) and report a missing file as BK_ENOENT.
 */
#ifndef BK_CHECKPOINT_H
#define BK_CHECKPOINT_H

#include "../core/err.h"

typedef struct bk_ckpt_tpo {
    char *topic; /* owned */
    int32_t partition;
    int64_t offset;
} bk_ckpt_tpo;

typedef struct bk_ckpt_epoch {
    int32_t epoch;
    int64_t start_offset;
} bk_ckpt_epoch;

/* Replace path with exactly len bytes of data, durably. */
int bk_ckpt_write_file(const char *path, const void *data, size_t len);

int bk_ckpt_write_offsets(const char *path, const bk_ckpt_tpo *e, int n);
/* OUT: *e (malloc'd array, free with bk_ckpt_free_offsets), *n. */
int bk_ckpt_read_offsets(const char *path, bk_ckpt_tpo **e, int *n);
void bk_ckpt_free_offsets(bk_ckpt_tpo *e, int n);

int bk_ckpt_write_epochs(const char *path, const bk_ckpt_epoch *e, int n);
int bk_ckpt_read_epochs(const char *path, bk_ckpt_epoch **e, int *n);

#endif
