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
    [
      'a previous one in its grace that does not decode',
      { current: TEST_SECRET, previous: { secret: 'whsec_x', expiresAt: '2999-01-01T00:00:00Z' } },
    ],
  ])('refuses a webhook whose signing secret is %s: it matches nothing', (_, signing) => {
    const stored = storedSubscription('sub_bad');
    const entry = compileSubscription({ ...stored, secrets: { signing, auth: null } });
    expect(entry.secretsProblem).toMatch(/signing secret/);
    expect(entry.problem).toContain('secrets: ');
    expect(entry.matchesType('order.created')).toBe(false);
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
