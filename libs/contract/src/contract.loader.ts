import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Parser } from '@asyncapi/parser';
import parserPackage from '@asyncapi/parser/package.json';
import { LineCounter, parseDocument, type Document } from 'yaml';
import {
  ContractCache,
  defaultCacheDir,
  parseKey,
  readContractInputs,
  type CachedParse,
  type ContractInputs,
  type ParseSource,
} from './contract.cache';
import { ContractError, type ContractProblem } from './contract.errors';
import {
  ContractRegistry,
  type CompiledEventType,
  type ContractDocument,
  type ContractTopic,
  type EventType,
} from './contract.registry';
import { escapeJsonPointerSegment, parseJsonPointer } from './json-pointer';
import {
  cleanSchema,
  isExtensionKeyword,
  isParserKeyword,
  PayloadValidatorCompiler,
  RecursiveSchemaError,
  type JsonSchema,
  type PayloadValidator,
} from './payload.validator';
import { isValidEventType } from './type-pattern';

const PARSER_VERSION: string = parserPackage.version;

/** Partition count of a channel topic that states none. */
export const DEFAULT_PARTITIONS = 6;
const MAX_PARTITIONS = 10_000;
const DOCUMENT_FILE = /\.(ya?ml|json)$/i;
// Kafka's own rule for topic names.
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const INTERNAL_PREFIX = 'herald.';
// Schema formats ajv can check as they are: AsyncAPI Schema (a superset of draft-07) and draft-07.
const SUPPORTED_SCHEMA_FORMAT =
  /^application\/(vnd\.aai\.asyncapi(\+json|\+yaml)?;version=3\.\d+\.\d+|schema(\+json|\+yaml)?;version=draft-0[67])$/;

type JsonObject = Record<string, unknown>;

interface LoadedDocument {
  file: string;
  raw: JsonObject;
  resolved: JsonObject;
  locate: (segments: readonly string[]) => number | undefined;
}

interface ChannelEntry {
  file: string;
  id: string;
  topic: string;
  partitions: number;
  sourceTopic?: string;
  internal: boolean;
  types: string[];
  path: string[];
  doc: LoadedDocument;
}

/**
 * Ends a process whose start failed, with a log line saying why: 78 (EX_CONFIG, as for a bad
 * setting) and the parser's problems for a contract it refused; 1 for anything else (a port in
 * use). Rather than an unhandled rejection's bare stack trace.
 */
export function exitOnStartFailure(
  logger: { fatal(fields: object, message: string): void },
  error: unknown,
  what: string,
): never {
  if (error instanceof ContractError) {
    logger.fatal({ problems: error.problems }, error.message);
    process.exit(78);
  }
  logger.fatal({ err: error }, what);
  process.exit(1);
}

/**
 * Logs how `registry` was loaded (`contract loaded`, with the ContractLoadReport) and sets the
 * `herald_contract_documents{source}` gauge; a disk cache that could not be used is a warning.
 */
export function reportContractLoad(
  registry: ContractRegistry,
  logger: {
    info(fields: object, message: string): void;
    warn(fields: object, message: string): void;
  },
  documents: { set(labels: { source: string }, value: number): void },
): void {
  const report = reports.get(registry);
  if (report === undefined) return;
  documents.set({ source: 'parser' }, report.parsed);
  documents.set({ source: 'cache' }, report.fromMemory + report.fromDisk);
  logger.info(report, 'contract loaded');
  if (report.cacheProblem !== undefined)
    logger.warn(
      { problem: report.cacheProblem },
      'contract parse cache not used: every start parses the contract again',
    );
}

export interface LoadContractOptions {
  /**
   * Where parses are kept between processes (see ContractCache): a folder, `false` for none,
   * or unset for the default (`herald-contract-cache-<uid>` in the system's temporary folder).
   */
  readonly cacheDir?: string | false;
}

