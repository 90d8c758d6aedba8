import { Principal } from './principal';
import { parseScopeGrants } from './scope-grants';
import { InvalidScopesError } from './auth.errors';

describe('parseScopeGrants', () => {
  it('accepts names, names with a type pattern, and objects', () => {
    expect(
      parseScopeGrants([
        'events:publish',
        'subscriptions:read:order.*',
        { scope: 'streams:read', types: ['kitchen.**'] },
        'admin',
      ]),
    ).toEqual([
      { scope: 'events:publish', types: null },
      { scope: 'subscriptions:read', types: ['order.*'] },
      { scope: 'streams:read', types: ['kitchen.**'] },
      { scope: 'admin', types: null },
    ]);
  });

  it.each([
    [[], '/scopes'],
    ['events:publish', '/scopes'],
    [['events:eat'], '/scopes/0'],
    [[42], '/scopes/0'],
    [[{ scope: 'events:publish', types: [] }], '/scopes/0/types'],
    [[{ scope: 'events:publish', types: ['bad pattern'] }], '/scopes/0/types/0'],
    [[{ scope: 'events:publish', extra: 1 }], '/scopes/0'],
    [['events:publish', { scope: 'admin', types: ['order.*'] }], '/scopes/1/types'],
    [['admin:order.*'], '/scopes/0/types'],
  ])('refuses %j pointing at %s', (input, pointer) => {
    try {
      parseScopeGrants(input);
      throw new Error('expected a refusal');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidScopesError);
      expect((error as InvalidScopesError).details?.errors).toEqual(
        expect.arrayContaining([expect.objectContaining({ pointer })]),
      );
    }
  });
});

describe('Principal', () => {
  it('limits scopes to their type patterns', () => {
    const principal = new Principal(
      'k',
      'acme',
      parseScopeGrants(['events:publish:order.*', 'streams:read']),
    );
    expect(principal.allows('events:publish', 'order.created')).toBe(true);
    expect(principal.allows('events:publish', 'payment.captured')).toBe(false);
    expect(principal.allows('streams:read', 'payment.captured')).toBe(true);
    expect(principal.has('subscriptions:write')).toBe(false);
    expect(principal.typePatterns('events:publish')).toEqual(['order.*']);
    expect(principal.typePatterns('streams:read')).toBeNull();
    expect(principal.ownsTenant('acme')).toBe(true);
    expect(principal.ownsTenant('other')).toBe(false);
  });

  it('lets admin do everything for every tenant', () => {
    const admin = new Principal('admin', 'admin', [{ scope: 'admin', types: null }]);
    expect(admin.allows('events:publish', 'anything.at.all')).toBe(true);
    expect(admin.has('subscriptions:write')).toBe(true);
    expect(admin.ownsTenant('acme')).toBe(true);
  });

  it('takes an admin grant limited to types, stored before they were refused, for no admin', () => {
    const principal = new Principal('k', 'acme', [
      { scope: 'admin', types: ['order.*'] },
      { scope: 'events:publish', types: null },
    ]);
    expect(principal.isAdmin).toBe(false);
    expect(principal.has('admin')).toBe(false);
    expect(principal.allows('subscriptions:read', 'order.created')).toBe(false);
    expect(principal.ownsTenant('other')).toBe(false);
    expect(principal.allows('events:publish', 'payment.captured')).toBe(true);
  });

  it('merges an unlimited grant over limited ones', () => {
    const principal = new Principal(
      'k',
      't',
      parseScopeGrants(['events:publish:order.*', 'events:publish']),
    );
    expect(principal.allows('events:publish', 'payment.captured')).toBe(true);
  });
});
