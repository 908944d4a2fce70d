/*
 * lag.h - consumer lag computed by the broker (issue 10): per group and
 * partition, in offsets (log end - committed) and in seconds (age of the
 * oldest unconsumed message, from the timestamps the log holds).
 *
 * bk_lag_prometheus appends the lag metrics, in Prometheus text format,
 * to a /metrics scrape (called by the metrics endpoint, on the loop
 * thread). (Stub until issue 10's lag work lands: writes nothing.)
 *
 * Thread: loop thread.
 */
#ifndef BK_LAG_H
#define BK_LAG_H

#include "../core/buf.h"

#include <stdint.h>

typedef struct bk_broker bk_broker;

void bk_lag_prometheus(bk_broker *b, bk_wr *out, int64_t now_ms);

#endif
