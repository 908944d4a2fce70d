"""A tiny stand-in for Kafka's ZooKeeper controller, for replication tests.

It sends the controller-to-broker requests, each at one fixed version
(LeaderAndIsr v5, UpdateMetadata v7, StopReplica v3 - all flexible, with
topic ids), to brokers started with brook.controller.requests.enable=true,
built with kwire's Writer. It keeps the controller epoch and, per
partition, the state it last sent, so a test can say "make broker 1
leader" and the request carries the next leader epoch.

    ctl = TestController({0: b0, 1: b1, 2: b2})   # id -> brookharness.Broker
    ctl.create_topic("t", partitions=1, replicas=[0, 1, 2])
    ctl.elect("t", 0, leader=1, isr=[1, 2])        # leader epoch + 1
"""

import os
import struct

import kwire
from kwire import Conn, Reader, Writer

LEADER_AND_ISR, STOP_REPLICA, UPDATE_METADATA = 4, 5, 6
LAI_V, UM_V, SR_V = 5, 7, 3


def _call(broker, api, version, body, timeout=10.0):
    c = Conn(broker.host, broker.port, timeout)
    try:
        c.send(kwire.request(api, version, 7, body, hdr_version=2))
        r = Reader(c.recv_frame())
        corr = r.i32("corr")
        assert corr == 7
        r.tags()
        return r
    finally:
        c.close()


def _ids(w, ids):
    w.array_len(len(ids), True)
    for i in ids:
        w.i32(i)


class PartState:
    def __init__(self, leader, leader_epoch, isr, replicas, partition_epoch=0):
        self.leader = leader
        self.leader_epoch = leader_epoch
        self.isr = list(isr)
        self.replicas = list(replicas)
        self.partition_epoch = partition_epoch


class TestController:
    __test__ = False  # not a pytest class

    def __init__(self, brokers, controller_id=0, epoch=1):
        self.brokers = dict(brokers)  # id -> Broker (host/port)
        self.controller_id = controller_id
        self.epoch = epoch
        self.topics = {}  # name -> (uuid bytes, {partition: PartState})
        self.alive = set(self.brokers)

    # ------------------------------------------------------------ requests

    def leader_and_isr(self, broker_id, topic, parts):
        """parts: {partition: PartState}; returns {partition: error}."""
        tid, _ = self.topics[topic]
        w = Writer()
        w.i32(self.controller_id).i32(self.epoch).i64(-1).i8(0)  # Type 0
        w.array_len(1, True)
        w.string(topic, True).uuid(tid)
        w.array_len(len(parts), True)
        for p, st in sorted(parts.items()):
            w.i32(p).i32(self.epoch).i32(st.leader).i32(st.leader_epoch)
            _ids(w, st.isr)
            w.i32(st.partition_epoch)
            _ids(w, st.replicas)
            _ids(w, [])  # AddingReplicas
            _ids(w, [])  # RemovingReplicas
            w.bool(False)  # IsNew
            w.tags()
        w.tags()
        leaders = sorted({st.leader for st in parts.values() if st.leader in self.brokers})
        w.array_len(len(leaders), True)
        for l in leaders:
            b = self.brokers[l]
            w.i32(l).string(b.host, True).i32(b.port).tags()
        w.tags()
        r = _call(self.brokers[broker_id], LEADER_AND_ISR, LAI_V, w.bytes())
        out = {"error": r.i16()}
        for _ in range(r.array_len(True)):
            r.uuid()
            for _ in range(r.array_len(True)):
                p = r.i32()
                out[p] = r.i16()
                r.tags()
            r.tags()
        return out

    def update_metadata(self, broker_id):
        w = Writer()
        w.i32(self.controller_id).i32(self.epoch).i64(-1)
        w.array_len(len(self.topics), True)
        for name, (tid, parts) in sorted(self.topics.items()):
            w.string(name, True).uuid(tid)
            w.array_len(len(parts), True)
            for p, st in sorted(parts.items()):
                w.i32(p).i32(self.epoch).i32(st.leader).i32(st.leader_epoch)
                _ids(w, st.isr)
                w.i32(st.partition_epoch)
                _ids(w, st.replicas)
                _ids(w, [r for r in st.replicas if r not in self.alive])
                w.tags()
            w.tags()
        live = sorted(self.alive)
        w.array_len(len(live), True)
        for i in live:
            b = self.brokers[i]
            w.i32(i)
            w.array_len(1, True).i32(b.port).string(b.host, True).string("PLAINTEXT", True).i16(0).tags()
            w.string(None, True)  # Rack
            w.tags()
        w.tags()
        r = _call(self.brokers[broker_id], UPDATE_METADATA, UM_V, w.bytes())
        return r.i16()

    def stop_replica(self, broker_id, topic, partitions, delete=False, leader_epoch=-2):
        w = Writer()
        w.i32(self.controller_id).i32(self.epoch).i64(-1)
        w.array_len(1, True).string(topic, True)
        w.array_len(len(partitions), True)
        for p in partitions:
            w.i32(p).i32(leader_epoch).bool(delete).tags()
        w.tags()
        w.tags()
        r = _call(self.brokers[broker_id], STOP_REPLICA, SR_V, w.bytes())
        out = {"error": r.i16()}
        for _ in range(r.array_len(True)):
            r.string(True)
            p = r.i32()
            out[p] = r.i16()
            r.tags()
        return out

    # ------------------------------------------------------------ actions

    def broadcast_metadata(self):
        for i in sorted(self.alive):
            assert self.update_metadata(i) == 0

    def create_topic(self, name, partitions=1, replicas=(0, 1, 2), leader=None, isr=None):
        tid = os.urandom(16)
        parts = {}
        for p in range(partitions):
            l = replicas[0] if leader is None else leader
            parts[p] = PartState(l, 0, list(replicas) if isr is None else isr, replicas)
        self.topics[name] = (tid, parts)
        self.send_leadership(name)
        self.broadcast_metadata()
        return tid

    def send_leadership(self, name, only=None):
        _, parts = self.topics[name]
        for b in sorted(self.alive):
            if only is not None and b not in only:
                continue
            mine = {p: st for p, st in parts.items() if b in st.replicas}
            if mine:
                res = self.leader_and_isr(b, name, mine)
                assert res["error"] == 0, res
                for p in mine:
                    assert res.get(p, 0) == 0, (b, p, res)

    def elect(self, name, partition, leader, isr=None, only=None):
        """New leader (leader epoch + 1); sends LeaderAndIsr to the live
        replicas and UpdateMetadata to every live broker."""
        _, parts = self.topics[name]
        st = parts[partition]
        st.leader = leader
        st.leader_epoch += 1
        st.partition_epoch += 1
        if isr is not None:
            st.isr = list(isr)
        self.send_leadership(name, only=only)
        self.broadcast_metadata()
        return st.leader_epoch
