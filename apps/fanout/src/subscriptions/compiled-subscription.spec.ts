import { randomBytes } from 'node:crypto';
import { SecretCipher, SubscriptionRepository } from '@herald/store';
import { createTestStore, newSubscriptionRecord } from '@herald/store/testing';
import { compileSubscription, NO_SECRETS } from './compiled-subscription';
import { storedSubscription, TEST_SECRET } from './subscription.fixture';

describe('compileSubscription and secrets', () => {
  it('takes a webhook with a well-formed signing secret as usable', () => {
    const entry = compileSubscription(storedSubscription('sub_ok'));
    expect(entry.secretsProblem).toBeNull();
    expect(entry.matchesType('order.created')).toBe(true);
  });

  it.each([
    ['not whsec_', { current: 'secret', previous: null }],
    ['not base64', { current: 'whsec_not*base64', previous: null }],
  ])('refuses a webhook whose signing secret is %s: it matches nothing', (_, signing) => {
    const stored = storedSubscription('sub_bad');
    const entry = compileSubscription({ ...stored, secrets: { signing, auth: null } });
    expect(entry.secretsProblem).toMatch(/signing secret/);
    expect(entry.problem).toContain('secrets: ');
    expect(entry.matchesType('order.created')).toBe(false);
  });

  it('delivers with the new secret alone while a previous one that does not decode is in its grace', () => {
    // A rotation away from a damaged secret keeps it through the grace (a day by default).
    const stored = storedSubscription('sub_rotated');
    const signing = {
      current: TEST_SECRET,
      previous: { secret: 'whsec_x', expiresAt: '2999-01-01T00:00:00Z' },
    };
    const entry = compileSubscription({ ...stored, secrets: { signing, auth: null } });
    expect(entry.problem).toBeNull();
    expect(entry.matchesType('order.created')).toBe(true);
    expect(entry.secrets.signing).toEqual({ current: TEST_SECRET, previous: null });
  });

  it('ignores a previous secret past its grace (it is no longer sent)', () => {
    const stored = storedSubscription('sub_old');
    const signing = {
      current: TEST_SECRET,
      previous: { secret: 'whsec_x', expiresAt: '2000-01-01T00:00:00Z' },
    };
    expect(compileSubscription({ ...stored, secrets: { signing, auth: null } }).problem).toBeNull();
  });

  it('refuses a webhook whose sealed secrets did not open, but not a stream (it signs nothing)', () => {
    const webhook = storedSubscription('sub_sealed');
    const unreadable = { secrets: NO_SECRETS, secretsError: 'the sealed secret does not open' };
    expect(compileSubscription({ ...webhook, ...unreadable }).secretsProblem).toBe(
      'the sealed secret does not open',
    );
    const stream = storedSubscription('sub_stream', { kind: 'stream', url: null });
    const entry = compileSubscription({ ...stream, ...unreadable });
    expect(entry.secretsProblem).toBeNull();
    expect(entry.matchesType('order.created')).toBe(true);
  });
});

describe('compileSubscription of what the store hands back for secrets that do not open', () => {
  it('reads as a secrets problem instead of throwing (a disable saved while they were broken)', async () => {
    const store = await createTestStore();
    try {
      const repository = new SubscriptionRepository(
        store.redis,
        store.keys,
        new SecretCipher(randomBytes(32)),
      );
      const { subscription } = await repository.create(newSubscriptionRecord(), {
        signing: { current: TEST_SECRET, previous: null },
        auth: null,
      });
      const key = store.keys.subscription(subscription.id);
      const sealed = (await store.redis.client.hget(key, 'sealed'))!;
      await store.redis.client.hset(key, 'sealed', sealed.slice(0, -6));
      const disabled = await repository.update(subscription.id, (current) => ({
        ...current,
        subscription: { ...current.subscription, status: 'disabled' },
      }));
      const entry = compileSubscription(disabled);
      expect(entry.secretsProblem).toMatch(/does not open/);
      expect(entry.matchesType('order.created')).toBe(false);
    } finally {
      await store.cleanup();
    }
  });
});
