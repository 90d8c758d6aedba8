import { Context, Query } from 'mingo';
import { resolve } from 'mingo/util';
import { RE2JS } from 're2js';
import type { SchemaViolation } from './payload.validator';

/** The query operators a subscription or stream filter may use (SPEC §5). */
export const FILTER_OPERATORS = [
  '$eq',
  '$ne',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$in',
  '$nin',
  '$exists',
  '$regex',
  '$and',
  '$or',
  '$not',
] as const;

/** Decides whether an event (the structured CloudEvent: `type`, `source`, `data.…`) matches. */
export type EventFilter = (event: Readonly<Record<string, unknown>>) => boolean;

export type EventFilterResult =
  | { readonly ok: true; readonly matches: EventFilter }
  | { readonly ok: false; readonly errors: SchemaViolation[] };

/** Limits that keep one filter cheap to evaluate on every event. */
export const FILTER_LIMITS = {
  maxDepth: 8,
  maxNodes: 200,
  maxListLength: 100,
  maxRegexLength: 256,
  maxPathLength: 200,
} as const;

const FIELD_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const REGEX_OPTIONS = /^[ims]*$/;
const REGEX_FLAGS: Readonly<Record<string, number>> = {
  i: RE2JS.CASE_INSENSITIVE,
  m: RE2JS.MULTILINE,
  s: RE2JS.DOTALL,
};

/**
 * `$regex` runs on RE2 (re2js), never on the JavaScript engine: a backtracking engine takes
 * exponential time on patterns like `(a|a)*$` that no syntax check reliably spots, and one
 * filter could then stall fanout for every tenant. RE2 matches in time linear in the input; it
 * has no lookaround and no backreferences, so those patterns are refused.
 */
function compileRegex(pattern: string, options: unknown): RE2JS {
  const letters = typeof options === 'string' ? [...options] : [];
  const flags = letters.reduce((all, letter) => all | (REGEX_FLAGS[letter] ?? 0), 0);
  return RE2JS.compile(pattern, flags);
}

// The operator mingo runs in place of `$regex` (a name a client cannot use: the checker refuses it).
const LINEAR_REGEX = '$heraldLinearRegex';

const FILTER_CONTEXT = Context.init().addQueryOps({
  // As mingo's own $regex: any string the path reaches matches, looking one array level down.
  [LINEAR_REGEX]: (selector: string, pattern: unknown, _options: unknown) => {
    const regex = pattern as RE2JS;
    const test = (value: unknown) => typeof value === 'string' && regex.test(value);
    return (document: unknown) => {
      const value: unknown = resolve(document as Record<string, unknown>, selector, {
        unwrapArray: true,
      });
      if (!Array.isArray(value)) return test(value);
      return value.some((item) => test(item) || (Array.isArray(item) && item.some(test)));
    };
  },
});

type Primitive = string | number | boolean | null;

