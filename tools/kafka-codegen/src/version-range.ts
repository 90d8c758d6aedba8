/** An inclusive range of protocol versions; `max` is open-ended (`+`) as 0x7fff. */
export interface VersionRange {
  min: number;
  max: number;
}

export const OPEN_MAX = 0x7fff;
export const NO_VERSIONS: VersionRange = { min: 1, max: 0 };

/** Parses Kafka's version notation: `"3+"`, `"0-5"`, `"2"` or `"none"`. */
export function parseVersionRange(text: string | undefined): VersionRange {
  if (text === undefined || text === 'none') return NO_VERSIONS;
  const trimmed = text.trim();
  if (trimmed.endsWith('+')) return { min: Number(trimmed.slice(0, -1)), max: OPEN_MAX };
  const dash = trimmed.indexOf('-');
  if (dash >= 0)
    return { min: Number(trimmed.slice(0, dash)), max: Number(trimmed.slice(dash + 1)) };
  const single = Number(trimmed);
  if (!Number.isInteger(single)) throw new Error(`bad version range "${text}"`);
  return { min: single, max: single };
}

export function isEmpty(range: VersionRange): boolean {
  return range.min > range.max;
}

export function intersect(a: VersionRange, b: VersionRange): VersionRange {
  return { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) };
}

export function covers(outer: VersionRange, inner: VersionRange): boolean {
  return isEmpty(inner) || (outer.min <= inner.min && outer.max >= inner.max);
}

/**
 * A TypeScript condition on `version` that is true exactly for `range`, given that `version` is
 * already known to lie in `within`: `''` when always true, `'false'` when never.
 */
export function versionCondition(range: VersionRange, within: VersionRange): string {
  const effective = intersect(range, within);
  if (isEmpty(effective)) return 'false';
  const checks: string[] = [];
  if (effective.min > within.min) checks.push(`version >= ${effective.min}`);
  if (effective.max < within.max) checks.push(`version <= ${effective.max}`);
  return checks.join(' && ');
}
