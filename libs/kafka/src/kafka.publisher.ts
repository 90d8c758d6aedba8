import {
  Partitioners,
  type Message,
  type PartitionerArgs,
  type Producer,
  type RecordMetadata,
} from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConfig } from './kafka.config';
import type { KafkaConnection } from './kafka.connection';
import { KafkaRejectedError, KafkaUnavailableError } from './kafka.errors';

/** A record to write. `partition` overrides the key-based choice. */
export interface OutgoingRecord {
  topic: string;
  /** A string is written as UTF-8; bytes (a bridge carrying a producer's binary key) as they are. */
  key: string | Buffer | null;
  value: Buffer | string;
  headers: Record<string, string | Buffer>;
  partition?: number;
}

/** Where Kafka stored one record. `offset` is a decimal string (Kafka offsets are 64-bit). */
export interface PublishedRecord {
  topic: string;
  partition: number;
  offset: string;
}

export type PublishOptions = KafkaConfig['publish'] & {
  /** How many coalesced requests may be under way at once (default 2). */
  maxInFlightFlushes?: number;
};

/** How a publish whose deadline passed while Kafka had its records ended after all. */
export type LateOutcome =
  | { readonly ok: true; readonly published: PublishedRecord[] }
  | { readonly ok: false; readonly error: Error };

interface PendingPublish {
  records: OutgoingRecord[];
  messages: Message[];
  bytes: number;
  settled: boolean;
  timer: NodeJS.Timeout;
  resolve(published: PublishedRecord[]): void;
  reject(error: Error): void;
  late?: (outcome: LateOutcome) => void;
}

// Broker answers that mean the request itself is wrong; every other failure is availability.
const REJECTED_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  // Still unknown once kafkajs's retries are spent: the topic was never provisioned.
  'UNKNOWN_TOPIC_OR_PARTITION',
]);

/**
 * Writes records with an idempotent, acks=all producer and answers each record's
 * `{topic, partition, offset}`, in the order given.
 *
 * Calls made in the same turn of the event loop (or within `lingerMs`) share one produce request.
 * Each call fails on its own deadline (`timeoutMs`) with `KafkaUnavailableError`; a call whose
 * deadline passes before its records are sent is dropped from the queue, never written later.
 */
export class KafkaPublisher {
  private readonly options: Required<PublishOptions>;
  private readonly queue: PendingPublish[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly outstanding = new Set<Promise<PublishedRecord[]>>();
  // The partition kafkajs's DefaultPartitioner (Java-compatible murmur2) picked for each message.
  private readonly chosenPartitions = new WeakMap<Message, number>();
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private closed = false;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly logger: Logger,
    options: Partial<PublishOptions> = {},
  ) {
    this.options = { ...connection.config.publish, maxInFlightFlushes: 2, ...options };
  }

  /**
   * Writes `records` in order in as many requests as it takes, one after another, each of at most
   * the batch size (`maxBatchBytes`, or one record), so that however many records there are no
   * partition's batch outgrows what Kafka takes in one request (`max.message.bytes`, 1 MiB by
   * default; `publish` sends all its records in one request). Not atomic: when a later request
   * fails, the earlier ones stay written, so it suits a caller that reads its input again after
   * a failure (the bridge: at least once), not one that promises all or nothing.
   */
  async publishInOrder(records: readonly OutgoingRecord[]): Promise<PublishedRecord[]> {
    const published: PublishedRecord[] = [];
    for (const request of this.requestsFor(records))
      published.push(...(await this.publish(request)));
    return published;
  }

