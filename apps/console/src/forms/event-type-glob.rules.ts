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

/** Whether a well-formed glob matches an event type. */
export function globMatches(pattern: string, type: string): boolean {
  const globs = pattern.split('.');
  const names = type.split('.');
  const match = (g: number, n: number): boolean => {
    if (g === globs.length) return n === names.length;
    const glob = globs[g];
    if (glob === '**') return match(g + 1, n) || (n < names.length && match(g, n + 1));
    if (n === names.length) return false;
    return (glob === '*' || glob === names[n]) && match(g + 1, n + 1);
  };
  return match(0, 0);
}

/** Globs typed into one box, separated by commas, spaces or new lines. */
export function splitGlobs(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((glob) => glob.trim())
    .filter((glob) => glob !== '');
}
