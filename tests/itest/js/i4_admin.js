// kafkajs 2.2.4 admin round (issue 4); prints one JSON line with what each
// step returned, for the Python test to check.
// Usage: node i4_admin.js HOST:PORT TOPIC   (NODE_PATH=tests/node/node_modules)
//
// createTopics (3 partitions, retention.ms=3600000, cleanup.policy=compact)
// -> createTopics again (kafkajs returns false for an existing topic)
// -> fetchTopicMetadata -> describeConfigs -> deleteTopics -> listTopics.
'use strict';
const { Kafka, logLevel, ConfigResourceTypes } = require('kafkajs');

const [bootstrap, topic] = process.argv.slice(2);
const kafka = new Kafka({
  clientId: 'brook-itest-js',
  brokers: [bootstrap],
  logLevel: logLevel.ERROR,
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 2 },
});

(async () => {
  const admin = kafka.admin();
  await admin.connect();
  const out = {};
  try {
    out.created = await admin.createTopics({
      waitForLeaders: true,
      timeout: 10000,
      topics: [
        {
          topic,
          numPartitions: 3,
          replicationFactor: 1,
          configEntries: [
            { name: 'retention.ms', value: '3600000' },
            { name: 'cleanup.policy', value: 'compact' },
          ],
        },
      ],
    });
    out.createdAgain = await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], timeout: 10000 });
    out.metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const dc = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
    });
    out.configs = dc.resources;
    out.topicsBeforeDelete = await admin.listTopics();
    await admin.deleteTopics({ topics: [topic], timeout: 10000 });
    // deletion is synchronous in Brook, but give a real Kafka's metadata a moment
    for (let i = 0; i < 50; i++) {
      out.topicsAfterDelete = await admin.listTopics();
      if (!out.topicsAfterDelete.includes(topic)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.disconnect();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
})().catch((e) => {
  process.stderr.write(`kafkajs error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
