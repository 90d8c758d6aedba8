import { validateTypePattern } from '@herald/contract';
import { SCOPES, type Scope, type ScopeGrant } from '@herald/store';
import { InvalidScopesError } from './auth.errors';

/**
 * Parses the scopes of a new API key. Each entry is a scope name (`"events:publish"`), a name
 * limited to type patterns after a colon (`"events:publish:order.*"`), or an object
 * `{ "scope": "events:publish", "types": ["order.*"] }`. `admin` cannot be limited: it manages
 * keys and acts for every tenant, which no list of event types can narrow.
 */
export function parseScopeGrants(input: unknown): ScopeGrant[] {
  const errors: { pointer: string; message: string }[] = [];
  if (!Array.isArray(input) || input.length === 0) {
    throw new InvalidScopesError([{ pointer: '/scopes', message: 'must be a non-empty array' }]);
  }
  const grants: ScopeGrant[] = [];
  input.forEach((entry: unknown, index) => {
    const pointer = `/scopes/${index}`;
    let scope: unknown;
    let types: unknown;
    if (typeof entry === 'string') {
      const [a, b, ...rest] = entry.split(':');
      if (a === 'admin') {
        scope = 'admin';
        types = b === undefined ? null : [[b, ...rest].join(':')];
      } else {
        scope = `${a}:${b}`;
        types = rest.length > 0 ? [rest.join(':')] : null;
      }
    } else if (entry && typeof entry === 'object' && !Array.isArray(entry)) {
      const object = entry as Record<string, unknown>;
      const unknownKeys = Object.keys(object).filter((k) => k !== 'scope' && k !== 'types');
      if (unknownKeys.length > 0)
        errors.push({ pointer, message: `unknown field(s) ${unknownKeys.join(', ')}` });
      scope = object.scope;
      types = object.types ?? null;
    } else {
      errors.push({ pointer, message: 'must be a scope string or {scope, types}' });
      return;
    }
    if (typeof scope !== 'string' || !(SCOPES as readonly string[]).includes(scope)) {
      errors.push({ pointer, message: `unknown scope; expected one of ${SCOPES.join(', ')}` });
      return;
    }
    if (types !== null && scope === 'admin') {
      errors.push({
        pointer: `${pointer}/types`,
        message: 'admin cannot be limited to event types: it acts for every tenant and type',
      });
      return;
    }
    if (types !== null) {
      if (
        !Array.isArray(types) ||
        types.length === 0 ||
        !types.every((t) => typeof t === 'string')
      ) {
        errors.push({
          pointer: `${pointer}/types`,
          message: 'must be a non-empty array of type patterns',
        });
        return;
      }
      for (const [i, pattern] of types.entries()) {
        const problem = validateTypePattern(pattern);
        if (problem) errors.push({ pointer: `${pointer}/types/${i}`, message: problem });
      }
    }
    grants.push({ scope: scope as Scope, types: types });
  });
  if (errors.length > 0) throw new InvalidScopesError(errors);
  return grants;
}
