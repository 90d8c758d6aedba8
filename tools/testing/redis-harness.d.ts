export const DEFAULT_URL: string;
export function pingRedis(url: string, timeoutMs?: number): Promise<boolean>;
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
}): Promise<{ url: string; started: true; pid: number; stop(): Promise<void> }>;
export function ensureRedis(
  env?: Record<string, string | undefined>,
): Promise<{ url: string; started: boolean; stop(): Promise<void> }>;
