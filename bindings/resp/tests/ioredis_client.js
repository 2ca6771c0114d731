// ioredis against emberkv-server: what a Node worker process does when it
// attaches to an emberkv owned by another process.
//
//   npm install ioredis            (anywhere on NODE_PATH, or set NODE_PATH)
//   node bindings/resp/tests/ioredis_client.js [path/to/emberkv-server]
//
// Without an argument it uses $EMBERKV_SERVER or target/debug/emberkv-server.
// It starts the server itself (TCP on a free loopback port and a Unix
// socket, in a temporary directory), runs every check, stops it, and
// prints "N passed, N failed".
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const assert = require('assert/strict');
const Redis = require('ioredis');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer(binary, dir, extra = []) {
  const port = await freePort();
  const sock = path.join(dir, `ekv-${port}.sock`);
  const proc = spawn(binary, ['--port', String(port), '--unixsocket', sock, ...extra], {
    cwd: dir,
    stdio: 'ignore',
  });
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return { proc, port, sock };
    await sleep(20);
  }
  proc.kill();
  throw new Error('emberkv-server did not start');
}

function stop(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve(proc.exitCode);
    proc.on('exit', (code) => resolve(code));
    proc.kill('SIGTERM');
  });
}

const checks = [];
const check = (name, f) => checks.push([name, f]);

async function supports(r, cmd) {
  try { await r.call(cmd); } catch (e) { return !String(e.message).includes('unknown command'); }
  return true;
}

check('strings and keys', async (env) => {
  const r = new Redis(env.port);
  assert.equal(await r.ping(), 'PONG');
  assert.equal(await r.set('greeting', 'hello'), 'OK');
  assert.equal(await r.get('greeting'), 'hello');
  assert.equal(await r.incr('n'), 1);
  assert.equal(await r.set('once', '1', 'NX'), 'OK');
  assert.equal(await r.set('once', '2', 'NX'), null);
  assert.deepEqual(await r.mget('greeting', 'missing'), ['hello', null]);
  const big = Buffer.alloc(3 << 20, 7);
  await r.set('big', big);
  assert.ok((await r.getBuffer('big')).equals(big));
  await assert.rejects(r.incr('greeting'), /not an integer/);
  r.disconnect();
});

check('pipelines and auto-pipelining', async (env) => {
  const r = new Redis(env.port);
  const p = r.pipeline();
  for (let i = 0; i < 2000; i++) p.set(`p:${i}`, i);
  for (let i = 0; i < 2000; i++) p.incr(`p:${i}`);
  const out = await p.exec();
  assert.ok(out.every(([err]) => err === null));
  assert.equal(out[3999][1], 2000);
  const auto = new Redis(env.port, { enableAutoPipelining: true });
  const got = await Promise.all(Array.from({ length: 500 }, (_, i) => auto.incr('auto')));
  assert.equal(Math.max(...got), 500);
  r.disconnect();
  auto.disconnect();
});

check('multi, exec and watch', async (env) => {
  const r = new Redis(env.port);
  const other = new Redis(env.port);
  assert.deepEqual(await r.multi().set('t', '1').incr('t').exec(), [[null, 'OK'], [null, 2]]);
  await r.set('w', '0');
  await r.watch('w');
  await other.set('w', 'changed');
  assert.equal(await r.multi().set('w', 'mine').exec(), null);
  assert.equal(await r.get('w'), 'changed');
  r.disconnect();
  other.disconnect();
});

check('pub/sub', async (env) => {
  const sub = new Redis(env.port);
  const pub = new Redis(env.port);
  const got = [];
  sub.on('message', (ch, msg) => got.push([ch, msg]));
  sub.on('pmessage', (pat, ch, msg) => got.push([pat, ch, msg]));
  assert.equal(await sub.subscribe('news', 'jobs'), 2);
  assert.equal(await sub.psubscribe('n*'), 3);
  assert.equal(await pub.publish('news', 'hello'), 2);
  for (let i = 0; i < 100; i++) await pub.publish('jobs', String(i));
  const deadline = Date.now() + 5000;
  while (got.length < 102 && Date.now() < deadline) await sleep(10);
  assert.equal(got.length, 102);
  assert.deepEqual(got.filter((m) => m[0] === 'jobs').map((m) => m[1]),
    Array.from({ length: 100 }, (_, i) => String(i)));
  // (ioredis waits forever on a bare UNSUBSCRIBE while patterns remain, with
  // redis-server too: name what to leave)
  await sub.punsubscribe('n*');
  await sub.unsubscribe('news', 'jobs');
  assert.equal(await sub.get('greeting'), 'hello');
  sub.disconnect();
  pub.disconnect();
});

check('unix socket', async (env) => {
  const r = new Redis({ path: env.sock });
  await r.set('via-unix', '1');
  const t = new Redis(env.port);
  assert.equal(await t.get('via-unix'), '1');
  const info = await r.client('INFO');
  assert.ok(info.includes(`addr=${env.sock}:0`), info);
  r.disconnect();
  t.disconnect();
});

check('client commands and info', async (env) => {
  const r = new Redis(env.port, { connectionName: 'node-worker' });
  assert.equal(await r.client('GETNAME'), 'node-worker');
  const list = await r.client('LIST');
  assert.ok(list.includes('name=node-worker') && list.includes('addr=127.0.0.1:'), list);
  const info = await r.info('stats');
  assert.match(info, /total_net_input_bytes:[1-9]/);
  r.disconnect();
});

check('blocking pop', async (env) => {
  const r = new Redis(env.port);
  if (!(await supports(r, 'BLPOP'))) {
    console.log('  (BLPOP not in this engine yet: skipped)');
    r.disconnect();
    return;
  }
  const waiter = new Redis(env.port);
  const pending = waiter.blpop('queue', 5);
  await sleep(200);
  await r.rpush('queue', 'job-1');
  assert.deepEqual(await pending, ['queue', 'job-1']);
  r.disconnect();
  waiter.disconnect();
});

check('authentication', async (env) => {
  const { proc, port } = await startServer(env.binary, env.dir, ['--requirepass', 's3cret']);
  try {
    const bad = new Redis(port, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    bad.on('error', () => {});
    await bad.connect().catch(() => {});
    await assert.rejects(bad.get('k'), /NOAUTH|Connection is closed|Stream isn't writeable/);
    bad.disconnect();
    const r = new Redis(port, { password: 's3cret' });
    assert.equal(await r.ping(), 'PONG');
    r.disconnect();
  } finally {
    await stop(proc);
  }
});

(async () => {
  const binary = process.argv[2] || process.env.EMBERKV_SERVER || path.join(ROOT, 'target', 'debug', 'emberkv-server');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ekv-ioredis-'));
  const { proc, port, sock } = await startServer(binary, dir);
  const env = { port, sock, binary, dir };
  let passed = 0;
  let failed = 0;
  for (const [name, f] of checks) {
    try {
      await f(env);
      passed++;
      console.log(`ok   ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}`);
      console.log(e);
    }
  }
  const code = await stop(proc);
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`ioredis ${require('ioredis/package.json').version}`);
  console.log(`ioredis: ${passed} passed, ${failed} failed`);
  if (code !== 0) console.log(`emberkv-server exited with ${code}`);
  process.exit(failed || code !== 0 ? 1 : 0);
})();