/** How a load went, for the process's log line. */
export interface ContractLoadReport {
  readonly documents: number;
  /** Documents the AsyncAPI parser read; the others came from the cache. */
  readonly parsed: number;
  readonly fromMemory: number;
  readonly fromDisk: number;
  /** The disk cache in use, if any. */
  readonly cacheDir: string | null;
  /** Why the disk cache, or the cache altogether, was not used. */
  readonly cacheProblem?: string;
  readonly durationMs: number;
}

const reports = new WeakMap<ContractRegistry, ContractLoadReport>();

/** How `registry` was loaded (a registry built otherwise has no report). */
export function contractLoadReport(registry: ContractRegistry): ContractLoadReport | undefined {
  return reports.get(registry);
}

/**
 * Loads every AsyncAPI document (`*.yaml`, `*.yml`, `*.json`) at the top of `dir` — shared
 * fragments they `$ref` belong in sub-folders — and builds the registry. Throws ContractError
 * listing every parser diagnostic of severity error and every broken contract rule, each with
 * file, path and message, so a producer team can fix all of them in one go. A document whose
 * inputs are unchanged since an earlier load is not parsed again (ContractCache).
 */
export async function loadContract(
  dir: string,
  options: LoadContractOptions = {},
): Promise<ContractRegistry> {
  const startedAt = performance.now();
  const files = await listDocumentFiles(dir);
  const inputs = await readContractInputs(dir, files);
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
  const { cache, problem: diskProblem } = await ContractCache.open(
    inputs.cacheable && cacheDir !== false ? cacheDir : undefined,
  );
  const parsing: ParsingContext = {
    dir,
    inputs,
    cache: inputs.cacheable ? cache : undefined,
    sources: { parser: 0, memory: 0, disk: 0 },
  };
  const problems: ContractProblem[] = [];
  const warnings: ContractProblem[] = [];
  const documents: LoadedDocument[] = [];

  for (const file of files) {
    const document = await parseFile(parsing, file, problems, warnings);
    if (document !== undefined) documents.push(document);
  }

  const builder = new RegistryBuilder(problems, warnings);
  for (const document of documents) builder.addDocument(document);
  const registry = builder.build();
  if (problems.length > 0) throw new ContractError(problems, `Invalid contract in ${dir}`);
  const cacheProblem = inputs.cacheable ? diskProblem : inputs.reason;
  reports.set(registry, {
    documents: files.length,
    parsed: parsing.sources.parser,
    fromMemory: parsing.sources.memory,
    fromDisk: parsing.sources.disk,
    cacheDir: cache.diskDir ?? null,
    ...(cacheProblem === undefined ? {} : { cacheProblem }),
    durationMs: Math.round(performance.now() - startedAt),
  });
  return registry;
}

interface ParsingContext {
  readonly dir: string;
  readonly inputs: ContractInputs;
  readonly cache: ContractCache | undefined;
  readonly sources: Record<ParseSource, number>;
  /** Made on the first miss: building one costs a few hundred milliseconds too. */
  parser?: Parser;
}

async function listDocumentFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new ContractError(
      [
        {
          file: dir,
          path: '',
          message: `cannot read the contract folder (${(error as Error).message})`,
        },
      ],
      'Cannot load the contract',
    );
  }
  const files: string[] = [];
  for (const name of names.filter((n) => DOCUMENT_FILE.test(n)).sort()) {
    const file = path.join(dir, name);
    if ((await stat(file)).isFile()) files.push(file);
  }
  if (files.length === 0) {
    throw new ContractError(
      [
        {
          file: dir,
          path: '',
          message: 'no AsyncAPI documents (*.yaml, *.yml, *.json) in this folder',
        },
      ],
      'Cannot load the contract',
    );
  }
  return files;
}

