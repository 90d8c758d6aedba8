// Finds a Redis for tests: the one at REDIS_URL (default redis://127.0.0.1:6379) when it answers
// PING (over TLS for rediss://), otherwise a throwaway `redis-server` on a free port that is
// stopped afterwards. The launcher of `npm start` (tools/dev) probes REDIS_URL with the same code.
// Dependency-free on purpose: it runs before anything else and from plain Node scripts.
const net = require('node:net');
const tls = require('node:tls');
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

/** AUTH (when the URL has a password: as its user, or as the default one), then PING. */
function authAndPing(url) {
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  if (password === '') return [respCommand('PING')];
  const auth = user === '' ? respCommand('AUTH', password) : respCommand('AUTH', user, password);
  return [auth, respCommand('PING')];
}

/** `reply` as it may be shown: without the URL's password (a proxy may quote the command). */
function printableReply(reply, url) {
  const password = decodeURIComponent(url.password);
  const shown = password === '' ? reply : reply.split(password).join('***');
  return shown.length > 200 ? `${shown.slice(0, 200)}…` : shown;
}

/**
 * Asks the Redis at `url` for PING, with its credentials, as the apps' client (libs/store's
 * RedisConnection) reaches it: over TLS for a rediss: URL, with SNI for a host name, its
 * credentials going only to a server whose certificate verifies (against `ca` when given, else
 * Node's CAs and NODE_EXTRA_CA_CERTS; NODE_TLS_REJECT_UNAUTHORIZED=0 turns that off, as for
 * every TLS client in the process); over plain TCP for redis:. Resolves with what it found (see
 * RedisProbe in redis-harness.d.ts); never rejects. `timeoutMs` is for the whole exchange,
 * connect (and handshake) to PONG: default 1000 for redis:, 3000 for rediss: (a Redis behind
 * TLS is often a remote, managed one).
 */
function probeRedis(url, { timeoutMs, ca } = {}) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.resolve({ answers: false, failure: 'not a URL' });
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(parsed.port || 6379);
  if (parsed.protocol !== 'rediss:') {
    const socket = net.connect({ host, port });
    return pingOver(socket, 'connect', parsed, timeoutMs ?? 1000);
  }
  const socket = tls.connect({
    host,
    port,
    servername: net.isIP(host) === 0 ? host : undefined,
    ca,
    // Checked on secureConnect instead, to tell an untrusted server from an absent one.
    rejectUnauthorized: false,
  });
  return pingOver(socket, 'secureConnect', parsed, timeoutMs ?? 3000, () => {
    const verify = process.env.NODE_TLS_REJECT_UNAUTHORIZED !== '0';
    return socket.authorized || !verify
      ? undefined
      : { answers: false, untrustedCertificate: String(socket.authorizationError) };
  });
}

/**
 * Sends AUTH and PING on `socket` once it emits `connected`, unless `refuseToSend` then says why
 * not, and reads the replies. One deadline for the whole exchange: the socket's idle timeout
 * would not fire after a close.
 */
function pingOver(socket, connected, url, timeoutMs, refuseToSend = () => undefined) {
  return new Promise((resolve) => {
    let settled = false;
    const done = (probe) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket.destroy();
      resolve(probe);
    };
    let waitingFor = 'a connection';
    // A Redis without TLS accepts the connection, then waits for a command in the handshake.
    if (connected === 'secureConnect')
      socket.once('connect', () => (waitingFor = 'a TLS handshake (a Redis without TLS waits so)'));
    const deadline = setTimeout(
      () => done({ answers: false, failure: `waited ${timeoutMs} ms for ${waitingFor}` }),
      timeoutMs,
    );
    socket.once('error', (error) => done({ answers: false, failure: error.code ?? error.message }));
    socket.once('close', () =>
      done({ answers: false, failure: 'it closed the connection without a reply' }),
    );
    const commands = authAndPing(url);
    socket.once(connected, () => {
      const refused = refuseToSend();
      if (refused !== undefined) return done(refused);
      socket.write(commands.join(''));
      waitingFor = 'a reply';
    });
    let seen = '';
    socket.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      const replies = seen.split('\r\n').slice(0, -1);
      // An error reply (to AUTH or to PING) means this Redis will not serve us.
      const error = replies.find((reply) => reply.startsWith('-'));
      if (error !== undefined)
        done({ answers: false, errorReply: printableReply(error.slice(1), url) });
      else if (replies.some((reply) => !reply.startsWith('+')))
        done({ answers: false, failure: 'something other than Redis answered' });
      else if (replies.length >= commands.length) {
        const pong = replies[commands.length - 1] === '+PONG';
        done(pong ? { answers: true } : { answers: false, failure: 'no PONG to PING' });
      }
    });
  });
}

/**
 * Resolves true when a Redis at `url` accepts its credentials and answers PING within
 * `timeoutMs` (over TLS for a rediss: URL, see probeRedis); false for everything else: a URL
 * that does not parse, a refused connection, an error reply, an untrusted certificate, a peer
 * that hangs up without a reply (a TLS Redis asked without TLS, an HTTP server, …), or silence.
 */
async function pingRedis(url, timeoutMs, { ca } = {}) {
  return (await probeRedis(url, { timeoutMs, ca })).answers;
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
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    url,
    started: true,
    pid: child.pid,
    hang() {
      child.kill('SIGSTOP');
    },
    resume() {
      if (running()) child.kill('SIGCONT');
    },
    async stop() {
      if (running()) {
        // A hung one would not act on SIGTERM.
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        await exited;
      }
      cleanUp();
    },
  };
}

/**
 * The Redis at REDIS_URL (unset or blank: redis://127.0.0.1:6379) if it answers, else a started
 * one. A REDIS_URL that was set and names a Redis the tests cannot use for a reason a started
 * one would only hide (a rediss: URL that does not answer over TLS, a certificate not trusted, a
 * refused password) is an error naming that reason, as it is for `npm start`: the tests would
 * otherwise run against another Redis without saying so.
 */
async function ensureRedis(env = process.env) {
  const asked = env.REDIS_URL?.trim();
  const url = asked || DEFAULT_URL;
  const probe = await probeRedis(url);
  if (probe.answers) return { url, started: false, async stop() {} };
  const reason = asked ? unusableReason(url, probe) : undefined;
  if (reason !== undefined)
    throw new Error(
      `REDIS_URL ${withoutPassword(url)} cannot serve the tests: ${reason}. Fix it, or unset REDIS_URL to have the tests start a redis-server of their own.`,
    );
  return startRedisServer();
}

/** Why a set REDIS_URL is not to be replaced by a started Redis, or undefined. */
function unusableReason(url, probe) {
  if (probe.untrustedCertificate !== undefined)
    return `its TLS certificate is not trusted (${probe.untrustedCertificate})`;
  if (probe.errorReply !== undefined) return `it answered ${probe.errorReply}`;
  if (url.startsWith('rediss:')) return `no Redis answered over TLS (${probe.failure})`;
  return undefined;
}

function withoutPassword(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'that does not parse';
  }
}

module.exports = { probeRedis, pingRedis, freePort, startRedisServer, ensureRedis, DEFAULT_URL };
