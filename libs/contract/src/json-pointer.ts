// JSON pointers (RFC 6901): how Herald names a field of a payload, in key declarations
// (`x-herald-key: /orderId`) and in validation errors.

/** Splits a pointer into its unescaped segments; undefined when it is not a valid pointer. */
export function parseJsonPointer(pointer: string): string[] | undefined {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return undefined;
  const segments = pointer.slice(1).split('/');
  if (segments.some((segment) => /~[^01]|~$/.test(segment))) return undefined;
  return segments.map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function escapeJsonPointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The value at `segments` inside `value`, or undefined when the path does not exist. */
export function resolveJsonPointer(value: unknown, segments: readonly string[]): unknown {
  let current = value;
  for (const segment of segments) {
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]*)$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else if (current !== null && typeof current === 'object' && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else {
      return undefined;
    }
  }
  return current;
}
