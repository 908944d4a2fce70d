/*
 * bmetrics.c - the broker's state gauges for /metrics (see broker.h,
 * bk_broker_prometheus; names and meaning in docs/metrics.md).
 *
 * Everything here is read at scrape time from where it lives (the topic
 * registry, the partition logs, the purgatory), so nothing is maintained
 * on the request path. Cost: one pass over the partitions.
 *
 *   ReplicaManager: PartitionCount, LeaderCount, UnderReplicatedPartitions
 *     (led here, ISR smaller than the replica set), UnderMinIsrPartitionCount
 *     (led here, ISR below min.insync.replicas), OfflineReplicaCount
 *     (hosted here with no usable log);
 *   KafkaController (the active controller only, 0 elsewhere, as Kafka):
 *     ActiveControllerCount, OfflinePartitionsCount (no leader);
 *   Log per partition hosted here: Size, LogStartOffset, LogEndOffset;
 *   DelayedOperationPurgatory PurgatorySize by operation.
 *
 * Thread: loop thread.
 */
#include "broker.h"

#include "../cluster/cluster.h"
#include "../core/metrics.h"
#include "../storage/plog.h"

static bool is_local_replica(const bk_broker *b, const bk_partition *p)
{
    if (!b->cluster)
        return true;
    return bk_ids_has(p->replicas, p->nreplicas, b->node_id);
}

static void gauge(bk_wr *w, const char *name, const char *help, double v)
{
    bk_prom_family(w, name, "gauge", help);
    bk_prom_sample(w, name, "", v);
}

static void log_gauge_family(bk_broker *b, bk_wr *w, const char *name, const char *help, int what)
{
    bk_prom_family(w, name, "gauge", help);
    int32_t nt = b->topics ? bk_topics_count(b->topics) : 0;
    for (int32_t i = 0; i < nt; i++) {
        bk_topic *t = bk_topics_at(b->topics, i);
        if (!t)
            continue;
        for (int32_t k = 0; k < t->nparts; k++) {
            bk_partition *p = &t->parts[k];
            bk_plog *l = p->log;
            if (!l || !is_local_replica(b, p))
                continue;
            double v = what == 0   ? (double)bk_plog_size(l)
                       : what == 1 ? (double)l->log_start
                                   : (double)bk_plog_leo(l);
            bk_prom_printf(w, "%s{topic=\"", name);
            bk_prom_escape(w, t->name, -1);
            bk_prom_printf(w, "\",partition=\"%d\"} ", p->index);
            bk_prom_value(w, v);
            bk_wr_u8(w, '\n');
        }
    }
}

void bk_broker_prometheus(bk_broker *b, bk_wr *w, int64_t now_ms)
{
    BK_UNUSED(now_ms);
    int64_t parts = 0, leaders = 0, urp = 0, under_min = 0, offline_rep = 0, offline_parts = 0;
    int32_t nt = b->topics ? bk_topics_count(b->topics) : 0;
    for (int32_t i = 0; i < nt; i++) {
        bk_topic *t = bk_topics_at(b->topics, i);
        if (!t)
            continue;
        for (int32_t k = 0; k < t->nparts; k++) {
            bk_partition *p = &t->parts[k];
            if (p->leader < 0 && b->cluster)
                offline_parts++;
            if (!is_local_replica(b, p))
                continue;
            parts++;
            if (!p->log || p->log->offline)
                offline_rep++;
            bool lead = b->cluster ? p->leader == b->node_id : true;
            if (!lead)
                continue;
            leaders++;
            int32_t nrep = b->cluster ? p->nreplicas : 1;
            int32_t nisr = b->cluster ? p->nisr : 1;
            if (nisr < nrep)
                urp++;
            if (nisr < t->cfg.min_insync_replicas)
                under_min++;
        }
    }
    bool active = b->zkc ? bk_cluster_is_controller(b->zkc) : !b->cluster;

    gauge(w, "kafka_server_replicamanager_partitioncount",
          "PartitionCount: partitions with a replica on this broker", (double)parts);
    gauge(w, "kafka_server_replicamanager_leadercount",
          "LeaderCount: partitions led by this broker", (double)leaders);
    gauge(w, "kafka_server_replicamanager_underreplicatedpartitions",
          "UnderReplicatedPartitions: led here with an ISR smaller than the replica set",
          (double)urp);
    gauge(w, "kafka_server_replicamanager_underminisrpartitioncount",
          "UnderMinIsrPartitionCount: led here with an ISR below min.insync.replicas",
          (double)under_min);
    gauge(w, "kafka_server_replicamanager_offlinereplicacount",
          "OfflineReplicaCount: replicas on this broker whose log is offline", (double)offline_rep);
    gauge(w, "kafka_controller_kafkacontroller_activecontrollercount",
          "ActiveControllerCount: 1 on the active controller", active ? 1 : 0);
    gauge(w, "kafka_controller_kafkacontroller_offlinepartitionscount",
          "OfflinePartitionsCount: partitions without a leader (reported by the controller)",
          active ? (double)offline_parts : 0);

    int64_t pz_produce = 0, pz_fetch = 0, pz_other = 0;
    for (bk_delayed *d = b->purg.parked; d; d = d->next) {
        if (d->kind == BK_DELAYED_PRODUCE)
            pz_produce++;
        else if (d->kind == BK_DELAYED_FETCH)
            pz_fetch++;
        else
            pz_other++;
    }
    const char *pn = "kafka_server_delayedoperationpurgatory_purgatorysize";
    bk_prom_family(w, pn, "gauge",
                   "PurgatorySize: requests waiting in purgatory, by delayed operation");
    bk_prom_sample(w, pn, "delayedoperation=\"Produce\"", (double)pz_produce);
    bk_prom_sample(w, pn, "delayedoperation=\"Fetch\"", (double)pz_fetch);
    bk_prom_sample(w, pn, "delayedoperation=\"Rebalance\"", (double)pz_other);

    log_gauge_family(b, w, "kafka_log_log_size", "Size: bytes of the partition's segments", 0);
    log_gauge_family(b, w, "kafka_log_log_logstartoffset",
                     "LogStartOffset: first offset of the partition's log", 1);
    log_gauge_family(b, w, "kafka_log_log_logendoffset",
                     "LogEndOffset: next offset to be written", 2);
}
