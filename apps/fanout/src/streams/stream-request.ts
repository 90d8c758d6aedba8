import { compileEventFilter, validateTypePattern, type EventFilter } from '@herald/contract';
import { isRfc3339Time, decodeCursor, type CursorPositions } from '@herald/kafka';
import {
  InvalidStreamFilterError,
  InvalidStreamRequestError,
  StreamTypesForbiddenError,
  UnknownStreamTypesError,
} from './streams.errors';

/** Where a stream starts when it does not resume from a cursor. */
export type StartFrom = 'latest' | 'earliest' | { timeMs: number };

/** Where a stream starts: right after a cursor, or at a `from` position. */
export type StreamStart = { cursor: CursorPositions; text: string } | { from: StartFrom };

/** What one connection receives: concrete event types (globs expanded once) and a compiled filter. */
export interface StreamSelection {
  readonly types: ReadonlySet<string>;
  readonly filter: EventFilter | null;
  /**
   * Herald's own events (`herald.*`) are about one tenant (`data.tenant`): only that tenant's
   * streams get them. Null: every tenant's (an admin key's own stream).
   */
  readonly tenant: string | null;
}

/** Whether a stream for `selection` may carry `event` as far as tenants go (SPEC §5). */
export function tenantMayRead(
  selection: StreamSelection,
  type: string,
  event: Readonly<Record<string, unknown>>,
): boolean {
  if (selection.tenant === null || !type.startsWith('herald.')) return true;
  const data = event['data'];
  const tenant =
    data !== null && typeof data === 'object' ? (data as { tenant?: unknown }).tenant : undefined;
  return tenant === selection.tenant;
}

/** The parts of the contract selection needs. */
export interface TypeCatalog {
  eventTypes(): readonly string[];
  matchTypes(pattern: string): string[];
}

/** The parts of the caller's principal selection needs. */
export interface StreamReader {
  allows(scope: 'streams:read', type: string): boolean;
}

const MAX_PATTERNS = 100;

/** `types` as a query value (`order.*,kitchen.**`, or repeated) or a JSON array; undefined when absent. */
export function parseTypes(value: unknown, pointer = '/types'): string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const list = Array.isArray(value)
    ? value
    : typeof value === 'string'
      ? value.split(',').map((s) => s.trim())
      : null;
  if (list === null || !list.every((t): t is string => typeof t === 'string'))
    throw new InvalidStreamRequestError('types must be a list of event-type patterns', [
      { pointer, message: 'must be a comma-separated string or an array of strings' },
    ]);
  if (list.length === 0 || list.length > MAX_PATTERNS)
    throw new InvalidStreamRequestError(`types must name 1 to ${MAX_PATTERNS} patterns`, [
      { pointer, message: `must name 1 to ${MAX_PATTERNS} patterns` },
    ]);
  const errors = list.flatMap((pattern, i) => {
    const problem = validateTypePattern(pattern);
    return problem === undefined ? [] : [{ pointer: `${pointer}/${i}`, message: problem }];
  });
  if (errors.length > 0)
    throw new InvalidStreamRequestError(
      `types has invalid patterns: ${errors.map((e) => e.message).join('; ')}`,
      errors,
    );
  return list;
}

/**
 * Expands type globs against the contract (every type the key may read when none are given).
 * Globs matching nothing are a 400; matched types outside the key's `streams:read` patterns a 403.
 */
export function resolveTypes(
  patterns: readonly string[] | undefined,
  catalog: TypeCatalog,
  reader: StreamReader,
): Set<string> {
  if (patterns === undefined) {
    const readable = catalog.eventTypes().filter((type) => reader.allows('streams:read', type));
    if (readable.length === 0) throw new StreamTypesForbiddenError([...catalog.eventTypes()]);
    return new Set(readable);
  }
  const types = new Set<string>();
  const unmatched: string[] = [];
  for (const pattern of patterns) {
    const matched = catalog.matchTypes(pattern);
    if (matched.length === 0) unmatched.push(pattern);
    for (const type of matched) types.add(type);
  }
  if (unmatched.length > 0) throw new UnknownStreamTypesError(unmatched);
  const forbidden = [...types].filter((type) => !reader.allows('streams:read', type));
  if (forbidden.length > 0) throw new StreamTypesForbiddenError(forbidden);
  return types;
}

/** A filter as JSON text (query parameter) or an object (WebSocket); compiled once. */
export function parseFilter(value: unknown): EventFilter | null {
  if (value === undefined || value === null || value === '') return null;
  let filter: unknown = value;
  if (typeof value === 'string') {
    try {
      filter = JSON.parse(value) as unknown;
    } catch (error) {
      throw new InvalidStreamFilterError([
        { pointer: '', message: `is not JSON: ${(error as Error).message}` },
      ]);
    }
  }
  const compiled = compileEventFilter(filter);
  if (!compiled.ok) throw new InvalidStreamFilterError(compiled.errors);
  return compiled.matches;
}

/** `from`: `latest` (default), `earliest` or an RFC 3339 time. */
export function parseFrom(value: unknown): StartFrom {
  if (value === undefined || value === null || value === '' || value === 'latest') return 'latest';
  if (value === 'earliest') return 'earliest';
  if (typeof value === 'string' && isRfc3339Time(value)) {
    const timeMs = Date.parse(value);
    if (!Number.isNaN(timeMs)) return { timeMs };
  }
  throw new InvalidStreamRequestError('from must be latest, earliest or an RFC 3339 time', [
    { pointer: '/from', message: 'must be latest, earliest or an RFC 3339 time' },
  ]);
}

/** Date.parse rolls 2026-02-30 over into March; a time naming a day that does not exist is refused. */
/** A cursor (any of the places a client may pass one, first wins) or else `from`. */
export function parseStart(cursors: readonly unknown[], from: unknown): StreamStart {
  for (const cursor of cursors) {
    if (cursor === undefined || cursor === null || cursor === '') continue;
    if (typeof cursor !== 'string') throw new InvalidStreamRequestError('cursor must be a string');
    return { cursor: decodeCursor(cursor), text: cursor };
  }
  return { from: parseFrom(from) };
}

/** A whole number parameter within bounds (`wait`, `limit`), or its default when absent. */
export function parseBoundedInt(
  value: unknown,
  name: string,
  { min, max, fallback }: { min: number; max: number; fallback: number },
): number {
  if (value === undefined || value === null || value === '') return fallback;
  // Digits only: Number() also reads `0x10`, `1e1` and a blank as numbers.
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d{1,15}$/.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isInteger(number) || number < min || number > max)
    throw new InvalidStreamRequestError(`${name} must be a whole number from ${min} to ${max}`, [
      { pointer: `/${name}`, message: `must be a whole number from ${min} to ${max}` },
    ]);
  return number;
}
