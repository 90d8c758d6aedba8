import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ContractProblem } from './contract.errors';

/**
 * What the AsyncAPI parser made of one document, kept so that a process starting on a contract
 * it has seen before skips the parser: its schema validation compiles the whole AsyncAPI
 * schema again for every document, seconds of CPU at every start. Only documents the parser
 * accepted are kept; the contract rules still run on every load.
 */
export interface CachedParse {
  /** The document's `asyncapi` version. */
  readonly version: string;
  /** `document.json()`: every `$ref` resolved, the parser's annotations still in. */
  readonly json: unknown;
  /** The parser's warnings, `file` relative to the contract folder. */
  readonly warnings: readonly ContractProblem[];
}

/** Where a document's parse came from, for the load report. */
export type ParseSource = 'parser' | 'memory' | 'disk';

/** Bumped whenever CachedParse or the key's inputs change shape. */
const CACHE_FORMAT = 2;
/** Entries kept on disk; older ones (by modification time) are removed past it. */
const MAX_DISK_ENTRIES = 200;
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

// Shared by every load in the process: fanout loads the contract in two modules.
const memory = new Map<string, CachedParse>();

/**
 * Every file the documents can reach: the documents themselves and, transitively, every file
 * they `$ref`, read once per load through symbolic links and whatever their extension.
 * `cacheable` is false when a change could escape the key: a `$ref` to something outside the
 * folder (a URL, an absolute path, `../`), a file that cannot be read, or one that does not
 * parse as YAML (its `$ref`s cannot be seen).
 */
export interface ContractInputs {
  readonly files: ReadonlyMap<string, string>;
  readonly cacheable: boolean;
  /** Why not, for the load report. */
  readonly reason?: string;
}

/** `documents` are paths of files in `dir`, as the loader lists them. */
export async function readContractInputs(
  dir: string,
  documents: readonly string[],
): Promise<ContractInputs> {
  const root = path.resolve(dir);
  const files = new Map<string, string>();
  const pending = documents.map((file) => path.relative(root, path.resolve(file)));
  const refused = (reason: string): ContractInputs => ({ files, cacheable: false, reason });
  while (pending.length > 0) {
    const relative = pending.shift()!;
    if (files.has(relative)) continue;
    const full = path.join(root, relative);
    let text: string;
    try {
      text = await readFile(full, 'utf8');
    } catch (error) {
      return refused(`${relative} cannot be read (${(error as Error).message})`);
    }
    files.set(relative, text);
    const refs = fileRefs(text);
    if (refs === undefined) return refused(`${relative} does not parse as YAML`);
    for (const ref of refs) {
      // The parser reads a `$ref` as written: no percent-decoding (`100%.yaml` is that file).
      const target = ref.split('#')[0] ?? '';
      if (target === '') continue;
      if (URL_SCHEME.test(target) || path.isAbsolute(target))
        return refused(`${relative} refers to ${ref}, outside the contract folder`);
      const resolved = path.resolve(path.dirname(full), target);
      if (!resolved.startsWith(`${root}${path.sep}`))
        return refused(`${relative} refers to ${ref}, outside the contract folder`);
      pending.push(path.relative(root, resolved));
    }
  }
  return { files, cacheable: true };
}

/** Every `$ref` string in `text`, or undefined when it does not parse as YAML (JSON does). */
function fileRefs(text: string): string[] | undefined {
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 1000 });
  } catch {
    return undefined; // the caller says why; the parser reports what is wrong with it
  }
  const refs: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      stack.push(...(node as unknown[]));
      continue;
    }
    for (const [key, child] of Object.entries(node as Record<string, unknown>)) {
      if (key === '$ref' && typeof child === 'string') refs.push(child);
      else stack.push(child);
    }
  }
  return refs;
}

/**
 * The cache key of `file`'s parse: the parser's version, the document's place in the folder and
 * the text of every file it may read.
 */
