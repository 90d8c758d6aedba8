// The checks Herald makes of a subscription or stream filter (SPEC §5), repeated here so the
// console can say what is wrong while the partner types. The API stays the judge: whatever it
// still refuses is shown in its own words.

export interface FilterProblem {
  readonly pointer: string;
  readonly message: string;
}

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

const MAX_DEPTH = 8;
const MAX_NODES = 200;
const MAX_LIST = 100;
const MAX_REGEX = 256;
const MAX_PATH = 200;
const FIELD_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const REGEX_FLAGS = /^[ims]*$/;
// Herald runs $regex on RE2, which has no lookaround and no backreferences.
const NOT_IN_RE2 = /\(\?<?[=!]|\\[1-9]|\\k</;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isScalar = (value: unknown): boolean =>
  value === null ||
  typeof value === 'string' ||
  typeof value === 'boolean' ||
  (typeof value === 'number' && Number.isFinite(value));

const at = (pointer: string, key: string | number) =>
  `${pointer}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;

/** Every problem with a parsed filter; an empty list means Herald will take it. */
export function filterProblems(filter: unknown): FilterProblem[] {
  const problems: FilterProblem[] = [];
  let nodes = 0;
  const fail = (pointer: string, message: string): void => {
    problems.push({ pointer, message });
  };

  const enter = (pointer: string, depth: number): boolean => {
    nodes += 1;
    if (depth > MAX_DEPTH) {
      fail(pointer, `nests deeper than ${MAX_DEPTH} levels`);
      return false;
    }
    if (nodes > MAX_NODES) {
      if (nodes === MAX_NODES + 1)
        fail(pointer, `the filter has more than ${MAX_NODES} conditions`);
      return false;
    }
    return true;
  };

  const unknownOperator = (operator: string, pointer: string, where: string) =>
    fail(
      pointer,
      (FILTER_OPERATORS as readonly string[]).includes(operator)
        ? `operator ${operator} is ${where}`
        : `unknown operator ${operator}; allowed: ${FILTER_OPERATORS.join(' ')}`,
    );

  const scalars = (list: readonly unknown[], pointer: string) => {
    if (list.length > MAX_LIST) {
      fail(pointer, `must have at most ${MAX_LIST} entries`);
      return;
    }
    list.forEach((entry, index) => {
      if (!isScalar(entry)) fail(at(pointer, index), 'must be a string, number, boolean or null');
    });
  };

  const regex = (pattern: unknown, pointer: string) => {
    if (typeof pattern !== 'string')
      return fail(pointer, 'must be a regular expression as a string');
    if (pattern.length > MAX_REGEX) return fail(pointer, `must be at most ${MAX_REGEX} characters`);
    const problem = re2Problem(pattern);
    if (problem !== undefined)
      fail(
        pointer,
        `is not a valid regular expression (RE2 syntax: no lookaround or backreferences): ${problem}`,
      );
  };

  const operators = (value: Json, pointer: string, depth: number): void => {
    for (const [operator, operand] of Object.entries(value)) {
      const here = at(pointer, operator);
      switch (operator) {
        case '$eq':
        case '$ne':
          if (Array.isArray(operand)) scalars(operand, here);
          else if (!isScalar(operand))
            fail(here, 'must be a string, number, boolean, null or array of them');
          break;
        case '$gt':
        case '$gte':
        case '$lt':
        case '$lte':
          if (
            typeof operand !== 'string' &&
            !(typeof operand === 'number' && Number.isFinite(operand))
          )
            fail(here, 'must be a number or a string');
          break;
        case '$in':
        case '$nin':
          if (Array.isArray(operand)) scalars(operand, here);
          else fail(here, 'must be an array');
          break;
        case '$exists':
          if (typeof operand !== 'boolean') fail(here, 'must be true or false');
          break;
        case '$regex':
          regex(operand, here);
          break;
        case '$options':
          if (!('$regex' in value)) fail(here, 'is only allowed next to $regex');
          else if (typeof operand !== 'string' || !REGEX_FLAGS.test(operand))
            fail(here, 'must be made of the flags i, m and s');
          break;
        case '$not':
          if (
            !isObject(operand) ||
            Object.keys(operand).length === 0 ||
            !Object.keys(operand).every((key) => key.startsWith('$'))
          )
            fail(here, 'must be an object of operators, like {"$regex": "^test"}');
          else if (enter(here, depth + 1)) operators(operand, here, depth + 1);
          break;
        default:
          unknownOperator(operator, here, 'not allowed here');
      }
    }
  };

  const condition = (value: unknown, pointer: string, depth: number): void => {
    if (!enter(pointer, depth) || isScalar(value)) return;
    if (Array.isArray(value)) return scalars(value, pointer);
    if (!isObject(value)) return fail(pointer, 'must be a value or an object of operators');
    const keys = Object.keys(value);
    if (keys.length === 0) return fail(pointer, 'must not be empty');
    if (!keys.every((key) => key.startsWith('$')))
      return fail(pointer, 'must use operators only ($eq, $gt, …); compare whole objects with $eq');
    operators(value, pointer, depth);
  };

  const document = (value: unknown, pointer: string, depth: number): void => {
    if (!enter(pointer, depth)) return;
    if (!isObject(value)) return fail(pointer, 'must be an object of field conditions');
    for (const [key, entry] of Object.entries(value)) {
      const here = at(pointer, key);
      if (key === '$and' || key === '$or') {
        if (!Array.isArray(entry) || entry.length === 0)
          fail(here, 'must be a non-empty array of conditions');
        else if (entry.length > MAX_LIST) fail(here, `must have at most ${MAX_LIST} entries`);
        else entry.forEach((item, index) => document(item, at(here, index), depth + 1));
      } else if (key.startsWith('$'))
        unknownOperator(key, here, 'at query level only $and and $or');
      else if (key.length > MAX_PATH || !FIELD_PATH.test(key))
        fail(here, 'is not a field path (dotted names of letters, digits, _ and -)');
      else condition(entry, here, depth + 1);
    }
  };

  document(filter, '', 0);
  return problems;
}

/**
 * Why RE2 will refuse a pattern, as far as the browser can tell: lookaround and backreferences,
 * else what the browser's own engine finds wrong once RE2's inline flags and `(?P<name>` groups
 * are put its way. Lenient where the two dialects differ: Herald has the last word.
 */
function re2Problem(pattern: string): string | undefined {
  if (NOT_IN_RE2.test(pattern)) return 'lookaround and backreferences are not supported';
  const asJavaScript = pattern
    .replace(/\(\?[imsU]*(?:-[imsU]*)?\)/g, '')
    .replace(/\(\?[imsU]*(?:-[imsU]*)?:/g, '(?:')
    .replace(/\(\?P</g, '(?<');
  try {
    new RegExp(asJavaScript);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export type ParsedFilter =
  | { readonly ok: true; readonly filter: Json | null }
  | { readonly ok: false; readonly message: string };

/** A filter as typed in a text box: empty for none, else JSON Herald accepts. */
export function parseFilterText(text: string): ParsedFilter {
  if (text.trim() === '') return { ok: true, filter: null };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `The filter is not valid JSON: ${(error as Error).message}` };
  }
  const problems = filterProblems(value);
  if (problems.length > 0) {
    const [first] = problems as [FilterProblem, ...FilterProblem[]];
    const where = first.pointer === '' ? 'The filter' : `At ${first.pointer}, the filter`;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    return { ok: false, message: `${where}: ${first.message}${more}` };
  }
  return { ok: true, filter: value as Json };
}