function isPrimitive(value: unknown): value is Primitive {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pointerTo(base: string, key: string | number): string {
  return `${base}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

class FilterChecker {
  readonly errors: SchemaViolation[] = [];
  private nodes = 0;

  /** A query document: field conditions and `$and` / `$or`. */
  query(value: unknown, pointer: string, depth: number): void {
    if (!this.enter(pointer, depth)) return;
    if (!isPlainObject(value)) {
      this.fail(pointer, 'must be an object of field conditions');
      return;
    }
    for (const [key, condition] of Object.entries(value)) {
      const at = pointerTo(pointer, key);
      if (key === '$and' || key === '$or') this.queryList(condition, at, depth + 1);
      else if (key.startsWith('$'))
        this.unknownOperator(key, at, 'at query level only $and and $or');
      else if (key.length > FILTER_LIMITS.maxPathLength || !FIELD_PATH.test(key))
        this.fail(at, 'is not a field path (dotted names of letters, digits, _ and -)');
      else if (key.split('.').includes('__proto__'))
        // The query engine refuses such a path by throwing when it meets an event.
        this.fail(at, 'may not go through __proto__');
      else this.condition(condition, at, depth + 1);
    }
  }

  private queryList(value: unknown, pointer: string, depth: number): void {
    if (!Array.isArray(value) || value.length === 0) {
      this.fail(pointer, 'must be a non-empty array of conditions');
      return;
    }
    if (value.length > FILTER_LIMITS.maxListLength) {
      this.fail(pointer, `must have at most ${FILTER_LIMITS.maxListLength} entries`);
      return;
    }
    value.forEach((entry, index) => this.query(entry, pointerTo(pointer, index), depth));
  }

  /** What a field is compared with: a value (equality) or an operator object. */
  private condition(value: unknown, pointer: string, depth: number): void {
    if (!this.enter(pointer, depth)) return;
    if (isPrimitive(value)) return;
    if (Array.isArray(value)) {
      this.primitiveList(value, pointer);
      return;
    }
    if (!isPlainObject(value)) {
      this.fail(pointer, 'must be a value or an object of operators');
      return;
    }
    const keys = Object.keys(value);
    if (keys.length === 0) {
      this.fail(pointer, 'must not be empty');
      return;
    }
    if (!keys.every((key) => key.startsWith('$'))) {
      this.fail(pointer, 'must use operators only ($eq, $gt, …); compare whole objects with $eq');
      return;
    }
    this.operators(value, pointer, depth);
  }

  private operators(value: Record<string, unknown>, pointer: string, depth: number): void {
    for (const [operator, operand] of Object.entries(value)) {
      const at = pointerTo(pointer, operator);
      switch (operator) {
        case '$eq':
        case '$ne':
          if (!isPrimitive(operand) && !Array.isArray(operand))
            this.fail(at, 'must be a string, number, boolean, null or array of them');
          else if (Array.isArray(operand)) this.primitiveList(operand, at);
          break;
        case '$gt':
        case '$gte':
        case '$lt':
        case '$lte':
          if (
            typeof operand !== 'string' &&
            (typeof operand !== 'number' || !Number.isFinite(operand))
          )
            this.fail(at, 'must be a number or a string');
          break;
        case '$in':
        case '$nin':
          if (!Array.isArray(operand)) this.fail(at, 'must be an array');
          else this.primitiveList(operand, at);
          break;
        case '$exists':
          if (typeof operand !== 'boolean') this.fail(at, 'must be true or false');
          break;
        case '$regex':
          this.regex(operand, value['$options'], at);
          break;
        case '$options':
          if (!('$regex' in value)) this.fail(at, 'is only allowed next to $regex');
          else if (typeof operand !== 'string' || !REGEX_OPTIONS.test(operand))
            this.fail(at, 'must be made of the flags i, m and s');
          break;
        case '$not':
          if (
            !isPlainObject(operand) ||
            Object.keys(operand).length === 0 ||
            !Object.keys(operand).every((k) => k.startsWith('$'))
          )
            this.fail(at, 'must be an object of operators, like {"$regex": "^test"}');
          else if (this.enter(at, depth + 1)) this.operators(operand, at, depth + 1);
          break;
        default:
          this.unknownOperator(operator, at, 'not allowed here');
      }
    }
  }

  private regex(pattern: unknown, options: unknown, pointer: string): void {
    if (typeof pattern !== 'string') {
      this.fail(pointer, 'must be a regular expression as a string');
      return;
    }
    if (pattern.length > FILTER_LIMITS.maxRegexLength) {
      this.fail(pointer, `must be at most ${FILTER_LIMITS.maxRegexLength} characters`);
      return;
    }
    try {
      compileRegex(pattern, options);
    } catch (error) {
      this.fail(
        pointer,
        `is not a valid regular expression (RE2 syntax: no lookaround or backreferences): ${(error as Error).message}`,
      );
    }
  }

  private primitiveList(values: readonly unknown[], pointer: string): void {
    if (values.length > FILTER_LIMITS.maxListLength) {
      this.fail(pointer, `must have at most ${FILTER_LIMITS.maxListLength} entries`);
      return;
    }
    values.forEach((entry, index) => {
      if (!isPrimitive(entry))
        this.fail(pointerTo(pointer, index), 'must be a string, number, boolean or null');
    });
  }

  private unknownOperator(operator: string, pointer: string, why: string): void {
    const known = (FILTER_OPERATORS as readonly string[]).includes(operator);
    this.fail(
      pointer,
      known
        ? `operator ${operator} is ${why}`
        : `unknown operator ${operator}; allowed: ${FILTER_OPERATORS.join(' ')}`,
    );
  }

  private enter(pointer: string, depth: number): boolean {
    this.nodes += 1;
    if (depth > FILTER_LIMITS.maxDepth) {
      this.fail(pointer, `nests deeper than ${FILTER_LIMITS.maxDepth} levels`);
      return false;
    }
    if (this.nodes > FILTER_LIMITS.maxNodes) {
      if (this.nodes === FILTER_LIMITS.maxNodes + 1)
        this.fail(pointer, `the filter has more than ${FILTER_LIMITS.maxNodes} conditions`);
      return false;
    }
    return true;
  }

  private fail(pointer: string, message: string): void {
    this.errors.push({ pointer, message });
  }
}

/**
 * Checks a MongoDB-style filter against the operators and limits Herald allows, then compiles
 * it once with mingo. Errors point into the filter (`/data.total/$gtt`) so a caller can prefix
 * its own location. Matching never throws: an event without the field simply does not match.
 */
export function compileEventFilter(filter: unknown): EventFilterResult {
  const checker = new FilterChecker();
  checker.query(filter, '', 0);
  if (checker.errors.length > 0) return { ok: false, errors: checker.errors };
  let query: Query;
  try {
    query = new Query(withLinearRegex(filter as Record<string, unknown>), {
      context: FILTER_CONTEXT,
    });
  } catch (error) {
    return { ok: false, errors: [{ pointer: '', message: (error as Error).message }] };
  }
  return { ok: true, matches: (event) => query.test(event) };
}

/** A checked filter with every `$regex` (and its `$options`) swapped for its compiled RE2 form. */
function withLinearRegex(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(query).map(([key, condition]) => {
      if (key === '$and' || key === '$or')
        return [key, (condition as Record<string, unknown>[]).map(withLinearRegex)];
      return [key, isPlainObject(condition) ? linearOperators(condition) : condition];
    }),
  );
}

function linearOperators(operators: Record<string, unknown>): Record<string, unknown> {
  const rewritten: Record<string, unknown> = {};
  for (const [operator, operand] of Object.entries(operators)) {
    if (operator === '$regex')
      rewritten[LINEAR_REGEX] = compileRegex(operand as string, operators['$options']);
    else if (operator === '$not')
      rewritten[operator] = linearOperators(operand as Record<string, unknown>);
    else if (operator !== '$options') rewritten[operator] = operand;
  }
  return rewritten;
}
