// kafkajs 2.2.4 produce + consume round trip (issue 4); prints one JSON line.
// Usage: node i4_roundtrip.js HOST:PORT TOPIC PARTITIONS N   (NODE_PATH=tests/node/node_modules)
//
// Produces N keyed messages with headers in batches of 500, alternating
// none and gzip compression (the codecs kafkajs has built in), acks=-1.
// Consumes them back WITHOUT a consumer group (groups are not part of this
// milestone): kafkajs has no public assign() API, so this uses its own
// cluster/broker objects (internal but stable in the pinned 2.2.4) to send
// Fetch requests and decode the record batches with kafkajs's decoder, from
// offset 0 of every partition up to the high watermark.
'use strict';
const { Kafka, logLevel, CompressionTypes } = require('kafkajs');

const [bootstrap, topic, partsArg, nArg] = process.argv.slice(2);
const PARTS = parseInt(partsArg, 10);
const N = parseInt(nArg, 10);

const kafka = new Kafka({
  clientId: 'brook-itest-js',
  brokers: [bootstrap],
  logLevel: logLevel.ERROR,
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 3 },
});

const keyOf = (i) => `js-${i}`;
const valueOf = (i) => (i % 50 === 49 ? null : `value-${i}-`.repeat(i % 7) + `end-${i}`);
const headersOf = (i) => ({ seq: `${i}`, kind: i % 2 ? 'odd' : 'even' });

(async () => {
  const out = { produced: 0, consumed: 0, problems: [], partitions: {} };
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  const where = new Map(); // i -> [partition, offset]
  try {
    for (let start = 0, b = 0; start < N; start += 500, b++) {
      const messages = [];
      for (let i = start; i < Math.min(N, start + 500); i++) {
        messages.push({ key: keyOf(i), value: valueOf(i), headers: headersOf(i) });
      }
      const res = await producer.send({
        topic,
        acks: -1,
        compression: b % 2 ? CompressionTypes.GZIP : CompressionTypes.None,
        messages,
      });
      for (const r of res) {
        if (r.errorCode !== 0) out.problems.push(`produce error ${r.errorCode} on partition ${r.partition}`);
      }
      out.produced += messages.length;
    }
  } finally {
    await producer.disconnect();
  }

  // ---- consume without a group
  const sym = Object.getOwnPropertySymbols(kafka).find((s) => s.toString() === 'Symbol(private:Kafka:createCluster)');
  const cluster = kafka[sym]({ allowAutoTopicCreation: false });
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    await cluster.refreshMetadata();
    const seen = new Set();
    for (let p = 0; p < PARTS; p++) {
      const leaders = cluster.findLeaderForPartitions(topic, [p]);
      const nodeId = Object.keys(leaders)[0];
      const broker = await cluster.findBroker({ nodeId });
      let offset = 0;
      let lastSeq = -1;
      let hw = null;
      const deadline = Date.now() + 60000;
      for (;;) {
        const resp = await broker.fetch({
          isolationLevel: 1,
          maxWaitTime: 100,
          topics: [{ topic, partitions: [{ partition: p, fetchOffset: String(offset), maxBytes: 1048576 }] }],
        });
        const part = resp.responses[0].partitions[0];
        hw = parseInt(part.highWatermark, 10);
        for (const m of part.messages) {
          const off = parseInt(m.offset, 10);
          if (off < offset) continue; // earlier records of a batch
          if (off !== offset) out.problems.push(`partition ${p}: offset ${off} after ${offset - 1}`);
          offset = off + 1;
          const key = m.key === null ? null : m.key.toString();
          const i = key && key.startsWith('js-') ? parseInt(key.slice(3), 10) : -1;
          if (!(i >= 0 && i < N)) {
            out.problems.push(`bad key ${key}`);
            continue;
          }
          if (seen.has(i)) out.problems.push(`duplicate message ${i}`);
          seen.add(i);
          if (i <= lastSeq) out.problems.push(`partition ${p}: message ${i} after ${lastSeq}`);
          lastSeq = i;
          const want = valueOf(i);
          const got = m.value === null ? null : m.value.toString();
          if (got !== want) out.problems.push(`message ${i}: value ${got} != ${want}`);
          const h = {};
          for (const [k, v] of Object.entries(m.headers || {})) h[k] = Buffer.isBuffer(v) ? v.toString() : v;
          if (JSON.stringify(h) !== JSON.stringify(headersOf(i)))
            out.problems.push(`message ${i}: headers ${JSON.stringify(h)}`);
          out.consumed++;
        }
        if (offset >= hw) break;
        if (Date.now() > deadline) {
          out.problems.push(`partition ${p}: stuck at ${offset} (hw ${hw})`);
          break;
        }
      }
      out.partitions[p] = hw;
    }
    for (let i = 0; i < N && out.problems.length < 50; i++) if (!seen.has(i)) out.problems.push(`message ${i} missing`);
  } finally {
    await cluster.disconnect();
  }
  out.problems = out.problems.slice(0, 50);
  process.stdout.write(JSON.stringify(out) + '\n');
})().catch((e) => {
  process.stderr.write(`kafkajs error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
