// Finds a Redis for tests: the one at REDIS_URL (default redis://127.0.0.1:6379) when it answers
// PING, otherwise a throwaway `redis-server` on a free port that is stopped afterwards.
// Dependency-free on purpose: it runs before anything else and from plain Node scripts.
const net = require('node:net');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const DEFAULT_URL = 'redis://127.0.0.1:6379';

/** Resolves true when a Redis at `url` answers PING within `timeoutMs`. */
function pingRedis(url, timeoutMs = 1000) {
  return new Promise((resolve) => {
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      resolve(false);
      return;
    }
    const socket = net.connect({
      host: parsed.hostname || '127.0.0.1',
      port: Number(parsed.port || 6379),
    });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      const auth = parsed.password ? `AUTH ${decodeURIComponent(parsed.password)}\r\n` : '';
      socket.write(`${auth}PING\r\n`);
    });
    let seen = '';
    socket.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      if (seen.includes('+PONG')) done(true);
      // An error reply (to AUTH or to PING) means this Redis will not serve us.
      else if (seen.startsWith('-') || seen.includes('\r\n-')) done(false);
    });
  });
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(check, deadlineMs, what) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
}

/**
 * Starts `redis-server` on a free port (or the given one). `dir` holds its files; with
 * `appendOnly` it keeps an append-only file there, otherwise nothing is persisted.
 */
async function startRedisServer({
  port,
  dir,
  appendOnly = false,
  binary = 'redis-server',
  detached = false,
} = {}) {
  const chosenPort = port ?? (await freePort());
  const workDir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'herald-redis-'));
  fs.mkdirSync(workDir, { recursive: true });
  const args = [
    '--port',
    String(chosenPort),
    '--bind',
    '127.0.0.1',
    '--dir',
    workDir,
    '--save',
    '',
    '--appendonly',
    appendOnly ? 'yes' : 'no',
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], detached });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const failed = new Promise((_, reject) => {
    child.once('error', (err) => reject(err));
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${stderr}`)));
  });
  const url = `redis://127.0.0.1:${chosenPort}`;
  await Promise.race([
    waitFor(() => pingRedis(url, 200), 10000, `redis-server on ${chosenPort}`),
    failed,
  ]);
  failed.catch(() => undefined); // later exits are reported by stop(), not as unhandled rejections
  return {
    url,
    started: true,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      if (!dir) fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** The Redis at REDIS_URL if it answers, else a started one. */
async function ensureRedis(env = process.env) {
  const url = env.REDIS_URL || DEFAULT_URL;
  if (await pingRedis(url)) return { url, started: false, async stop() {} };
  return startRedisServer();
}

module.exports = { pingRedis, freePort, startRedisServer, ensureRedis, DEFAULT_URL };