async function parseFile(
  parsing: ParsingContext,
  file: string,
  problems: ContractProblem[],
  warnings: ContractProblem[],
): Promise<LoadedDocument | undefined> {
  const { dir } = parsing;
  const relative = path.relative(path.resolve(dir), path.resolve(file));
  // Read once for the cache key already (every document is a file of the folder).
  const text = parsing.inputs.files.get(relative) ?? (await readFile(file, 'utf8'));
  const key = parsing.cache && parseKey(parsing.inputs, relative, PARSER_VERSION);
  const kept = key === undefined ? undefined : await parsing.cache?.get(key);
  let parsed: CachedParse;
  if (kept !== undefined) {
    parsing.sources[kept.source] += 1;
    parsed = kept.parse;
  } else {
    parsing.sources.parser += 1;
    // Required on the first miss: loading the parser alone takes a few hundred milliseconds.
    parsing.parser ??= new (await import('@asyncapi/parser')).Parser();
    const outcome = await runParser(parsing.parser, dir, file, text, problems);
    if (outcome === undefined) return undefined;
    parsed = outcome;
    if (key !== undefined) await parsing.cache?.put(key, parsed);
  }
  for (const warning of parsed.warnings)
    warnings.push({ ...warning, file: path.join(dir, warning.file) });
  const { version } = parsed;
  if (!version.startsWith('3.')) {
    problems.push({
      file,
      path: '/asyncapi',
      message: `AsyncAPI ${version} is not supported; Herald reads AsyncAPI 3.x`,
    });
    return undefined;
  }

  const lineCounter = new LineCounter();
  const yamlDocument = parseDocument(text, { lineCounter });
  const resolved = withoutParserAnnotations(parsed.json, file, problems);
  if (resolved === undefined) return undefined;
  return {
    file,
    raw: yamlDocument.toJS() as JsonObject,
    resolved,
    locate: (segments) => locateLine(yamlDocument, lineCounter, segments),
  };
}

/**
 * The AsyncAPI parser's reading of one document; undefined, with its errors in `problems`, when
 * it refuses it. Warnings name their file relative to `dir`, as the cache keeps them.
 */
async function runParser(
  parser: Parser,
  dir: string,
  file: string,
  text: string,
  problems: ContractProblem[],
): Promise<CachedParse | undefined> {
  const absolute = path.resolve(file);
  const { document, diagnostics } = await parser.parse(text, { source: absolute });
  const warnings: ContractProblem[] = [];
  let failed = false;
  for (const diagnostic of diagnostics) {
    // Spectral severities: 0 error, 1 warning, 2 information, 3 hint.
    const severity: number = diagnostic.severity;
    if (severity > 1) continue;
    const source =
      diagnostic.source === undefined || diagnostic.source === absolute
        ? file
        : path.join(dir, path.relative(path.resolve(dir), diagnostic.source));
    const problem: ContractProblem = {
      file: source,
      path: toPointer(diagnostic.path.map(String)),
      message: diagnostic.message,
    };
    if (diagnostic.range !== undefined && diagnostic.range.start.line >= 0)
      problem.line = diagnostic.range.start.line + 1;
    if (severity === 0) {
      failed = true;
      problems.push(problem);
    } else {
      warnings.push({ ...problem, file: path.relative(dir, source) });
    }
  }
  if (failed || document === undefined) {
    if (!failed) problems.push({ file, path: '', message: 'the parser returned no document' });
    return undefined;
  }
  return { version: document.version(), json: document.json(), warnings };
}

