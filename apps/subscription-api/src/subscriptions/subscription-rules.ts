import type { Principal } from '@herald/auth';
import {
  compileEventFilter,
  FILTER_LIMITS,
  validateTypePattern,
  type ContractRegistry,
} from '@herald/contract';
import { checkSubscriptionHeaders, parseRetrySchedule } from '@herald/delivery';
import { isHeraldError } from '@herald/errors';
import { isRfc3339Time } from '@herald/kafka';
import {
  InvalidSubscriptionRequestError,
  TypesNotAllowedError,
  UnprocessableRequestError,
  type RequestProblem,
} from './subscriptions.errors';

// The checks a subscription's fields go through beyond their JSON shape. Each throws the error
// whose status fits: 400 malformed, 403 not allowed for this key, 422 well-formed but refused.

/**
 * Type globs: valid syntax (400), each matching at least one type of the contract (422), and
 * every type a glob matches allowed to the key's `subscriptions:write` grant (403). Returns the
 * globs without duplicates, in the order given.
 */
export function checkTypes(
  types: readonly string[],
  contract: ContractRegistry,
  principal: Principal,
  pointer = '/types',
): string[] {
  const malformed: RequestProblem[] = [];
  types.forEach((glob, index) => {
    const problem = validateTypePattern(glob);
    if (problem) malformed.push({ pointer: `${pointer}/${index}`, message: problem });
  });
  if (malformed.length > 0) throw new InvalidSubscriptionRequestError(malformed);

  const unmatched: RequestProblem[] = [];
  const forbidden: RequestProblem[] = [];
  types.forEach((glob, index) => {
    const matched = contract.matchTypes(glob);
    if (matched.length === 0) {
      unmatched.push({
        pointer: `${pointer}/${index}`,
        message: `matches no event type; see GET /v1/event-types`,
      });
      return;
    }
    const refused = matched.filter((type) => !principal.allows('subscriptions:write', type));
    if (refused.length > 0) {
      forbidden.push({
        pointer: `${pointer}/${index}`,
        message: `matches ${refused.slice(0, 5).join(', ')}${refused.length > 5 ? ', …' : ''}, outside this key's subscriptions:write types (${(principal.typePatterns('subscriptions:write') ?? []).join(', ')})`,
      });
    }
  });
  if (forbidden.length > 0) throw new TypesNotAllowedError(forbidden);
  if (unmatched.length > 0) throw new UnprocessableRequestError(unmatched);
  return [...new Set(types)];
}

/** `latest`, `earliest` or an RFC 3339 time (400 otherwise). */
export function checkStartPosition(from: string, pointer = '/from'): string {
  if (from === 'latest' || from === 'earliest' || isRfc3339Time(from)) return from;
  throw new InvalidSubscriptionRequestError([
    { pointer, message: 'must be latest, earliest or an RFC 3339 time like 2025-03-14T12:00:00Z' },
  ]);
}

// JSON nesting no filter within FILTER_LIMITS.maxDepth comes near ($and, its array, a field,
// $not and an operand each add a level).
const MAX_FILTER_JSON_DEPTH = 4 * FILTER_LIMITS.maxDepth + 4;

/** Whether JSON nests deeper than `limit`, walked without recursion. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return false;
}

/** A filter that only uses the allowed operators and compiles (400 naming the bad part). */
export function checkFilter(
  filter: Readonly<Record<string, unknown>> | null,
  pointer = '/filter',
): Readonly<Record<string, unknown>> | null {
  if (filter === null) return null;
  // Checked before JSON.stringify, whose recursion a body nested thousands deep would exhaust.
  if (nestsDeeperThan(filter, MAX_FILTER_JSON_DEPTH)) {
    throw new InvalidSubscriptionRequestError([
      { pointer, message: `nests deeper than ${FILTER_LIMITS.maxDepth} levels` },
    ]);
  }
  if (JSON.stringify(filter).length > 8192) {
    throw new InvalidSubscriptionRequestError([
      { pointer, message: 'must be at most 8 KiB of JSON' },
    ]);
  }
  const result = compileEventFilter(filter);
  if (!result.ok) {
    throw new InvalidSubscriptionRequestError(
      result.errors.map((error) => ({
        pointer: `${pointer}${error.pointer}`,
        message: error.message,
      })),
    );
  }
  return filter;
}

/** Durations the retry policy understands (400 otherwise). */
export function checkRetrySchedule(
  schedule: readonly string[],
  pointer = '/retry/schedule',
): string[] {
  try {
    parseRetrySchedule(schedule);
  } catch (error) {
    if (isHeraldError(error))
      throw new InvalidSubscriptionRequestError([{ pointer, message: error.message }]);
    throw error;
  }
  return [...schedule];
}

/** Headers Herald may send: legal names and values, none of its own (422 otherwise). */
export function checkHeaders(
  headers: Readonly<Record<string, string>>,
  pointer = '/headers',
): Record<string, string> {
  try {
    checkSubscriptionHeaders(headers);
  } catch (error) {
    if (isHeraldError(error)) {
      throw new UnprocessableRequestError([{ pointer, message: error.message }]);
    }
    throw error;
  }
  return { ...headers };
}
