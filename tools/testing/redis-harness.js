// Finds a Redis for tests: the one at REDIS_URL (default redis://127.0.0.1:6379) when it answers
// PING, otherwise a throwaway `redis-server` on a free port that is stopped afterwards.
// Dependency-free on purpose: it runs before anything else and from plain Node scripts.
const net = require('node:net');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const DEFAULT_URL = 'redis://127.0.0.1:6379';

/** One command in RESP, Redis's wire format: safe for any bytes in the arguments. */
function respCommand(...args) {
  const parts = args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return `*${args.length}\r\n${parts.join('')}`;
}

/**
 * Resolves true when a Redis at `url` accepts its credentials and answers PING within
 * `timeoutMs`; false for everything else: a URL that does not parse, a refused connection, an
 * error reply, a peer that hangs up without one (a TLS Redis, an HTTP server, …), or silence.
 */
function pingRedis(url, timeoutMs = 1000) {
  return new Promise((resolve) => {
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      resolve(false);
      return;
    }
    const commands = [];
    // `redis://user:pass@` authenticates as an ACL user, `redis://:pass@` as the default one.
    if (parsed.password !== '') {
      const password = decodeURIComponent(parsed.password);
      commands.push(
        parsed.username !== ''
          ? respCommand('AUTH', decodeURIComponent(parsed.username), password)
          : respCommand('AUTH', password),
      );
    }
    commands.push(respCommand('PING'));
    const socket = net.connect({
      host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
      port: Number(parsed.port || 6379),
    });
    let settled = false;
    const done = (ok) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket.destroy();
      resolve(ok);
    };
    // One deadline for the whole exchange; the socket's idle timeout would not fire after a close.
    const deadline = setTimeout(() => done(false), timeoutMs);
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
    socket.once('connect', () => socket.write(commands.join('')));
    let seen = '';
    socket.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      const replies = seen.split('\r\n').slice(0, -1);
      // An error reply (to AUTH or to PING) means this Redis will not serve us.
      if (replies.some((reply) => !reply.startsWith('+'))) done(false);
      else if (replies.length >= commands.length) done(replies[commands.length - 1] === '+PONG');
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
 * `appendOnly` it keeps an append-only file there, otherwise nothing is persisted. When it does
 * not answer within `readyTimeoutMs` (default 10000), or exits first, it is stopped and the
 * error quotes the end of its log (where redis-server says why). `onSpawn` is called with the
 * child process as soon as it is spawned, before it answers (the dev launcher's watchdog watches
 * it from then on).
 */
async function startRedisServer({
  port,
  dir,
  appendOnly = false,
  binary = 'redis-server',
  detached = false,
  readyTimeoutMs = 10000,
  onSpawn = () => undefined,
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
  // redis-server logs to stdout. The output is read all along (a full pipe would block it) and
  // only its end is kept, for the error message.
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached });
  onSpawn(child);
  let output = '';
  const keep = (chunk) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const lastLines = () =>
    output
      .trim()
      .split('\n')
      .slice(-5)
      .map((line) => `  ${line}`)
      .join('\n');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const failed = new Promise((_, reject) => {
    child.once('error', (err) => reject(err));
    child.once('exit', (code, signal) =>
      reject(
        new Error(
          `redis-server exited with ${code ?? signal} before it answered on port ${chosenPort}:\n${lastLines()}`,
        ),
      ),
    );
  });
  failed.catch(() => undefined); // later exits are reported by stop(), not as unhandled rejections
  const cleanUp = () => {
    if (!dir) fs.rmSync(workDir, { recursive: true, force: true });
  };
  const url = `redis://127.0.0.1:${chosenPort}`;
  try {
    await Promise.race([
      waitFor(() => pingRedis(url, 200), readyTimeoutMs, `redis-server on ${chosenPort}`),
      failed,
    ]);
  } catch (error) {
    // No pid: it never ran (no such binary), so there is nothing to stop.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    cleanUp();
    if (error instanceof Error && error.message.startsWith('timed out'))
      error.message += `; its log ends:\n${lastLines()}`;
    throw error;
  }
  return {
    url,
    started: true,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      cleanUp();
    },
  };
}

/** The Redis at REDIS_URL (unset or blank: redis://127.0.0.1:6379) if it answers, else a started one. */
async function ensureRedis(env = process.env) {
  const url = env.REDIS_URL?.trim() || DEFAULT_URL;
  if (await pingRedis(url)) return { url, started: false, async stop() {} };
  return startRedisServer();
}

module.exports = { pingRedis, freePort, startRedisServer, ensureRedis, DEFAULT_URL };
