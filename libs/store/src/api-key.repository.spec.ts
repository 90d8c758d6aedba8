import { ApiKeyRepository, parseApiKeyToken } from './api-key.repository';
import { IdempotencyStore } from './idempotency.store';
import { createTestStore } from './testing';

describe('ApiKeyRepository (real Redis)', () => {
  let store: Awaited<ReturnType<typeof createTestStore>>;
  let keys: ApiKeyRepository;

  beforeAll(async () => {
    store = await createTestStore();
    keys = new ApiKeyRepository(store.redis, store.keys);
  });
  afterAll(() => store.cleanup());

  it('creates a key shown once, stores only its hash, and verifies it', async () => {
    const { record, key } = await keys.create({
      name: 'ci',
      tenant: 'acme',
      scopes: [{ scope: 'events:publish', types: ['order.*'] }],
    });
    expect(parseApiKeyToken(key)?.id).toBe(record.id);
    const stored = await store.redis.client.hgetall(store.keys.apiKey(record.id));
    expect(JSON.stringify(stored)).not.toContain(key.split('_').pop());
    expect(await keys.verify(key)).toEqual(record);
  });

  it('refuses a wrong secret, a malformed key and a deleted key', async () => {
    const { record, key } = await keys.create({
      name: 'x',
      tenant: 'acme',
      scopes: [{ scope: 'admin', types: null }],
    });
    const tampered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    expect(await keys.verify(tampered)).toBeNull();
    expect(await keys.verify('hk_nothex_nope')).toBeNull();
    expect(await keys.verify('')).toBeNull();
    expect(await keys.delete(record.id)).toBe(true);
    expect(await keys.verify(key)).toBeNull();
    expect(await keys.delete(record.id)).toBe(false);
  });

  it('lists per tenant and deletes only within the tenant when asked', async () => {
    const a = await keys.create({
      name: 'a',
      tenant: 'tenant-a',
      scopes: [{ scope: 'streams:read', types: null }],
    });
    await keys.create({
      name: 'b',
      tenant: 'tenant-b',
      scopes: [{ scope: 'streams:read', types: null }],
    });
    expect((await keys.list('tenant-a')).map((k) => k.name)).toEqual(['a']);
    expect((await keys.list()).map((k) => k.name)).toEqual(expect.arrayContaining(['a', 'b']));
    expect(await keys.delete(a.record.id, 'tenant-b')).toBe(false);
    expect(await keys.get(a.record.id)).not.toBeNull();
  });
});

describe('IdempotencyStore (real Redis)', () => {
  let store: Awaited<ReturnType<typeof createTestStore>>;

  beforeAll(async () => {
    store = await createTestStore();
  });
  afterAll(() => store.cleanup());

  it('reserves once, reports pending to a concurrent writer, then the first result', async () => {
    const idem = new IdempotencyStore<{ offset: string }>(store.redis, store.keys);
    const [first, second] = await Promise.all([idem.reserve('t', 'e1'), idem.reserve('t', 'e1')]);
    expect([first.state, second.state].sort()).toEqual(['pending', 'reserved']);
    await idem.complete('t', 'e1', { offset: '7' });
    expect(await idem.reserve('t', 'e1')).toEqual({ state: 'done', result: { offset: '7' } });
    expect(await store.redis.client.ttl(store.keys.idempotency('t', 'e1'))).toBeGreaterThan(86_000);
  });

  it('keeps tenants apart and lets a released id be written again', async () => {
    const idem = new IdempotencyStore<number>(store.redis, store.keys);
    expect((await idem.reserve('a', 'same')).state).toBe('reserved');
    expect((await idem.reserve('b', 'same')).state).toBe('reserved');
    await idem.release('a', 'same');
    expect((await idem.reserve('a', 'same')).state).toBe('reserved');
    await idem.complete('b', 'same', 1);
    await idem.release('b', 'same');
    expect(await idem.reserve('b', 'same')).toEqual({ state: 'done', result: 1 });
  });

  it('reserves many ids in one go, reporting done and pending ones', async () => {
    const idem = new IdempotencyStore<string>(store.redis, store.keys);
    await idem.complete('m', 'done-1', 'first');
    expect((await idem.reserve('m', 'busy-1')).state).toBe('reserved');
    expect(await idem.reserveAll('m', ['new-1', 'done-1', 'busy-1', 'new-2'])).toEqual([
      { state: 'reserved' },
      { state: 'done', result: 'first' },
      { state: 'pending' },
      { state: 'reserved' },
    ]);
    expect(await idem.reserveAll('m', [])).toEqual([]);
  });

  it('completes many ids in one go, each kept for the retention time', async () => {
    const idem = new IdempotencyStore<number>(store.redis, store.keys);
    await idem.reserveAll('c', ['x', 'y']);
    await idem.completeAll('c', [
      { eventId: 'x', result: 1 },
      { eventId: 'y', result: 2 },
    ]);
    expect(await idem.reserveAll('c', ['x', 'y'])).toEqual([
      { state: 'done', result: 1 },
      { state: 'done', result: 2 },
    ]);
    expect(await store.redis.client.ttl(store.keys.idempotency('c', 'y'))).toBeGreaterThan(86_000);
    await idem.completeAll('c', []);
  });
});
