/*
 * txnindex.h - a segment's aborted-transaction index, <base>.txnindex, in
 * Kafka's TransactionIndex format: entries of 34 bytes, big-endian,
 * appended in marker (last offset) order, no header:
 *
 *   OFFSET  SIZE  FIELD
 *   0       2     version (0)
 *   2       8     producerId
 *   10      8     firstOffset       first offset of the transaction
 *   18      8     lastOffset        offset of its ABORT marker
 *   26      8     lastStableOffset  the LSO once it completed (pstate.h)
 *
 * The file belongs to the segment that holds the marker, is created by the
 * first abort written to it (most segments never have one) and goes with
 * the segment. Aborts are rare, so each append opens, writes and closes the
 * file; it is fsynced with the segment's .log (bk_seg_flush).
 */
#ifndef BK_TXNINDEX_H
#define BK_TXNINDEX_H

#include "pstate.h"

#define BK_TXNIDX_ESZ 34

void bk_txnidx_encode(uint8_t out[BK_TXNIDX_ESZ], const bk_abtxn *a);
void bk_txnidx_decode(const uint8_t in[BK_TXNIDX_ESZ], bk_abtxn *a);

/* Write entry number idx (0-based) of the file at path, creating it. */
int bk_txnidx_write(const char *path, uint32_t idx, const bk_abtxn *a);

/* Read every whole entry of path: *out malloc'd (NULL when none), *n.
 * A missing file is 0 entries; a partial last entry is cut off. */
int bk_txnidx_read(const char *path, bk_abtxn **out, uint32_t *n);

/* Drop the entries with lastOffset >= offset; *n = entries left. A missing
 * file is fine. */
int bk_txnidx_truncate(const char *path, int64_t offset, uint32_t *n);

/* fsync the file if it exists. */
int bk_txnidx_sync(const char *path);

#endif
