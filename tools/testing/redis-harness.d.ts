export const DEFAULT_URL: string;
/** What a probe of a Redis URL found. */
export interface RedisProbe {
  /** It accepted the URL's credentials and answered PING. */
  answers: boolean;
  /**
   * For a rediss: URL whose server presented a certificate this process does not trust: why
   * (OpenSSL's or Node's code, e.g. DEPTH_ZERO_SELF_SIGNED_CERT). Nothing was sent to it.
   */
  untrustedCertificate?: string;
  /**
   * A Redis is there but will not serve with these credentials: its error reply to AUTH or PING
   * (e.g. `WRONGPASS invalid username-password pair or user is disabled.`), the URL's password
   * cut out should it quote it.
   */
  errorReply?: string;
  /**
   * When nothing answered as Redis does: why (a connection error's code such as ECONNREFUSED, a
   * hang-up, something other than Redis answering, or the time it waited).
   */
  failure?: string;
}

export interface RedisProbeOptions {
  /**
   * For the whole exchange, connect (and TLS handshake) to PONG, in milliseconds; default 1000
   * for redis:, 3000 for rediss:.
   */
  timeoutMs?: number;
  /** rediss: only: the CA certificates to trust instead of Node's (with NODE_EXTRA_CA_CERTS). */
  ca?: string | Buffer;
}

/**
 * Asks the Redis at `url` for PING, with its credentials, as the apps reach it: over TLS (SNI
 * for a host name) for a rediss: URL, whose credentials go only to a server whose certificate
 * verifies; over plain TCP for redis:.
 */
export function probeRedis(url: string, options?: RedisProbeOptions): Promise<RedisProbe>;
/** True when probeRedis finds a Redis that answers PING with the URL's credentials. */
export function pingRedis(
  url: string,
  timeoutMs?: number,
  options?: Pick<RedisProbeOptions, 'ca'>,
): Promise<boolean>;
export function freePort(): Promise<number>;
export function startRedisServer(options?: {
  port?: number;
  dir?: string;
  appendOnly?: boolean;
  binary?: string;
  detached?: boolean;
  readyTimeoutMs?: number;
  /** Called as soon as it is spawned, before it answers. */
  onSpawn?: (child: import('node:child_process').ChildProcess) => void;
}): Promise<{
  url: string;
  started: true;
  pid: number;
  /** SIGSTOP: its connections stay open and nothing answers, as in a network partition. */
  hang(): void;
  /** SIGCONT, when it still runs (safe to call more than once). */
  resume(): void;
  /** Resumes it if hung, then SIGTERM; removes its folder unless `dir` was given. */
  stop(): Promise<void>;
}>;
/**
 * The Redis at REDIS_URL if it answers, else a started one; rejects when a set REDIS_URL names
 * a Redis the tests cannot use (rediss: not answering over TLS, an untrusted certificate, a
 * refused password) rather than start another one in its place.
 */
export function ensureRedis(
  env?: Record<string, string | undefined>,
): Promise<{ url: string; started: boolean; stop(): Promise<void> }>;