  /**
   * `records` cut, in order, into runs of at most the batch size (`maxBatchBytes`; a record
   * bigger than that alone): what `publishInOrder` sends one request at a time.
   */
  requestsFor(records: readonly OutgoingRecord[]): OutgoingRecord[][] {
    const requests: OutgoingRecord[][] = [];
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const size = recordBytes(records[i]!);
      if (i > start && bytes + size > this.options.maxBatchBytes) {
        requests.push(records.slice(start, i));
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    if (records.length > start) requests.push(records.slice(start));
    return requests;
  }

  /** Connects the producer ahead of the first publish (optional; publish connects when needed). */
  async connect(): Promise<void> {
    await this.ensureProducer();
  }

  /**
   * Writes `records` and resolves with where each landed, in the same order. Rejects with
   * `KafkaUnavailableError` (retryable) when Kafka does not acknowledge within `timeoutMs`, or
   * `KafkaRejectedError` when Kafka refuses the records themselves. Never resolves partly.
   * When the deadline passes while Kafka already has the request (`KafkaUnavailableError` with
   * `inFlight`), `late` hears later whether the records were written after all.
   */
  publish(
    records: readonly OutgoingRecord[],
    options: { late?: (outcome: LateOutcome) => void } = {},
  ): Promise<PublishedRecord[]> {
    if (records.length === 0) return Promise.resolve([]);
    if (this.closed)
      return Promise.reject(new KafkaUnavailableError('the Kafka publisher is closed'));
    const answer = new Promise<PublishedRecord[]>((resolve, reject) => {
      const messages = records.map(toMessage);
      const pending: PendingPublish = {
        records: [...records],
        messages,
        bytes: records.reduce((sum, record) => sum + recordBytes(record), 0),
        settled: false,
        timer: setTimeout(() => {
          // Not yet handed to kafkajs: dropped, so it is never written after we said it failed.
          const index = this.queue.indexOf(pending);
          if (index >= 0) this.queue.splice(index, 1);
          const inFlight = index < 0;
          this.settle(pending, () =>
            reject(
              new KafkaUnavailableError(
                inFlight
                  ? `Kafka did not acknowledge the write within ${this.options.timeoutMs} ms; it may still be written`
                  : `Kafka did not take the write within ${this.options.timeoutMs} ms; it was not sent`,
                undefined,
                inFlight,
              ),
            ),
          );
        }, this.options.timeoutMs),
        resolve,
        reject,
        ...(options.late ? { late: options.late } : {}),
      };
      this.queue.push(pending);
      this.scheduleFlush();
    });
    this.outstanding.add(answer);
    const forget = (): void => void this.outstanding.delete(answer);
    answer.then(forget, forget);
    return answer;
  }

  /**
   * Sends what is queued and waits until every publish has its answer (each within its deadline),
   * then disconnects the producer. Publishing after `close` fails.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.startFlushes();
    await Promise.allSettled(this.outstanding);
    const producer = this.producer ?? (await this.connecting?.catch(() => undefined));
    this.producer = undefined;
    this.connecting = undefined;
    await producer?.disconnect();
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    const run = (): void => {
      this.flushTimer = undefined;
      this.startFlushes();
    };
    this.flushTimer =
      this.options.lingerMs > 0 ? setTimeout(run, this.options.lingerMs) : setImmediate(run);
  }

  private startFlushes(): void {
    // While the limit is reached, records keep queueing and leave together in the next request.
    while (this.queue.length > 0 && this.inFlight.size < this.options.maxInFlightFlushes) {
      const chunk = this.takeChunk();
      const flush = this.flush(chunk).finally(() => {
        this.inFlight.delete(flush);
        if (this.queue.length > 0) this.scheduleFlush();
      });
      this.inFlight.add(flush);
    }
  }

  private takeChunk(): PendingPublish[] {
    const chunk: PendingPublish[] = [];
    let bytes = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (chunk.length > 0 && bytes + next.bytes > this.options.maxBatchBytes) break;
      this.queue.shift();
      chunk.push(next);
      bytes += next.bytes;
    }
    return chunk;
  }

  private async flush(chunk: PendingPublish[]): Promise<void> {
    const topicMessages = new Map<string, Message[]>();
    for (const pending of chunk)
      pending.records.forEach((record, i) => {
        const list = topicMessages.get(record.topic) ?? [];
        list.push(pending.messages[i]!);
        topicMessages.set(record.topic, list);
      });
    try {
      const producer = await this.ensureProducer();
      const metadata = await producer.sendBatch({
        acks: -1,
        timeout: this.options.timeoutMs,
        topicMessages: [...topicMessages].map(([topic, messages]) => ({ topic, messages })),
      });
      const offsets = this.assignOffsets(topicMessages, metadata);
      for (const pending of chunk) {
        const published = pending.records.map((record, i) => {
          const message = pending.messages[i]!;
          return {
            topic: record.topic,
            partition: this.chosenPartitions.get(message)!,
            offset: offsets.get(message)!,
          };
        });
        if (pending.settled) pending.late?.({ ok: true, published });
        else this.settle(pending, () => pending.resolve(published));
      }
    } catch (error) {
      // Kafka may have appended some partitions of a request it answered with an error for
      // another, and kafkajs then rolls back the sequence numbers of all of them: the next
      // records of an appended partition would be taken for retries of these and answered with
      // their offsets, never written. A new producer (new id, sequences from 0) cannot collide.
      this.resetProducer();
      const failure = this.classify(error);
      for (const pending of chunk)
        if (pending.settled) pending.late?.({ ok: false, error: failure });
        else this.settle(pending, () => pending.reject(failure));
    }
  }

  /** Offset of each message: its partition's base offset plus its place among that partition's messages. */
  private assignOffsets(
    topicMessages: Map<string, Message[]>,
    metadata: RecordMetadata[],
  ): Map<Message, string> {
    const base = new Map<string, bigint>();
    for (const m of metadata) {
      const baseOffset = m.baseOffset ?? m.offset;
      if (m.errorCode !== 0 || baseOffset === undefined)
        throw new KafkaUnavailableError(
          `Kafka answered error ${m.errorCode} for ${m.topicName}/${m.partition}`,
        );
      base.set(`${m.topicName}\u0000${m.partition}`, BigInt(baseOffset));
    }
    const offsets = new Map<Message, string>();
    const counts = new Map<string, bigint>();
    for (const [topic, messages] of topicMessages)
      for (const message of messages) {
        const partition = this.chosenPartitions.get(message);
        const tp = `${topic}\u0000${partition}`;
        const first = base.get(tp);
        if (partition === undefined || first === undefined)
          throw new KafkaUnavailableError(`Kafka did not answer for ${topic}/${partition}`);
        const index = counts.get(tp) ?? 0n;
        counts.set(tp, index + 1n);
        offsets.set(message, (first + index).toString());
      }
    return offsets;
  }

  private settle(pending: PendingPublish, action: () => void): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    action();
  }

