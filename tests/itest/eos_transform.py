"""Consume-transform-produce with exactly-once semantics, for test_eos.py.

Usage: /usr/bin/python3 eos_transform.py BOOTSTRAP SRC DST GROUP TXN_ID

Reads SRC as member of GROUP (read_committed), and for each poll writes the
records to DST (same partition, key and value) inside one transaction that
also commits the consumed positions (send_offsets_to_transaction). Prints
"committed N" after every transaction. Runs until killed. It pauses briefly
inside every transaction so that a kill -9 from the test usually lands while
a transaction is open.
"""

import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer

bootstrap, src, dst, group, tid = sys.argv[1:6]

c = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "isolation.level": "read_committed",
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
})
p = Producer({
    "bootstrap.servers": bootstrap,
    "transactional.id": tid,
    "linger.ms": 5,
    "transaction.timeout.ms": 15000,
})
p.init_transactions(30)
c.subscribe([src])
print("ready", flush=True)

while True:
    msgs = [m for m in c.consume(100, 1.0) if m.error() is None]
    if not msgs:
        continue
    p.begin_transaction()
    for m in msgs:
        p.produce(dst, key=m.key(), value=m.value(), partition=m.partition())
    p.flush(30)
    time.sleep(0.05)  # data written, transaction open: a good moment to die
    try:
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
        p.commit_transaction(30)
    except KafkaException as e:
        err = e.args[0]
        if err.txn_requires_abort():
            p.abort_transaction(30)
            # rewind to the committed positions and redo the work
            for tp in c.committed(c.assignment(), 30):
                if tp.offset < 0:
                    tp.offset = OFFSET_BEGINNING
                c.seek(tp)
            continue
        raise
    print("committed", len(msgs), flush=True)
