// Globs over event types (`order.*`, `kitchen.**`), as Herald reads them: `*` is one segment,
// `**` any number of segments, zero included.

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const MAX_LENGTH = 256;

/** Why `pattern` is not a glob Herald takes, or undefined when it is. */
export function typeGlobProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return 'it is empty';
  if (pattern.length > MAX_LENGTH) return `it is longer than ${MAX_LENGTH} characters`;
  if (/\s/.test(pattern)) return 'it contains whitespace';
  for (const segment of pattern.split('.')) {
    if (segment === '') return 'it has an empty segment (leading, trailing or doubled dot)';
    if (segment === '*' || segment === '**') continue;
    if (segment.includes('*'))
      return `segment "${segment}" mixes "*" with other characters; "*" and "**" must be whole segments`;
    if (!SEGMENT.test(segment))
      return `segment "${segment}" may only contain letters, digits, "_" and "-"`;
  }
  return undefined;
}

/**
 * Whether a well-formed glob matches an event type. It follows every place in the type the glob
 * can have reached at once, so it takes time in proportion to the glob's segments times the
 * type's: trying each way to split the type among the `**`s (backtracking) is exponential, and
 * the form runs this on a link's `?types=` against the whole catalog as it renders.
 */
export function globMatches(pattern: string, type: string): boolean {
  const names = type.split('.');
  // reached[n]: the glob so far can have consumed exactly the type's first n segments.
  let reached = [true, ...names.map(() => false)];
  for (const glob of pattern.split('.')) {
    const next = reached.map(() => false);
    if (glob === '**') {
      // Zero or more segments: every place at or after the first one reached.
      const first = reached.indexOf(true);
      if (first !== -1) next.fill(true, first);
    } else {
      for (let n = 0; n < names.length; n += 1)
        if (reached[n] && (glob === '*' || glob === names[n])) next[n + 1] = true;
    }
    reached = next;
  }
  return reached[names.length] === true;
}

/** Globs typed into one box, separated by commas, spaces or new lines. */
export function splitGlobs(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((glob) => glob.trim())
    .filter((glob) => glob !== '');
}
