/*
 * h_controller.c - the controller-to-broker requests of Kafka's ZooKeeper
 * mode: LeaderAndIsr (key 4) v0-7, StopReplica (key 5) v0-4,
 * UpdateMetadata (key 6) v0-8. Served (and advertised) only in cluster
 * mode: zookeeper.connect set, or brook.controller.requests.enable=true
 * (the switch that lets a broker take controller requests before the
 * ZooKeeper controller exists - tests play the controller with it).
 *
 * Each request is checked against the largest controller epoch seen
 * (older: STALE_CONTROLLER_EPOCH for the request and every partition) and,
 * once ZooKeeper gives this broker an epoch, its BrokerEpoch
 * (STALE_BROKER_EPOCH). Then every partition goes through replica.h:
 * bk_replica_leader_and_isr / bk_replica_update_metadata /
 * bk_replica_stop, which is also what a local controller calls.
 *
 * Versions: LeaderAndIsr v0-1 carry ungrouped partition states, v2+ group
 * them by topic, v5+ add topic ids and answer per topic id; UpdateMetadata
 * v0 lists brokers by V0Host/V0Port, v1+ by endpoints (we keep the one of
 * our own first listener's name, else the first), v5+ groups partitions by
 * topic, v7+ with ids; StopReplica v0 names partitions one by one, v1-2 by
 * topic, v3+ with a leader epoch and delete flag per partition.
 */
#include "api_table.h"
#include "authz.h"

#include "../core/log.h"
#include "replica.h"

#include <stdio.h>

static void ps_from_lai(const bk_LeaderAndIsrRequest_LeaderAndIsrPartitionState *s,
                        bk_part_state *o)
{
    memset(o, 0, sizeof *o);
    o->controller_epoch = s->ControllerEpoch;
    o->leader = s->Leader;
    o->leader_epoch = s->LeaderEpoch;
    o->partition_epoch = s->PartitionEpoch;
    o->isr = s->Isr.a;
    o->nisr = BK_MAX(s->Isr.n, 0);
    o->replicas = s->Replicas.a;
    o->nreplicas = BK_MAX(s->Replicas.n, 0);
    o->adding = s->AddingReplicas.a;
    o->nadding = BK_MAX(s->AddingReplicas.n, 0);
    o->removing = s->RemovingReplicas.a;
    o->nremoving = BK_MAX(s->RemovingReplicas.n, 0);
    o->is_new = s->IsNew;
}

int bk_h_leader_and_isr(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_LeaderAndIsrRequest rq;
    bk_LeaderAndIsrRequest_init(&rq);
    int rc = bk_LeaderAndIsrRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc != 0)
        return rc;
    bk_LeaderAndIsrResponse rs;
    bk_LeaderAndIsrResponse_init(&rs);
    int16_t top = !bk_authz_cluster(b, req, BK_OP_CLUSTER_ACTION)
                      ? BK_KERR_CLUSTER_AUTHORIZATION_FAILED
                      : bk_replica_check_controller(b, rq.ControllerId, rq.ControllerEpoch,
                                                    ver >= 2 ? rq.BrokerEpoch : -1);
    rs.ErrorCode = top;
    if (top == BK_KERR_NONE)
        for (int32_t i = 0; i < rq.LiveLeaders.n; i++) {
            const bk_LeaderAndIsrRequest_LeaderAndIsrLiveLeader *ll = &rq.LiveLeaders.a[i];
            bk_live_broker lb;
            memset(&lb, 0, sizeof lb);
            lb.id = ll->BrokerId;
            snprintf(lb.host, sizeof lb.host, "%.*s", BK_MAX(ll->HostName.len, 0),
                     ll->HostName.len > 0 ? ll->HostName.p : "");
            lb.port = ll->Port;
            const bk_live_broker *old = bk_broker_live_find(b, lb.id);
            if (old && old->has_rack) {
                lb.has_rack = true;
                memcpy(lb.rack, old->rack, sizeof lb.rack);
            }
            (void)bk_broker_upsert_live(b, &lb);
        }

    if (ver < 2) {
        int32_t n = BK_MAX(rq.UngroupedPartitionStates.n, 0);
        rs.PartitionErrors.n = n;
        if (n && !(rs.PartitionErrors.a =
                       BK_ARENA_NEW(req, bk_LeaderAndIsrResponse_LeaderAndIsrPartitionError, n)))
            return BK_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            const bk_LeaderAndIsrRequest_LeaderAndIsrPartitionState *s =
                &rq.UngroupedPartitionStates.a[i];
            bk_LeaderAndIsrResponse_LeaderAndIsrPartitionError *e = &rs.PartitionErrors.a[i];
            e->TopicName = s->TopicName;
            e->PartitionIndex = s->PartitionIndex;
            e->ErrorCode = top;
            if (top != BK_KERR_NONE || s->TopicName.len < 0)
                continue;
            bk_part_state st;
            ps_from_lai(s, &st);
            e->ErrorCode = bk_replica_leader_and_isr(b, s->TopicName.p, (size_t)s->TopicName.len,
                                                     NULL, s->PartitionIndex, &st);
        }
        return BK_RESPOND(req, LeaderAndIsrResponse, ver, &rs);
    }

    int32_t nt = BK_MAX(rq.TopicStates.n, 0), total = 0;
    for (int32_t i = 0; i < nt; i++)
        total += BK_MAX(rq.TopicStates.a[i].PartitionStates.n, 0);
    bk_LeaderAndIsrResponse_LeaderAndIsrPartitionError *errs =
        total ? BK_ARENA_NEW(req, bk_LeaderAndIsrResponse_LeaderAndIsrPartitionError, total)
              : NULL;
    if (total && !errs)
        return BK_ENOMEM;
    if (ver >= 5) {
        rs.Topics.n = nt;
        if (nt && !(rs.Topics.a = BK_ARENA_NEW(req, bk_LeaderAndIsrResponse_LeaderAndIsrTopicError,
                                               nt)))
            return BK_ENOMEM;
    } else {
        rs.PartitionErrors.n = total;
        rs.PartitionErrors.a = errs;
    }
    int32_t k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const bk_LeaderAndIsrRequest_LeaderAndIsrTopicState *ts = &rq.TopicStates.a[i];
        int32_t np = BK_MAX(ts->PartitionStates.n, 0);
        if (ver >= 5) {
            rs.Topics.a[i].TopicId = ts->TopicId;
            rs.Topics.a[i].PartitionErrors.n = np;
            rs.Topics.a[i].PartitionErrors.a = errs + k;
        }
        for (int32_t j = 0; j < np; j++, k++) {
            const bk_LeaderAndIsrRequest_LeaderAndIsrPartitionState *s =
                &ts->PartitionStates.a[j];
            bk_LeaderAndIsrResponse_LeaderAndIsrPartitionError *e = &errs[k];
            e->TopicName = ts->TopicName;
            e->PartitionIndex = s->PartitionIndex;
            e->ErrorCode = top;
            if (top != BK_KERR_NONE || ts->TopicName.len < 0)
                continue;
            bk_part_state st;
            ps_from_lai(s, &st);
            e->ErrorCode =
                bk_replica_leader_and_isr(b, ts->TopicName.p, (size_t)ts->TopicName.len,
                                          ver >= 5 ? &ts->TopicId : NULL, s->PartitionIndex, &st);
        }
    }
    return BK_RESPOND(req, LeaderAndIsrResponse, ver, &rs);
}