  private classify(error: unknown): Error {
    if (error instanceof KafkaUnavailableError || error instanceof KafkaRejectedError) return error;
    const types = protocolErrorTypes(error);
    const rejected = types.find((t) => REJECTED_TYPES.has(t));
    if (rejected) return new KafkaRejectedError(`Kafka refused the records: ${rejected}`, error);
    this.logger.warn({ err: error }, 'Kafka publish failed');
    return new KafkaUnavailableError('Kafka could not take the write', error);
  }

  private ensureProducer(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= this.createProducer().then(
      (producer) => {
        this.producer = producer;
        return producer;
      },
      (error: unknown) => {
        this.connecting = undefined;
        throw error;
      },
    );
    return this.connecting;
  }

  private async createProducer(): Promise<Producer> {
    const chosen = this.chosenPartitions;
    const producer = this.connection.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 5,
      // Topics are provisioned at start; a typo must not create a topic.
      allowAutoTopicCreation: false,
      createPartitioner: () => {
        const partition = Partitioners.DefaultPartitioner();
        return (args: PartitionerArgs) => {
          const p = partition(args);
          chosen.set(args.message, p);
          return p;
        };
      },
      // kafkajs retries an idempotent producer forever by default; a request we have already
      // reported as failed must stop retrying about when its deadline passes, not write hours later.
      retry: {
        initialRetryTime: 100,
        maxRetryTime: 1000,
        retries: Math.max(1, 4 + Math.ceil((this.options.timeoutMs - 1500) / 1000)),
      },
    });
    try {
      await producer.connect();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    return producer;
  }

  private resetProducer(): void {
    const producer = this.producer;
    this.producer = undefined;
    this.connecting = undefined;
    if (producer)
      this.logger.info('Kafka producer replaced after a failed write (fresh sequence numbers)');
    producer
      ?.disconnect()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'Kafka producer reset failed'));
  }
}

function toMessage(record: OutgoingRecord): Message {
  const message: Message = { key: record.key, value: record.value, headers: record.headers };
  if (record.partition !== undefined) message.partition = record.partition;
  return message;
}

/** What a record adds to a request, near enough: its key, value, header names and values. */
export function recordBytes({ key, value, headers }: OutgoingRecord): number {
  let bytes = byteLength(key) + byteLength(value);
  for (const [name, header] of Object.entries(headers))
    bytes += byteLength(name) + byteLength(header);
  return bytes;
}

function byteLength(value: string | Buffer | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/** The broker error types (`MESSAGE_TOO_LARGE`, ...) anywhere in a kafkajs error's cause chain. */
function protocolErrorTypes(error: unknown): string[] {
  const types: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 10; depth++) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') types.push(type);
    current = current.cause ?? (current as { originalError?: unknown }).originalError;
  }
  return types;
}
