// kafkajs admin: describeCluster + listTopics against one broker; prints JSON.
// Usage: node describe_cluster.js HOST:PORT   (NODE_PATH=tests/node/node_modules)
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const bootstrap = process.argv[2];
const kafka = new Kafka({
  clientId: 'brook-itest',
  brokers: [bootstrap],
  logLevel: logLevel.ERROR,
  connectionTimeout: 5000,
  requestTimeout: 10000,
  retry: { retries: 2 },
});

(async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    const topics = await admin.listTopics();
    process.stdout.write(JSON.stringify({ cluster, topics }) + '\n');
  } finally {
    await admin.disconnect();
  }
})().catch((e) => {
  process.stderr.write(`kafkajs error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
