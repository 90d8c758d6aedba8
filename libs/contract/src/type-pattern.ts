import { RE2JS } from 're2js';
import { InvalidTypePatternError } from './contract.errors';

// Event types are dotted names (`order.created`, `kitchen.order.ready`). A segment allows the
// characters that are safe in URLs, metric labels and Kafka headers without escaping.
const SEGMENT = /^[A-Za-z0-9_-]+$/;
const MAX_LENGTH = 256;

export type TypePredicate = (type: string) => boolean;

/** True when `type` is a well-formed event type name (dotted segments of `[A-Za-z0-9_-]`). */
export function isValidEventType(type: string): boolean {
  return (
    type.length > 0 &&
    type.length <= MAX_LENGTH &&
    type.split('.').every((segment) => SEGMENT.test(segment))
  );
}

/**
 * Returns why `pattern` is not a valid glob over event types, or undefined when it is.
 * Segments are literal, `*` (exactly one segment) or `**` (any number of segments, zero included).
 */
export function validateTypePattern(pattern: string): string | undefined {
  if (pattern.length === 0) return 'it is empty';
  if (pattern.length > MAX_LENGTH) return `it is longer than ${MAX_LENGTH} characters`;
  if (/\s/.test(pattern)) return 'it contains whitespace';
  for (const segment of pattern.split('.')) {
    if (segment === '') return 'it has an empty segment (leading, trailing or doubled dot)';
    if (segment === '*' || segment === '**') continue;
    if (segment.includes('*')) {
      return `segment "${segment}" mixes "*" with other characters; "*" and "**" must be whole segments`;
    }
    if (!SEGMENT.test(segment))
      return `segment "${segment}" may only contain letters, digits, "_" and "-"`;
  }
  return undefined;
}

/**
 * Compiles a glob over event types into a predicate, once, so matching on the hot path is a
 * single regular-expression test, in time linear in the type's length. Throws InvalidTypePatternError for a malformed pattern.
 */
export function compileTypePattern(pattern: string): TypePredicate {
  const problem = validateTypePattern(pattern);
  if (problem !== undefined) throw new InvalidTypePatternError(pattern, problem);

  const segments = pattern.split('.');
  if (!segments.includes('*') && !segments.includes('**')) return (type) => type === pattern;

  // Every segment, the type's last included, is matched together with a trailing dot so that
  // `**` can stand for zero segments without leaving a stray separator behind.
  const body = segments
    .filter((segment, i) => !(segment === '**' && segments[i - 1] === '**'))
    .map((segment) => {
      if (segment === '**') return '(?:[^.]+\\.)*';
      if (segment === '*') return '[^.]+\\.';
      return `${segment}\\.`;
    })
    .join('');
  // RE2, not the backtracking engine: `**.a.**.a.**.a.**.b` against a long dotted name takes
  // exponential time there (a tenant writes the glob; a record's type header is any string).
  const regex = RE2JS.compile(`^${body}$`);
  return (type) => regex.test(`${type}.`);
}