export function parseKey(
  inputs: ContractInputs,
  relativeFile: string,
  parserVersion: string,
): string {
  const hash = createHash('sha256');
  hash.update(`herald-contract-cache ${CACHE_FORMAT}\0${parserVersion}\0${relativeFile}\0`);
  for (const [name, text] of inputs.files) hash.update(`${name}\0${text.length}\0${text}\0`);
  return hash.digest('hex');
}

/**
 * Parses kept in memory for the process and, when `dir` is given and safe to use, in files
 * there. A cache file that cannot be read or does not hold what it should is a miss.
 */
export class ContractCache {
  private constructor(private readonly dir: string | undefined) {}

  /**
   * `dir` must be a directory this user owns and no one else may write to (it is created so
   * when missing): a file planted there would become the contract. Anything else is no disk
   * cache, with the reason.
   */
  static async open(dir: string | undefined): Promise<{ cache: ContractCache; problem?: string }> {
    if (dir === undefined) return { cache: new ContractCache(undefined) };
    const problem = await unsafeDirectory(dir);
    return problem === undefined
      ? { cache: new ContractCache(dir) }
      : { cache: new ContractCache(undefined), problem };
  }

  get diskDir(): string | undefined {
    return this.dir;
  }

  async get(key: string): Promise<{ parse: CachedParse; source: ParseSource } | undefined> {
    const kept = memory.get(key);
    if (kept !== undefined) return { parse: kept, source: 'memory' };
    if (this.dir === undefined) return undefined;
    const read = await readEntry(path.join(this.dir, `${key}.json`), key);
    if (read === undefined) return undefined;
    memory.set(key, read);
    return { parse: read, source: 'disk' };
  }

  /** Keeps `parse`; a failed disk write only costs the next start a parse. */
  async put(key: string, parse: CachedParse): Promise<void> {
    memory.set(key, parse);
    if (this.dir === undefined) return;
    const file = path.join(this.dir, `${key}.json`);
    const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(temporary, JSON.stringify({ format: CACHE_FORMAT, key, ...parse }), {
        mode: 0o600,
      });
      await rename(temporary, file);
      await prune(this.dir);
    } catch {
      await rm(temporary, { force: true }).catch(() => undefined);
    }
  }
}

/** Empties the process's in-memory layer (tests use it to read from disk). */
export function forgetParsesInMemory(): void {
  memory.clear();
}

/** The default disk cache: one folder per user under the system's temporary folder. */
export function defaultCacheDir(): string {
  let user: string;
  try {
    const { uid, username } = userInfo();
    user = uid >= 0 ? String(uid) : username;
  } catch {
    user = 'default';
  }
  return path.join(tmpdir(), `herald-contract-cache-${user}`);
}

async function unsafeDirectory(dir: string): Promise<string | undefined> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const info = await lstat(dir);
    if (!info.isDirectory()) return `${dir} is not a directory`;
    if (typeof process.getuid === 'function' && info.uid !== process.getuid())
      return `${dir} belongs to another user`;
    if ((info.mode & 0o022) !== 0) return `${dir} may be written by other users`;
    return undefined;
  } catch (error) {
    return `${dir} cannot be used (${(error as Error).message})`;
  }
}

async function readEntry(file: string, key: string): Promise<CachedParse | undefined> {
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    if (
      value.format !== CACHE_FORMAT ||
      value.key !== key ||
      typeof value.version !== 'string' ||
      value.json === null ||
      typeof value.json !== 'object' ||
      !Array.isArray(value.warnings)
    )
      return undefined;
    return {
      version: value.version,
      json: value.json,
      warnings: value.warnings as ContractProblem[],
    };
  } catch {
    return undefined;
  }
}

async function prune(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.json'));
  if (names.length <= MAX_DISK_ENTRIES) return;
  const dated = await Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name);
      const modified = await stat(file).then(
        (info) => info.mtimeMs,
        () => 0,
      );
      return { file, modified };
    }),
  );
  dated.sort((a, b) => a.modified - b.modified);
  await Promise.all(
    dated
      .slice(0, dated.length - MAX_DISK_ENTRIES)
      .map(({ file }) => rm(file, { force: true }).catch(() => undefined)),
  );
}