static void ps_from_um(const bk_UpdateMetadataRequest_UpdateMetadataPartitionState *s,
                       bk_part_state *o)
{
    memset(o, 0, sizeof *o);
    o->controller_epoch = s->ControllerEpoch;
    o->leader = s->Leader;
    o->leader_epoch = s->LeaderEpoch;
    o->partition_epoch = s->ZkVersion;
    o->isr = s->Isr.a;
    o->nisr = BK_MAX(s->Isr.n, 0);
    o->replicas = s->Replicas.a;
    o->nreplicas = BK_MAX(s->Replicas.n, 0);
    o->offline = s->OfflineReplicas.a;
    o->noffline = BK_MAX(s->OfflineReplicas.n, 0);
}

static void str_copy(char *dst, size_t cap, bk_str s)
{
    snprintf(dst, cap, "%.*s", BK_MAX(s.len, 0), s.len > 0 ? s.p : "");
}

int bk_h_update_metadata(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_UpdateMetadataRequest rq;
    bk_UpdateMetadataRequest_init(&rq);
    int rc = bk_UpdateMetadataRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc != 0)
        return rc;
    bk_UpdateMetadataResponse rs;
    bk_UpdateMetadataResponse_init(&rs);
    rs.ErrorCode = !bk_authz_cluster(b, req, BK_OP_CLUSTER_ACTION)
                       ? BK_KERR_CLUSTER_AUTHORIZATION_FAILED
                       : bk_replica_check_controller(b, rq.ControllerId, rq.ControllerEpoch,
                                                     ver >= 5 ? rq.BrokerEpoch : -1);
    if (rs.ErrorCode != BK_KERR_NONE)
        return BK_RESPOND(req, UpdateMetadataResponse, ver, &rs);

    /* live brokers */
    int32_t nb = BK_MAX(rq.LiveBrokers.n, 0);
    bk_live_broker *lv = nb ? BK_ARENA_NEW(req, bk_live_broker, nb) : NULL;
    if (nb && !lv)
        return BK_ENOMEM;
    const char *mine = b->nadv > 0 ? b->adv[0].name : "PLAINTEXT";
    for (int32_t i = 0; i < nb; i++) {
        const bk_UpdateMetadataRequest_UpdateMetadataBroker *br = &rq.LiveBrokers.a[i];
        bk_live_broker *l = &lv[i];
        l->id = br->Id;
        if (ver == 0) {
            str_copy(l->host, sizeof l->host, br->V0Host);
            l->port = br->V0Port;
        } else {
            const bk_UpdateMetadataRequest_UpdateMetadataEndpoint *pick = NULL;
            for (int32_t k = 0; k < br->Endpoints.n && !pick; k++)
                if (bk_str_eq(br->Endpoints.a[k].Listener, mine))
                    pick = &br->Endpoints.a[k];
            if (!pick && br->Endpoints.n > 0)
                pick = &br->Endpoints.a[0];
            if (pick) {
                str_copy(l->host, sizeof l->host, pick->Host);
                l->port = pick->Port;
            }
        }
        if (ver >= 2 && br->Rack.len >= 0) {
            l->has_rack = true;
            str_copy(l->rack, sizeof l->rack, br->Rack);
        }
    }
    if (bk_broker_set_live(b, lv, nb) != 0)
        return BK_ENOMEM;

    if (ver < 5) {
        for (int32_t i = 0; i < rq.UngroupedPartitionStates.n; i++) {
            const bk_UpdateMetadataRequest_UpdateMetadataPartitionState *s =
                &rq.UngroupedPartitionStates.a[i];
            if (s->TopicName.len < 0)
                continue;
            bk_part_state st;
            ps_from_um(s, &st);
            bk_replica_update_metadata(b, s->TopicName.p, (size_t)s->TopicName.len, NULL,
                                       s->PartitionIndex, &st);
        }
    } else {
        for (int32_t i = 0; i < rq.TopicStates.n; i++) {
            const bk_UpdateMetadataRequest_UpdateMetadataTopicState *ts = &rq.TopicStates.a[i];
            if (ts->TopicName.len < 0)
                continue;
            for (int32_t j = 0; j < ts->PartitionStates.n; j++) {
                bk_part_state st;
                ps_from_um(&ts->PartitionStates.a[j], &st);
                bk_replica_update_metadata(b, ts->TopicName.p, (size_t)ts->TopicName.len,
                                           ver >= 7 ? &ts->TopicId : NULL,
                                           ts->PartitionStates.a[j].PartitionIndex, &st);
            }
        }
    }
    return BK_RESPOND(req, UpdateMetadataResponse, ver, &rs);
}

