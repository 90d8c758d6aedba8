import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One field of a Kafka message definition, as written in the JSON. */
export interface FieldSpec {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: string | number | boolean;
  flexibleVersions?: string;
  about?: string;
  fields?: FieldSpec[];
}

export interface StructSpec {
  name: string;
  versions: string;
  fields: FieldSpec[];
}

export interface MessageSpec {
  apiKey?: number;
  type: 'request' | 'response' | 'header' | 'data' | 'metadata';
  name: string;
  validVersions: string;
  flexibleVersions: string;
  fields: FieldSpec[];
  commonStructs?: StructSpec[];
  /** File the definition came from, for the generated header. */
  sourceFile: string;
}

/**
 * Removes `//` comments from Kafka's JSON-with-comments, leaving string contents alone (an
 * `about` text may well contain `//`, as in a URL).
 */
export function stripJsonComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === '\\') {
        out += text[i + 1] ?? '';
        i++;
      } else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else out += ch;
  }
  return out;
}

export function parseMessageSpec(text: string, sourceFile: string): MessageSpec {
  const parsed = JSON.parse(stripJsonComments(text)) as Omit<MessageSpec, 'sourceFile'>;
  return { ...parsed, sourceFile };
}

/** Every request, response and header definition in `dir`, sorted by file name. */
export function loadMessageSpecs(dir: string): MessageSpec[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => parseMessageSpec(readFileSync(join(dir, file), 'utf8'), file))
    .filter(
      (spec) => spec.type === 'request' || spec.type === 'response' || spec.type === 'header',
    );
}
