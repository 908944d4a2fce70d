/*
 * h_txn_markers.c - WriteTxnMarkers (key 27), v0-1 (v1 flexible).
 *
 * How a transaction coordinator ends a transaction on partitions it does
 * not lead (cluster mode): for each marker, write a commit or abort control
 * batch for ProducerId/ProducerEpoch to every listed partition through
 * bk_broker_write_marker (the same path the local coordinator uses), and
 * answer per partition: NONE, UNKNOWN_TOPIC_OR_PARTITION, or
 * KAFKA_STORAGE_ERROR. Kafka restricts it to the cluster (CLUSTER_ACTION);
 * without security every client may send it, as with Kafka's default
 * authorizer off.
 */
#include "api_table.h"

#include <string.h>

int bk_h_write_txn_markers(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_WriteTxnMarkersRequest rq;
    BK_DECODE(req, WriteTxnMarkersRequest, &rq);
    bk_WriteTxnMarkersResponse rs;
    bk_WriteTxnMarkersResponse_init(&rs);
    int32_t nm = BK_MAX(rq.Markers.n, 0);
    rs.Markers.n = nm;
    if (nm && !(rs.Markers.a = BK_ARENA_NEW(req, bk_WriteTxnMarkersResponse_WritableTxnMarkerResult,
                                            nm)))
        return BK_ENOMEM;
    for (int32_t i = 0; i < nm; i++) {
        const bk_WriteTxnMarkersRequest_WritableTxnMarker *m = &rq.Markers.a[i];
        bk_WriteTxnMarkersResponse_WritableTxnMarkerResult *mr = &rs.Markers.a[i];
        mr->ProducerId = m->ProducerId;
        int32_t nt = BK_MAX(m->Topics.n, 0);
        mr->Topics.n = nt;
        if (nt && !(mr->Topics.a = BK_ARENA_NEW(
                        req, bk_WriteTxnMarkersResponse_WritableTxnMarkerTopicResult, nt)))
            return BK_ENOMEM;
        for (int32_t t = 0; t < nt; t++) {
            const bk_WriteTxnMarkersRequest_WritableTxnMarkerTopic *qt = &m->Topics.a[t];
            bk_WriteTxnMarkersResponse_WritableTxnMarkerTopicResult *rt = &mr->Topics.a[t];
            rt->Name = qt->Name;
            int32_t np = BK_MAX(qt->PartitionIndexes.n, 0);
            rt->Partitions.n = np;
            if (np && !(rt->Partitions.a = BK_ARENA_NEW(
                            req, bk_WriteTxnMarkersResponse_WritableTxnMarkerPartitionResult, np)))
                return BK_ENOMEM;
            size_t tl = (size_t)BK_MAX(qt->Name.len, 0);
            char *name = BK_ARENA_NEW(req, char, tl + 1);
            if (!name)
                return BK_ENOMEM;
            if (tl)
                memcpy(name, qt->Name.p, tl);
            name[tl] = 0;
            for (int32_t k = 0; k < np; k++) {
                int32_t idx = qt->PartitionIndexes.a[k];
                rt->Partitions.a[k].PartitionIndex = idx;
                rt->Partitions.a[k].ErrorCode =
                    qt->Name.len < 0 || memchr(name, 0, tl)
                        ? BK_KERR_UNKNOWN_TOPIC_OR_PARTITION
                        : bk_broker_write_marker(b, name, idx, m->ProducerId, m->ProducerEpoch,
                                                 m->CoordinatorEpoch, m->TransactionResult);
            }
        }
    }
    return BK_RESPOND(req, WriteTxnMarkersResponse, ver, &rs);
}
