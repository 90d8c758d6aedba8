import pino from 'pino';
import { ApiKeyNotices, ApiKeyRepository } from '@herald/store';
import { createTestStore } from '@herald/store/testing';
import { ApiKeyDeletionListener, type ApiKeyDeletion } from './api-key-deletion.listener';
import { Authenticator } from './authenticator';

async function waitFor(check: () => boolean, { what = 'condition' } = {}): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 10));
  }
}

interface LogLine {
  level: number;
  msg: string;
  err?: { message: string };
  keyId?: string;
}

describe('ApiKeyDeletionListener handlers (real Redis)', () => {
  let store: Awaited<ReturnType<typeof createTestStore>>;
  let repository: ApiKeyRepository;
  let authenticator: Authenticator;
  let listener: ApiKeyDeletionListener;
  const logs: LogLine[] = [];

  beforeAll(async () => {
    store = await createTestStore();
    repository = new ApiKeyRepository(store.redis, store.keys);
    authenticator = new Authenticator(repository, { adminKey: null });
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => logs.push(JSON.parse(line) as LogLine) },
    );
    listener = new ApiKeyDeletionListener(
      new ApiKeyNotices(store.redis, store.keys),
      authenticator,
      logger,
    );
    listener.onApplicationBootstrap();
    await listener.subscribed;
  });

  afterAll(async () => {
    await listener?.beforeApplicationShutdown();
    await store?.cleanup();
  });

  /** A stored key whose answer the authenticator now holds in its cache. */
  async function cachedKey(tenant = 'acme'): Promise<{ key: string; keyId: string }> {
    const { key, record } = await repository.create({
      name: 'n',
      tenant,
      scopes: [{ scope: 'streams:read', types: null }],
    });
    expect(await authenticator.authenticate(key)).not.toBeNull();
    expect(authenticator.answersWithoutRedis(key)).toBe(true);
    return { key, keyId: record.id };
  }

  const failures = () => logs.filter((l) => l.msg === 'API key deletion notices: listener failed');

  it('tells every onDeleted handler of a deletion, after forgetting the key’s cached answers, though one throws', async () => {
    const { key, keyId } = await cachedKey('tenant-d');
    const other = await cachedKey('tenant-d');
    const heard: { deletion: ApiKeyDeletion; stillCached: boolean }[] = [];
    const failuresBefore = failures().length;
    const stopThrowing = listener.onDeleted(() => {
      throw new Error('handler broke');
    });
    const stopHearing = listener.onDeleted((deletion) =>
      heard.push({ deletion, stillCached: authenticator.answersWithoutRedis(key) }),
    );
    try {
      expect(await repository.delete(keyId)).toBe(true);
      await waitFor(() => heard.length === 1, { what: 'the onDeleted handler' });
      expect(heard).toEqual([{ deletion: { keyId, tenant: 'tenant-d' }, stillCached: false }]);
      expect(authenticator.answersWithoutRedis(key)).toBe(false);
      // Only that key's answers.
      expect(authenticator.answersWithoutRedis(other.key)).toBe(true);
      expect(failures().slice(failuresBefore)).toEqual([
        expect.objectContaining({
          level: 40,
          err: expect.objectContaining({ message: 'handler broke' }),
        }),
      ]);
      expect(
        logs.some(
          (l) =>
            l.msg === 'API key deleted (its notice); forgot its cached auth' && l.keyId === keyId,
        ),
      ).toBe(true);
    } finally {
      stopThrowing();
      stopHearing();
    }

    // A handler removed is told nothing more.
    const { keyId: later } = await cachedKey();
    let told = 0;
    const stop = listener.onDeleted(() => (told += 1));
    stop();
    const probe: string[] = [];
    const stopProbe = listener.onDeleted(({ keyId: id }) => probe.push(id));
    await repository.delete(later);
    await waitFor(() => probe.includes(later), { what: 'the notice of the later key' });
    stopProbe();
    expect(told).toBe(0);
    expect(heard).toHaveLength(1);
  });

  it('tells every onResync handler when its connection comes back, after dropping every cached answer, though one throws', async () => {
    const a = await cachedKey();
    const b = await cachedKey();
    let resyncs = 0;
    let cachedAtResync: boolean | undefined;
    const failuresBefore = failures().length;
    const stopThrowing = listener.onResync(() => {
      throw new Error('resync handler broke');
    });
    const stopCounting = listener.onResync(() => {
      resyncs += 1;
      cachedAtResync = authenticator.answersWithoutRedis(a.key);
    });
    try {
      // The listener's own connection (named after the store's prefix) is dropped.
      const ids = ((await store.redis.client.client('LIST')) as string)
        .split('\n')
        .filter((line) => line.includes(`:api-key-notices:${store.prefix} `))
        .map((line) => /(?:^|\s)id=(\d+)/.exec(line)![1]!);
      expect(ids).toHaveLength(1);
      await store.redis.client.client('KILL', 'ID', ids[0]!);
      await waitFor(() => resyncs === 1, { what: 'the onResync handler' });
      expect(cachedAtResync).toBe(false);
      expect(authenticator.answersWithoutRedis(b.key)).toBe(false);
      expect(failures().slice(failuresBefore)).toEqual([
        expect.objectContaining({
          err: expect.objectContaining({ message: 'resync handler broke' }),
        }),
      ]);
      expect(
        logs.some(
          (l) => l.msg === 'API key deletion notices heard again; dropped every cached auth answer',
        ),
      ).toBe(true);
    } finally {
      stopThrowing();
      stopCounting();
    }

    // Subscribed again: the next deletion reaches the handlers.
    const heard: string[] = [];
    const stop = listener.onDeleted(({ keyId }) => heard.push(keyId));
    try {
      await repository.delete(a.keyId);
      await waitFor(() => heard.includes(a.keyId), { what: 'a notice after the reconnect' });
    } finally {
      stop();
    }
  });
});
