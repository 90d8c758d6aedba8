import { UnknownEventTypeError, type ContractProblem } from './contract.errors';
import { resolveJsonPointer } from './json-pointer';
import type { JsonSchema, PayloadValidator, ValidationResult } from './payload.validator';
import { compileTypePattern } from './type-pattern';

/** One event type of the contract: an AsyncAPI message and the channel that carries it. */
export interface EventType {
  /** The message's `name`, e.g. `order.created`; the CloudEvents `type`. */
  readonly type: string;
  /** The channel id in its document (`orders`). */
  readonly channel: string;
  /** The channel's `address`: the Kafka topic events of this type are published to. */
  readonly topic: string;
  /** Partition count of `topic` (`x-herald-partitions`, default 6). */
  readonly partitions: number;
  /** JSON pointer into the payload that gives the Kafka record key, when the type has one. */
  readonly keyPointer?: string;
  /** The payload's JSON Schema, fully dereferenced, without the parser's own annotations. */
  readonly schema: JsonSchema;
  /** The first example payload of the message, if it has one. */
  readonly example?: unknown;
  readonly title?: string;
  readonly summary?: string;
  readonly description?: string;
  /** The topic producers write raw records to, which the bridge validates and republishes. */
  readonly sourceTopic?: string;
  /** Default CloudEvents `source` for events of this type (`/orders-service`). */
  readonly source: string;
  /** Herald's own events (`herald.*`): subscribable, never accepted from producers. */
  readonly internal: boolean;
  /** The document that declares the type, as found under the contract folder. */
  readonly documentFile: string;
}

/** A channel topic with what is needed to provision and consume it. */
export interface ContractTopic {
  readonly topic: string;
  readonly partitions: number;
  readonly channel: string;
  readonly sourceTopic?: string;
  readonly internal: boolean;
  /** Event types carried by this topic, sorted. */
  readonly types: readonly string[];
  readonly documentFile: string;
}

/** One loaded AsyncAPI document. */
export interface ContractDocument {
  readonly file: string;
  /** The document as written (YAML or JSON parsed), `$ref`s intact. */
  readonly raw: Record<string, unknown>;
  /** The document as the parser resolved it: every `$ref` inlined, traits applied. */
  readonly resolved: Record<string, unknown>;
}

/**
 * The producer's own text of the JSON value at `segments` of a payload, as sent
 * (`12345678901234567890`, `1.0`, `-0`), or undefined when it is not known. Segments are
 * unescaped, as `parseJsonPointer` gives them.
 */
export type JsonTextAt = (segments: readonly string[]) => string | undefined;

/** JSON number syntax (RFC 8259 §6): what a key taken as written must look like. */
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** What the loader hands the registry for each event type. */
export interface CompiledEventType {
  readonly definition: EventType;
  readonly validate: PayloadValidator;
  readonly keySegments?: readonly string[];
}

/**
 * The contract in memory: every event type with its compiled validator. Built once by
 * `loadContract`; every method is pure and does no I/O, so it is safe on the hot path.
 */
export class ContractRegistry {
  private readonly byType: ReadonlyMap<string, CompiledEventType>;
  private readonly byTopicName: ReadonlyMap<string, ContractTopic>;
  private readonly bySource: ReadonlyMap<string, ContractTopic>;
  private readonly sortedTypes: readonly string[];

  constructor(
    eventTypes: readonly CompiledEventType[],
    topics: readonly ContractTopic[],
    private readonly loadedDocuments: readonly ContractDocument[],
    private readonly loadWarnings: readonly ContractProblem[] = [],
  ) {
    this.byType = new Map(eventTypes.map((entry) => [entry.definition.type, entry]));
    this.sortedTypes = Object.freeze([...this.byType.keys()].sort());
    this.byTopicName = new Map(topics.map((topic) => [topic.topic, topic]));
    this.bySource = new Map(
      topics.flatMap((topic) =>
        topic.sourceTopic === undefined ? [] : [[topic.sourceTopic, topic] as const],
      ),
    );
  }

  /** Every event type, sorted. */
  eventTypes(): readonly string[] {
    return this.sortedTypes;
  }

  has(type: string): boolean {
    return this.byType.has(type);
  }

  get(type: string): EventType | undefined {
    return this.byType.get(type)?.definition;
  }

  /** Checks a payload against the type's schema. Throws UnknownEventTypeError for an unknown type. */
  validate(type: string, payload: unknown): ValidationResult {
    return this.entry(type).validate(payload);
  }

  /**
   * The Kafka record key for a payload: the value at the type's key pointer as a string, or
   * undefined when the type has no key or the payload has no usable value there (an object, an
   * array, null, nothing). A number is keyed by its text as the producer wrote it, which `textAt`
   * gives when the payload's JSON text is known: the parsed double would turn
   * `12345678901234567890` into `12345678901234567000` (two ids past 2^53 could share a key) and
   * `1.0` into `1`. Without `textAt`, or when its text is not that number, the number is
   * converted with `String`, as are booleans. Throws UnknownEventTypeError for an unknown type.
   */
  keyOf(type: string, payload: unknown, textAt?: JsonTextAt): string | undefined {
    const { keySegments } = this.entry(type);
    if (keySegments === undefined) return undefined;
    const value = resolveJsonPointer(payload, keySegments);
    if (typeof value === 'string') return value;
    if (typeof value === 'number') return numberKey(value, textAt?.(keySegments));
    if (typeof value === 'boolean') return String(value);
    return undefined;
  }

  /** The channel whose raw records arrive on `sourceTopic`, if any. */
  bySourceTopic(sourceTopic: string): ContractTopic | undefined {
    return this.bySource.get(sourceTopic);
  }

  /** The channel published to `topic`, if any. */
  byTopic(topic: string): ContractTopic | undefined {
    return this.byTopicName.get(topic);
  }

  /** Every channel topic with its partition count, sorted by topic. */
  topics(): ContractTopic[] {
    return [...this.byTopicName.values()].sort((a, b) => a.topic.localeCompare(b.topic));
  }

  /** The documents as loaded, sorted by file name, for serving and merging the contract. */
  documents(): readonly ContractDocument[] {
    return this.loadedDocuments;
  }

  /** Parser warnings that did not stop the load (worth logging once at start). */
  warnings(): readonly ContractProblem[] {
    return this.loadWarnings;
  }

  /** Event types matching a glob (`order.*`, `*.created`, `kitchen.**`), sorted. Throws on a bad glob. */
  matchTypes(pattern: string): string[] {
    const matches = compileTypePattern(pattern);
    return this.sortedTypes.filter(matches);
  }

  private entry(type: string): CompiledEventType {
    const entry = this.byType.get(type);
    if (entry === undefined) throw new UnknownEventTypeError(type);
    return entry;
  }
}

/**
 * A numeric key: `text` when it is a JSON number that reads as `value` (what JSON.parse made of
 * it), else `String(value)`. The check keeps text from another payload or path out of the key.
 */
function numberKey(value: number, text: string | undefined): string {
  return text !== undefined && JSON_NUMBER.test(text) && Object.is(Number(text), value)
    ? text
    : String(value);
}
