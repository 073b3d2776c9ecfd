import test from 'ava';
import { ConfigError } from '../src/errors.js';
import { loadConfig } from '../src/config/load-config.js';
import { parseClusterUrl } from '../src/redis/redis-url.js';

test('a single-server URL is not a cluster', (t) => {
  t.is(parseClusterUrl('redis://127.0.0.1:6379'), null);
  t.is(parseClusterUrl('rediss://user:pw@cache.example:6380/2'), null);
});

test('a cluster URL gives its nodes, credentials and TLS', (t) => {
  t.deepEqual(parseClusterUrl('redis+cluster://127.0.0.1:7000,127.0.0.1:7001, node-3.internal:7002'), {
    nodes: [{ host: '127.0.0.1', port: 7000 }, { host: '127.0.0.1', port: 7001 }, { host: 'node-3.internal', port: 7002 }],
    tls: false,
  });
  t.deepEqual(parseClusterUrl('rediss+cluster://app:p%40ss@cache.example:6380/'), {
    nodes: [{ host: 'cache.example', port: 6380 }],
    username: 'app',
    password: 'p@ss',
    tls: true,
  });
  t.like(parseClusterUrl('redis+cluster://:secret@h:1'), { password: 'secret', nodes: [{ host: 'h', port: 1 }] });
});

test('a malformed cluster URL says what is wrong', (t) => {
  t.regex(t.throws(() => parseClusterUrl('redis+cluster://h:7000/0'))?.message ?? '', /no path or database number/);
  t.regex(t.throws(() => parseClusterUrl('redis+cluster://h:7000,h'))?.message ?? '', /cluster node "h" must be host:port/);
  t.regex(t.throws(() => parseClusterUrl('redis+cluster://h:70000'))?.message ?? '', /port from 1 to 65535/);
  t.regex(t.throws(() => parseClusterUrl('redis+cluster://h:0'))?.message ?? '', /port from 1 to 65535/);
  t.throws(() => parseClusterUrl('redis+cluster://'));
});

test('configuration rejects a malformed cluster URL, naming the setting and masking the password', (t) => {
  const err = t.throws(() => loadConfig({ env: { REDIS_URL: 'redis+cluster://u:hunter2@h1:7000,h2' } }), { instanceOf: ConfigError });
  t.is(err?.message, 'REDIS_URL: cluster node "h2" must be host:port with a port from 1 to 65535; got "redis+cluster://u:***@h1:7000,h2"');
  t.is(loadConfig({ env: { REDIS_URL: 'redis+cluster://h1:7000,h2:7001' } }).redisUrl, 'redis+cluster://h1:7000,h2:7001');
});

test('the notification index key must hold a hash tag, so its helpers share its cluster slot', (t) => {
  for (const bad of ['notified', 'a{}b', 'a}b{', '{unclosed']) {
    const err = t.throws(() => loadConfig({ env: { MTC_BATCH_NOTIFICATION_INDEX_KEY: bad } }), { instanceOf: ConfigError });
    t.regex(err?.message ?? '', /^MTC_BATCH_NOTIFICATION_INDEX_KEY must hold a \{hash tag\}/, bad);
  }
  t.is(loadConfig({ env: { MTC_BATCH_NOTIFICATION_INDEX_KEY: 'app:{overdue}:notified' } }).notificationIndexKey, 'app:{overdue}:notified');
});
