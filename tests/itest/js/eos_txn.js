// kafkajs 2.2.4 transactions (issue 6); prints one JSON line.
// Usage: node eos_txn.js HOST:PORT TOPIC   (NODE_PATH=tests/node/node_modules)
//
// One transactional producer: a transaction of 10 messages committed, one of
// 10 aborted, and one of 1 message that also commits offset 5 of partition 0
// for the group js-eos-group (sendOffsets). The test checks what consumers
// see.
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic] = process.argv.slice(2);
const kafka = new Kafka({
  clientId: 'brook-itest-eos-js',
  brokers: [bootstrap],
  logLevel: logLevel.ERROR,
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 5 },
});

const msgs = (tag) => Array.from({ length: 10 }, (_, i) => ({ key: `${tag}${i}`, value: `${tag}-${i}`, partition: i % 2 }));

(async () => {
  const producer = kafka.producer({ transactionalId: 'js-txn-1', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let t = await producer.transaction();
  await t.send({ topic, messages: msgs('commit') });
  await t.commit();
  t = await producer.transaction();
  await t.send({ topic, messages: msgs('abort') });
  await t.abort();
  t = await producer.transaction();
  await t.send({ topic, messages: [{ value: 'with-offsets', partition: 0 }] });
  await t.sendOffsets({ consumerGroupId: 'js-eos-group', topics: [{ topic, partitions: [{ partition: 0, offset: '5' }] }] });
  await t.commit();
  await producer.disconnect();
  console.log(JSON.stringify({ ok: true }));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