int bk_h_stop_replica(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_StopReplicaRequest rq;
    bk_StopReplicaRequest_init(&rq);
    int rc = bk_StopReplicaRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc != 0)
        return rc;
    bk_StopReplicaResponse rs;
    bk_StopReplicaResponse_init(&rs);
    int16_t top = !bk_authz_cluster(b, req, BK_OP_CLUSTER_ACTION)
                      ? BK_KERR_CLUSTER_AUTHORIZATION_FAILED
                      : bk_replica_check_controller(b, rq.ControllerId, rq.ControllerEpoch,
                                                    ver >= 1 ? rq.BrokerEpoch : -1);
    rs.ErrorCode = top;
    int32_t total = 0;
    if (ver == 0)
        total = BK_MAX(rq.UngroupedPartitions.n, 0);
    else if (ver <= 2)
        for (int32_t i = 0; i < rq.Topics.n; i++)
            total += BK_MAX(rq.Topics.a[i].PartitionIndexes.n, 0);
    else
        for (int32_t i = 0; i < rq.TopicStates.n; i++)
            total += BK_MAX(rq.TopicStates.a[i].PartitionStates.n, 0);
    rs.PartitionErrors.n = total;
    if (total && !(rs.PartitionErrors.a =
                       BK_ARENA_NEW(req, bk_StopReplicaResponse_StopReplicaPartitionError, total)))
        return BK_ENOMEM;
    int32_t k = 0;
#define STOP(tname, idx, epoch, del)                                                               \
    do {                                                                                           \
        bk_StopReplicaResponse_StopReplicaPartitionError *e = &rs.PartitionErrors.a[k++];         \
        e->TopicName = (tname);                                                                    \
        e->PartitionIndex = (idx);                                                                 \
        e->ErrorCode = top;                                                                        \
        if (top == BK_KERR_NONE && (tname).len >= 0)                                               \
            e->ErrorCode = bk_replica_stop(b, (tname).p, (size_t)(tname).len, (idx), (epoch),     \
                                           (del));                                                 \
    } while (0)
    if (ver == 0) {
        for (int32_t i = 0; i < total; i++)
            STOP(rq.UngroupedPartitions.a[i].TopicName, rq.UngroupedPartitions.a[i].PartitionIndex,
                 -1, rq.DeletePartitions);
    } else if (ver <= 2) {
        for (int32_t i = 0; i < rq.Topics.n; i++)
            for (int32_t j = 0; j < rq.Topics.a[i].PartitionIndexes.n; j++)
                STOP(rq.Topics.a[i].Name, rq.Topics.a[i].PartitionIndexes.a[j], -1,
                     rq.DeletePartitions);
    } else {
        for (int32_t i = 0; i < rq.TopicStates.n; i++)
            for (int32_t j = 0; j < rq.TopicStates.a[i].PartitionStates.n; j++) {
                const bk_StopReplicaRequest_StopReplicaPartitionState *s =
                    &rq.TopicStates.a[i].PartitionStates.a[j];
                STOP(rq.TopicStates.a[i].TopicName, s->PartitionIndex, s->LeaderEpoch,
                     s->DeletePartition);
            }
    }
#undef STOP
    return BK_RESPOND(req, StopReplicaResponse, ver, &rs);
}
