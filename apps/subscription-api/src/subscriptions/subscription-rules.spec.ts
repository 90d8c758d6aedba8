import { join } from 'node:path';
import { Principal, parseScopeGrants } from '@herald/auth';
import { loadContract, validateTypePattern, type ContractRegistry } from '@herald/contract';
import { isRfc3339Time } from '@herald/kafka';
import { z } from 'zod';
import { MAX_TYPE_GLOB_LENGTH } from './create-subscription.dto';
import { expectedVersionOf } from './http-context';
import { problemsOf } from '../http/request-body';
import {
  checkFilter,
  checkHeaders,
  checkRetrySchedule,
  checkStartPosition,
  checkTypes,
} from './subscription-rules';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe('subscription rules', () => {
  let contract: ContractRegistry;
  const everything = new Principal('k', 't', parseScopeGrants(['subscriptions:write']));
  const ordersOnly = new Principal('k', 't', parseScopeGrants(['subscriptions:write:order.*']));

  beforeAll(async () => {
    contract = await loadContract(join(__dirname, '..', '..', '..', '..', 'asyncapi'));
  });

  it('keeps valid globs once each, in order', () => {
    expect(checkTypes(['order.*', 'kitchen.**', 'order.*'], contract, everything)).toEqual([
      'order.*',
      'kitchen.**',
    ]);
  });

  it('sorts glob problems into 400, 403 and 422', () => {
    expect(codeOf(() => checkTypes(['order..x'], contract, everything))).toBe(
      'subscriptions.invalid',
    );
    expect(codeOf(() => checkTypes(['payment.*'], contract, ordersOnly))).toBe(
      'subscriptions.forbidden',
    );
    expect(codeOf(() => checkTypes(['*.*'], contract, ordersOnly))).toBe('subscriptions.forbidden');
    expect(codeOf(() => checkTypes(['invoice.paid'], contract, everything))).toBe(
      'subscriptions.unprocessable',
    );
  });

  it('accepts latest, earliest and RFC 3339 times only', () => {
    expect(checkStartPosition('earliest')).toBe('earliest');
    expect(checkStartPosition('2025-03-14T12:00:00.5+01:00')).toBe('2025-03-14T12:00:00.5+01:00');
    expect(isRfc3339Time('2024-02-29T00:00:00Z')).toBe(true);
    expect(isRfc3339Time('2025-02-29T00:00:00Z')).toBe(false);
    for (const bad of ['2025-03-14', 'now', '2025-03-14 12:00:00Z', '2025-13-01T00:00:00Z']) {
      expect([bad, codeOf(() => checkStartPosition(bad))]).toEqual([bad, 'subscriptions.invalid']);
    }
  });

  it('points filter, schedule and header problems at their field', () => {
    expect(checkFilter(null)).toBeNull();
    expect(codeOf(() => checkFilter({ a: { $where: 'x' } }))).toBe('subscriptions.invalid');
    expect(codeOf(() => checkFilter({ a: 'x'.repeat(9000) }))).toBe('subscriptions.invalid');
    expect(checkRetrySchedule(['1s', '2m'])).toEqual(['1s', '2m']);
    expect(codeOf(() => checkRetrySchedule(['8d']))).toBe('subscriptions.invalid');
    expect(checkHeaders({ 'x-a': 'b' })).toEqual({ 'x-a': 'b' });
    expect(codeOf(() => checkHeaders({ 'herald-attempt': '9' }))).toBe(
      'subscriptions.unprocessable',
    );
  });

  it('turns zod issues into JSON pointers, one per unknown key', () => {
    const schema = z.strictObject({ a: z.strictObject({ 'b/c': z.number() }) });
    const result = schema.safeParse({ a: { 'b/c': 'x', extra: 1 }, other: 2 });
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(
      problemsOf(result.error.issues)
        .map((p) => p.pointer)
        .sort(),
    ).toEqual(['/a/b~1c', '/a/extra', '/other']);
  });

  it('reads If-Match versions', () => {
    expect(expectedVersionOf(undefined)).toBeUndefined();
    expect(expectedVersionOf('*')).toBeUndefined();
    expect(expectedVersionOf('"7"')).toBe(7);
    expect(expectedVersionOf('W/"7"')).toBe(7);
    expect(codeOf(() => expectedVersionOf('7'))).toBe('subscriptions.invalid');
  });

  // The request schema's own limit (which OpenAPI shows) must not cut below the glob syntax's.
  it('takes globs exactly as long as the contract does', () => {
    const glob = (length: number) => `order.${'x'.repeat(length - 'order.'.length)}`;
    expect(validateTypePattern(glob(MAX_TYPE_GLOB_LENGTH))).toBeUndefined();
    expect(validateTypePattern(glob(MAX_TYPE_GLOB_LENGTH + 1))).toBeDefined();
  });
});