// Finds the line of the deepest node of `segments` written in the file itself: past a `$ref`
// the path leaves the file, and the `$ref` line is the best answer.
function locateLine(
  doc: Document,
  lineCounter: LineCounter,
  segments: readonly string[],
): number | undefined {
  for (let length = segments.length; length >= 0; length--) {
    const node = doc.getIn(segments.slice(0, length), true) as
      { range?: [number, number, number] } | undefined;
    if (node?.range !== undefined) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

function withoutParserAnnotations(
  json: unknown,
  file: string,
  problems: ContractProblem[],
): JsonObject | undefined {
  try {
    return cleanSchema(json, isParserKeyword) as JsonObject;
  } catch (error) {
    if (!(error instanceof RecursiveSchemaError)) throw error;
    problems.push({
      file,
      path: '',
      message: 'the document contains a recursive schema, which Herald does not support',
    });
    return undefined;
  }
}

/** Applies the contract rules across all documents and gathers the registry's contents. */
class RegistryBuilder {
  private readonly compiler = new PayloadValidatorCompiler();
  private readonly channels: ChannelEntry[] = [];
  private readonly eventTypes = new Map<
    string,
    CompiledEventType & { path: string[]; doc: LoadedDocument }
  >();
  private readonly documents: ContractDocument[] = [];

  constructor(
    private readonly problems: ContractProblem[],
    private readonly warnings: ContractProblem[],
  ) {}

  addDocument(doc: LoadedDocument): void {
    this.documents.push(deepFreeze({ file: doc.file, raw: doc.raw, resolved: doc.resolved }));
    const channels = asObject(doc.resolved.channels) ?? {};
    for (const [channelId, channelValue] of Object.entries(channels)) {
      const channel = asObject(channelValue);
      if (channel !== undefined) this.addChannel(doc, channelId, channel);
    }
  }

  build(): ContractRegistry {
    this.checkTopicsAcrossChannels();
    const topics: ContractTopic[] = this.channels.map((c) =>
      deepFreeze({
        topic: c.topic,
        partitions: c.partitions,
        channel: c.id,
        ...(c.sourceTopic === undefined ? {} : { sourceTopic: c.sourceTopic }),
        internal: c.internal,
        types: [...c.types].sort(),
        documentFile: c.file,
      }),
    );
    const entries = [...this.eventTypes.values()].map(({ definition, validate, keySegments }) => ({
      definition,
      validate,
      ...(keySegments === undefined ? {} : { keySegments }),
    }));
    return new ContractRegistry(entries, topics, this.documents, this.warnings);
  }

  private addChannel(doc: LoadedDocument, id: string, channel: JsonObject): void {
    const channelPath = ['channels', id];
    const report = (segments: string[], message: string) =>
      this.report(doc, [...channelPath, ...segments], message);

    const address = channel.address;
    if (typeof address !== 'string') {
      report(
        ['address'],
        'a channel needs an address: the Kafka topic its events are published to',
      );
      return;
    }
    if (address.includes('{')) {
      report(
        ['address'],
        `address "${address}" has parameters; Herald needs a literal Kafka topic name`,
      );
      return;
    }
    if (!isTopicName(address)) {
      report(
        ['address'],
        `address "${address}" is not a valid Kafka topic name (letters, digits, ".", "_", "-"; at most 249)`,
      );
      return;
    }

    const kafkaBinding = asObject(asObject(channel.bindings)?.kafka);
    if (typeof kafkaBinding?.topic === 'string' && kafkaBinding.topic !== address) {
      report(
        ['bindings', 'kafka', 'topic'],
        `the Kafka binding names topic "${kafkaBinding.topic}" but the address is "${address}"`,
      );
    }

    const internal = channel['x-herald-internal'];
    if (internal !== undefined && typeof internal !== 'boolean')
      report(['x-herald-internal'], 'x-herald-internal must be true or false');
    const isInternal = internal === true;
    if (address.startsWith(INTERNAL_PREFIX) && !isInternal) {
      report(
        ['address'],
        `topics starting with "${INTERNAL_PREFIX}" are reserved for Herald (x-herald-internal: true)`,
      );
    }

    const sourceTopic = channel['x-herald-source-topic'];
    if (sourceTopic !== undefined) {
      if (typeof sourceTopic !== 'string' || !isTopicName(sourceTopic)) {
        report(['x-herald-source-topic'], 'x-herald-source-topic must be a valid Kafka topic name');
      } else if (sourceTopic.startsWith(INTERNAL_PREFIX)) {
        report(['x-herald-source-topic'], `source topics may not start with "${INTERNAL_PREFIX}"`);
      } else if (isInternal) {
        report(['x-herald-source-topic'], 'an internal channel has no source topic');
      }
    }

    const entry: ChannelEntry = {
      file: doc.file,
      id,
      topic: address,
      partitions: this.partitionsOf(doc, channelPath, channel, kafkaBinding),
      ...(typeof sourceTopic === 'string' ? { sourceTopic } : {}),
      internal: isInternal,
      types: [],
      path: channelPath,
      doc,
    };
    this.channels.push(entry);

    const messages = asObject(channel.messages) ?? {};
    if (Object.keys(messages).length === 0) {
      this.warnings.push({
        file: doc.file,
        path: toPointer(channelPath),
        message: 'the channel declares no messages',
      });
    }
    for (const [messageId, messageValue] of Object.entries(messages)) {
      const message = asObject(messageValue);
      if (message === undefined) continue;
      const type = this.addMessage(
        doc,
        entry,
        channel,
        [...channelPath, 'messages', messageId],
        message,
      );
      if (type !== undefined) entry.types.push(type);
    }
  }

  private partitionsOf(
    doc: LoadedDocument,
    channelPath: string[],
    channel: JsonObject,
    kafkaBinding?: JsonObject,
  ): number {
    const fromExtension = channel['x-herald-partitions'];
    const fromBinding = kafkaBinding?.partitions;
    for (const [value, where] of [
      [fromExtension, ['x-herald-partitions']],
      [fromBinding, ['bindings', 'kafka', 'partitions']],
    ] as const) {
      if (
        value !== undefined &&
        !(Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_PARTITIONS)
      ) {
        this.report(
          doc,
          [...channelPath, ...where],
          `partition count must be a whole number from 1 to ${MAX_PARTITIONS}`,
        );
      }
    }
    if (fromExtension !== undefined && fromBinding !== undefined && fromExtension !== fromBinding) {
      this.report(
        doc,
        [...channelPath, 'x-herald-partitions'],
        `x-herald-partitions (${JSON.stringify(fromExtension)}) and the Kafka binding's partitions (${JSON.stringify(fromBinding)}) disagree`,
      );
    }
    const value = fromExtension ?? fromBinding;
    return typeof value === 'number' && Number.isInteger(value) && value >= 1
      ? value
      : DEFAULT_PARTITIONS;
  }

  private addMessage(
    doc: LoadedDocument,
    channel: ChannelEntry,
    channelJson: JsonObject,
    messagePath: string[],
    message: JsonObject,
  ): string | undefined {
    const report = (segments: string[], text: string) =>
      this.report(doc, [...messagePath, ...segments], text);

    const type = message.name;
    if (typeof type !== 'string' || type === '') {
      report([], 'a message needs a name: its event type, such as "order.created"');
      return undefined;
    }
    if (!isValidEventType(type)) {
      report(
        ['name'],
        `event type "${type}" must be dotted segments of letters, digits, "_" and "-"`,
      );
      return undefined;
    }
    if (type.startsWith(INTERNAL_PREFIX) !== channel.internal) {
      report(
        ['name'],
        channel.internal
          ? `event types of an internal channel must start with "${INTERNAL_PREFIX}"`
          : `event types starting with "${INTERNAL_PREFIX}" are reserved for Herald's internal channels`,
      );
    }

    const previous = this.eventTypes.get(type);
    if (previous !== undefined) {
      const first = previous.definition;
      report(
        ['name'],
        `event type "${type}" of channel "${channel.id}" is already declared by channel "${first.channel}" in ` +
          `${first.documentFile} (${toPointer(previous.path)}); a type belongs to exactly one channel`,
      );
      return undefined;
    }

    const payload = this.payloadSchemaOf(message, report);
    if (payload === undefined) return undefined;

    let schema: JsonSchema;
    let validate: PayloadValidator;
    try {
      schema = deepFreeze(cleanSchema(payload, isParserKeyword) as JsonSchema);
      validate = this.compiler.compile(cleanSchema(payload, isExtensionKeyword) as JsonSchema);
    } catch (error) {
      report(
        ['payload'],
        error instanceof RecursiveSchemaError
          ? 'the payload schema is recursive, which Herald does not support'
          : `the payload schema is invalid: ${(error as Error).message}`,
      );
      return undefined;
    }

    const keyPointer = this.keyPointerOf(message, schema, report);
    const example = this.checkExamples(message, validate, report);
    const source = [
      message['x-herald-source'],
      channelJson['x-herald-source'],
      asObject(doc.resolved.info)?.['x-herald-source'],
    ].find((value) => value !== undefined);
    if (source !== undefined && (typeof source !== 'string' || source === '')) {
      report(
        ['x-herald-source'],
        'x-herald-source must be a non-empty URI reference, such as /orders-service',
      );
    }

    const definition: EventType = deepFreeze({
      type,
      channel: channel.id,
      topic: channel.topic,
      partitions: channel.partitions,
      ...(keyPointer === undefined ? {} : { keyPointer: keyPointer.pointer }),
      schema,
      ...(example === undefined ? {} : { example }),
      ...optionalText(message, 'title'),
      ...optionalText(message, 'summary'),
      ...optionalText(message, 'description'),
      ...(channel.sourceTopic === undefined ? {} : { sourceTopic: channel.sourceTopic }),
      source: typeof source === 'string' && source !== '' ? source : `/${channel.id}`,
      internal: channel.internal,
      documentFile: doc.file,
    });
    this.eventTypes.set(type, {
      definition,
      validate,
      ...(keyPointer === undefined ? {} : { keySegments: Object.freeze(keyPointer.segments) }),
      path: messagePath,
      doc,
    });
    return type;
  }

  private payloadSchemaOf(
    message: JsonObject,
    report: (segments: string[], text: string) => void,
  ): JsonObject | undefined {
    const payload = asObject(message.payload);
    if (payload === undefined) {
      report([], 'a message needs a payload schema');
      return undefined;
    }
    // A Multi Format Schema Object wraps the schema with its format.
    if (typeof payload.schemaFormat === 'string' && 'schema' in payload) {
      if (!SUPPORTED_SCHEMA_FORMAT.test(payload.schemaFormat.replace(/\s/g, ''))) {
        report(
          ['payload', 'schemaFormat'],
          `schema format "${payload.schemaFormat}" is not supported; use JSON Schema (draft-07) or AsyncAPI Schema`,
        );
        return undefined;
      }
      const inner = asObject(payload.schema);
      if (inner === undefined)
        report(['payload', 'schema'], 'the payload schema must be an object');
      return inner;
    }
    return payload;
  }

  private keyPointerOf(
    message: JsonObject,
    schema: JsonSchema,
    report: (segments: string[], text: string) => void,
  ): { pointer: string; segments: string[] } | undefined {
    const onMessage = message['x-herald-key'];
    const onBinding = asObject(asObject(asObject(message.bindings)?.kafka)?.key)?.['x-herald-key'];
    if (onMessage !== undefined && onBinding !== undefined && onMessage !== onBinding) {
      report(
        ['x-herald-key'],
        `x-herald-key (${JSON.stringify(onMessage)}) and the Kafka binding key's x-herald-key (${JSON.stringify(onBinding)}) disagree`,
      );
      return undefined;
    }
    const pointer = onMessage ?? onBinding;
    if (pointer === undefined) return undefined;
    const where =
      onMessage !== undefined ? ['x-herald-key'] : ['bindings', 'kafka', 'key', 'x-herald-key'];
    const segments = typeof pointer === 'string' ? parseJsonPointer(pointer) : undefined;
    if (typeof pointer !== 'string' || segments === undefined || segments.length === 0) {
      report(
        where,
        `x-herald-key must be a JSON pointer to a payload field, such as "/orderId" (got ${JSON.stringify(pointer)})`,
      );
      return undefined;
    }
    const problem = checkKeyPointer(schema, segments);
    if (problem !== undefined) {
      report(where, `x-herald-key "${pointer}" ${problem}`);
      return undefined;
    }
    return { pointer, segments };
  }

  // Every example must satisfy its own schema: the catalog shows them to partners as the truth.
  private checkExamples(
    message: JsonObject,
    validate: PayloadValidator,
    report: (segments: string[], text: string) => void,
  ): unknown {
    const examples = Array.isArray(message.examples) ? message.examples : [];
    let first: unknown;
    examples.forEach((exampleValue, index) => {
      const example = asObject(exampleValue);
      if (example === undefined || !('payload' in example)) return;
      if (first === undefined) first = example.payload;
      const result = validate(example.payload);
      if (!result.ok) {
        const name = typeof example.name === 'string' ? ` "${example.name}"` : '';
        const details = result.errors.map((e) => `${e.pointer || '/'} ${e.message}`).join('; ');
        report(
          ['examples', String(index), 'payload'],
          `example${name} does not match the payload schema: ${details}`,
        );
      }
    });
    return first === undefined ? undefined : deepFreeze(structuredClone(first));
  }

  private checkTopicsAcrossChannels(): void {
    const byTopic = new Map<string, ChannelEntry>();
    const bySource = new Map<string, ChannelEntry>();
    for (const channel of this.channels) {
      const other = byTopic.get(channel.topic);
      if (other !== undefined) {
        this.report(
          channel.doc,
          [...channel.path, 'address'],
          `topic "${channel.topic}" is already the address of channel "${other.id}" in ${other.file}`,
        );
      } else {
        byTopic.set(channel.topic, channel);
      }
    }
    for (const channel of this.channels) {
      if (channel.sourceTopic === undefined) continue;
      const where = [...channel.path, 'x-herald-source-topic'];
      const clash = byTopic.get(channel.sourceTopic);
      if (clash !== undefined) {
        this.report(
          channel.doc,
          where,
          `source topic "${channel.sourceTopic}" is the address of channel "${clash.id}" in ${clash.file}; raw and validated events need separate topics`,
        );
      }
      const other = bySource.get(channel.sourceTopic);
      if (other !== undefined) {
        this.report(
          channel.doc,
          where,
          `source topic "${channel.sourceTopic}" is already the source of channel "${other.id}" in ${other.file}`,
        );
      } else {
        bySource.set(channel.sourceTopic, channel);
      }
    }
  }

  private report(doc: LoadedDocument, segments: string[], message: string): void {
    const problem: ContractProblem = { file: doc.file, path: toPointer(segments), message };
    const line = doc.locate(segments);
    if (line !== undefined) problem.line = line;
    this.problems.push(problem);
  }
}

/**
 * Why a key pointer does not reliably name a scalar field of every valid payload, or undefined
 * when it does (or when composition keywords make that impossible to tell before runtime).
 */
function checkKeyPointer(schema: JsonSchema, segments: readonly string[]): string | undefined {
  let node: JsonObject | undefined = schema;
  for (const [index, segment] of segments.entries()) {
    if (node === undefined) return undefined;
    const properties = asObject(node.properties);
    const here = toPointer(segments.slice(0, index + 1));
    if (properties !== undefined && Object.hasOwn(properties, segment)) {
      const required = Array.isArray(node.required) && node.required.includes(segment);
      if (!required)
        return `points at ${here}, which is optional; a key field must be required so every event has a key`;
      node = asObject(properties[segment]);
      continue;
    }
    if (['allOf', 'anyOf', 'oneOf', 'if', '$ref'].some((keyword) => keyword in node!))
      return undefined;
    return `points at ${here}, which the payload schema does not declare`;
  }
  const declared = node?.type;
  if (declared === undefined) return undefined;
  const types = Array.isArray(declared) ? declared : [declared];
  if (!types.some((t) => t === 'string' || t === 'integer' || t === 'number')) {
    return `points at a field of type ${types.join('|')}; a key must be a string or a number`;
  }
  return undefined;
}

function isTopicName(name: string): boolean {
  return TOPIC_NAME.test(name) && name !== '.' && name !== '..';
}

function toPointer(segments: readonly string[]): string {
  return segments.map((segment) => `/${escapeJsonPointerSegment(segment)}`).join('');
}

function asObject(value: unknown): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

function optionalText<K extends 'title' | 'summary' | 'description'>(
  message: JsonObject,
  key: K,
): { [P in K]?: string } {
  const value = message[key];
  return typeof value === 'string' ? ({ [key]: value } as { [P in K]?: string }) : {};
}

// The registry hands the same objects to every caller; freezing keeps one caller's mutation from
// corrupting another's view of the contract.
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
