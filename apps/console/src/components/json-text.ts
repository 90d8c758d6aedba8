/** What the console shows for a value JSON.stringify cannot write back (nested too deeply). */
export const TOO_DEEP_TO_SHOW =
  'This value nests too deeply to show here (JSON.stringify runs out of stack); read it with your own client.';

/**
 * A value (an event, a schema, headers) as indented JSON for a person to read. JSON.parse reads
 * nesting that JSON.stringify's recursion cannot write back; such a value gets a note instead of
 * an error, which during rendering would take the whole console down (React unmounts the app).
 */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch (error) {
    if (error instanceof RangeError) return TOO_DEEP_TO_SHOW;
    throw error;
  }
}
