import { ApiKeyRepository, parseApiKeyToken } from './api-key.repository';
import { IdempotencyStore, type Reservation } from './idempotency.store';
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

  /** The token of a reservation the test expects to have been taken. */
  const tokenOf = <T>(reservation: Reservation<T>): string => {
    if (reservation.state !== 'reserved') throw new Error(`not reserved: ${reservation.state}`);
    return reservation.token;
  };

  it('reserves once, reports pending to a concurrent writer, then the first result', async () => {
    const idem = new IdempotencyStore<{ offset: string }>(store.redis, store.keys);
    const [first, second] = await Promise.all([idem.reserve('t', 'e1'), idem.reserve('t', 'e1')]);
    expect([first.state, second.state].sort()).toEqual(['pending', 'reserved']);
    const token = tokenOf(first.state === 'reserved' ? first : second);
    await idem.complete('t', 'e1', token, { offset: '7' });
    expect(await idem.reserve('t', 'e1')).toEqual({ state: 'done', result: { offset: '7' } });
    expect(await store.redis.client.ttl(store.keys.idempotency('t', 'e1'))).toBeGreaterThan(86_000);
  });

  it('keeps tenants apart and lets a released id be written again', async () => {
    const idem = new IdempotencyStore<number>(store.redis, store.keys);
    const a = tokenOf(await idem.reserve('a', 'same'));
    const b = tokenOf(await idem.reserve('b', 'same'));
    await idem.release('a', 'same', a);
    expect((await idem.reserve('a', 'same')).state).toBe('reserved');
    await idem.complete('b', 'same', b, 1);
    await idem.release('b', 'same', b);
    expect(await idem.reserve('b', 'same')).toEqual({ state: 'done', result: 1 });
  });

  it('lets only its own writer settle a reservation, even after it ran out', async () => {
    const idem = new IdempotencyStore<string>(store.redis, store.keys);
    const old = tokenOf(await idem.reserve('o', 'e'));
    // The old write outlives its reservation, and a newer request for the id reserves it.
    await store.redis.client.del(store.keys.idempotency('o', 'e'));
    const newer = tokenOf(await idem.reserve('o', 'e'));
    // The old write fails late, or succeeds late: the newer reservation still holds.
    await idem.release('o', 'e', old);
    expect(await idem.reserve('o', 'e')).toEqual({ state: 'pending' });
    await idem.complete('o', 'e', old, 'old');
    expect(await idem.reserve('o', 'e')).toEqual({ state: 'pending' });
    await idem.complete('o', 'e', newer, 'newer');
    expect(await idem.reserve('o', 'e')).toEqual({ state: 'done', result: 'newer' });
    // A result is never released or overwritten, not even by its own writer.
    await idem.release('o', 'e', newer);
    await idem.complete('o', 'e', newer, 'again');
    expect(await idem.reserve('o', 'e')).toEqual({ state: 'done', result: 'newer' });
  });

  it('records a result whose reservation ran out when nobody reserved the id since', async () => {
    const idem = new IdempotencyStore<string>(store.redis, store.keys);
    const token = tokenOf(await idem.reserve('g', 'e'));
    await store.redis.client.del(store.keys.idempotency('g', 'e'));
    await idem.complete('g', 'e', token, 'late');
    expect(await idem.reserve('g', 'e')).toEqual({ state: 'done', result: 'late' });
  });

  it('reserves many ids in one go, reporting done and pending ones', async () => {
    const idem = new IdempotencyStore<string>(store.redis, store.keys);
    const done = tokenOf(await idem.reserve('m', 'done-1'));
    await idem.complete('m', 'done-1', done, 'first');
    expect((await idem.reserve('m', 'busy-1')).state).toBe('reserved');
    const token = expect.any(String) as string;
    expect(await idem.reserveAll('m', ['new-1', 'done-1', 'busy-1', 'new-2'])).toEqual([
      { state: 'reserved', token },
      { state: 'done', result: 'first' },
      { state: 'pending' },
      { state: 'reserved', token },
    ]);
    expect(await idem.reserveAll('m', [])).toEqual([]);
  });

  it('completes many ids in one go, each kept for the retention time', async () => {
    const idem = new IdempotencyStore<number>(store.redis, store.keys);
    const [x, y] = (await idem.reserveAll('c', ['x', 'y'])).map(tokenOf);
    await idem.completeAll('c', [
      { eventId: 'x', token: x!, result: 1 },
      { eventId: 'y', token: y!, result: 2 },
    ]);
    expect(await idem.reserveAll('c', ['x', 'y'])).toEqual([
      { state: 'done', result: 1 },
      { state: 'done', result: 2 },
    ]);
    expect(await store.redis.client.ttl(store.keys.idempotency('c', 'y'))).toBeGreaterThan(86_000);
    await idem.completeAll('c', []);
  });
});
