// kafkajs 2.2.4 consumer-group consume (the only consumer kafkajs has):
// subscribe fromBeginning, read N messages, print one JSON line. Needs the
// group coordinator APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// OffsetFetch, OffsetCommit, LeaveGroup): the Python test skips it while
// the broker does not advertise them.
// Usage: node i4_group_consume.js HOST:PORT TOPIC N   (NODE_PATH=tests/node/node_modules)
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, nArg] = process.argv.slice(2);
const N = parseInt(nArg, 10);
const kafka = new Kafka({
  clientId: 'brook-itest-js',
  brokers: [bootstrap],
  logLevel: logLevel.ERROR,
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 3 },
});

(async () => {
  const consumer = kafka.consumer({ groupId: `i4-js-${process.pid}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  const got = [];
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout: ${got.length}/${N} messages`)), 60000);
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            got.push({ partition, offset: message.offset, key: message.key && message.key.toString() });
            if (got.length >= N) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  process.stdout.write(JSON.stringify({ consumed: got.length, messages: got }) + '\n');
})().catch((e) => {
  process.stderr.write(`kafkajs error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
