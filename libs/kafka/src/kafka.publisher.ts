import { createRequire } from 'node:module';
import {
  Partitioners,
  type Cluster,
  type Kafka,
  type Message,
  type PartitionerArgs,
  type Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { KafkaConfig } from './kafka.config';
import type { KafkaConnection } from './kafka.connection';
import { KafkaRejectedError, KafkaUnavailableError } from './kafka.errors';
import { publisherMetrics, type PublisherMetrics } from './kafka.metrics';
import { topicPartitionKey } from './topic-partition.key';

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
  /**
   * Where `herald_kafka_publish_refused_total` and `herald_kafka_publisher_partitions_added_total`
   * are registered; no metrics without one.
   */
  registry?: Registry;
};

/**
 * What kafkajs logs (at error) when the publisher holds a write back: a normal, handled
 * condition, so the connection's log creator writes it at debug.
 */
export const HELD_BACK_MESSAGE = 'write held back while another write on this producer settles';

/** How a publish whose deadline passed while Kafka had its records ended after all. */
export type LateOutcome =
  | { readonly ok: true; readonly published: PublishedRecord[] }
  | { readonly ok: false; readonly error: Error };

interface PendingPublish {
  /** Order of the calls: a publish sent again keeps its place before later ones. */
  seq: number;
  records: OutgoingRecord[];
  messages: Message[];
  /** Where each record landed, once Kafka answered for its partition. */
  published: (PublishedRecord | undefined)[];
  /** Bytes of the records not yet written. */
  bytes: number;
  /** Sent in a request of its own (a shared one failed before Kafka saw it). */
  alone: boolean;
  settled: boolean;
  timer: NodeJS.Timeout;
  resolve(published: PublishedRecord[]): void;
  reject(error: Error): void;
  late?: (outcome: LateOutcome) => void;
}

/** One `sendBatch`: what Kafka answered for each partition of it, across kafkajs's retries. */
interface Attempt {
  /** Kafka's last answer per partition (`topic\0partition`). */
  readonly answers: Map<
    string,
    { topic: string; partition: number; errorCode: number; baseOffset: string | undefined }
  >;
  /** Partitions of a request that got no answer: Kafka may have appended them. */
  readonly uncertain: Set<string>;
  /** Partitions never sent: held back while another write on the producer settled. */
  readonly heldBack: Set<string>;
  /** Produce requests under way. */
  readonly requests: Set<Promise<unknown>>;
  /** A produce request left for Kafka. */
  sent: boolean;
  /** A produce request failed: kafkajs rolled back the sequence numbers of its partitions. */
  failedRequest: boolean;
}

/** A kafkajs producer and what the publisher knows about its sequence numbers. */
interface ProducerHandle {
  producer: Producer;
  /**
   * The write whose produce request failed and which kafkajs may still be retrying. kafkajs rolls
   * back the sequence numbers of a failed request's partitions, those Kafka appended too; until
   * that write ends, no other write may send with them.
   */
  heldBy: Attempt | undefined;
  /** The sequence numbers no longer match Kafka's: nothing more is sent through it. */
  retired: boolean;
  /** Writes under way through it. */
  active: number;
  disconnected?: Promise<void>;
}

type Outcome =
  | { kind: 'written'; at: PublishedRecord }
  | { kind: 'refused'; errorCode: number; topic: string; partition: number }
  | { kind: 'unknown' }
  | { kind: 'held' };

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
 * Kafka answers such a request partition by partition: a call whose records all landed on
 * partitions Kafka appended is answered with their offsets, even when Kafka refused another
 * partition of the request (another call's records); only the calls with records on a refused
 * partition fail. Each call fails on its own deadline (`timeoutMs`) with `KafkaUnavailableError`;
 * a call whose deadline passes before its records are sent is dropped from the queue, never
 * written later.
 */
export class KafkaPublisher {
  private readonly options: Required<Omit<PublishOptions, 'registry'>>;
  private readonly metrics: PublisherMetrics | undefined;
  // How many partitions each topic had when the publisher last chose one of them.
  private readonly partitionCounts = new Map<string, number>();
  private readonly queue: PendingPublish[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly outstanding = new Set<Promise<PublishedRecord[]>>();
  // The partition kafkajs's DefaultPartitioner (Java-compatible murmur2) picked for each message.
  private readonly chosenPartitions = new WeakMap<Message, number>();
  // The write each message is part of, so a produce request kafkajs makes is traced to it.
  private readonly attempts = new WeakMap<Message, Attempt>();
  // Producers with writes under way: the current one and those retired but not yet idle.
  private readonly handles = new Set<ProducerHandle>();
  private handle: ProducerHandle | undefined;
  private connecting: Promise<ProducerHandle> | undefined;
  private flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private nextSeq = 0;
  private closed = false;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly logger: Logger,
    options: Partial<PublishOptions> = {},
  ) {
    const { registry, ...publish } = options;
    this.options = { ...connection.config.publish, maxInFlightFlushes: 2, ...publish };
    this.metrics = registry ? publisherMetrics(registry) : undefined;
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
   * `KafkaRejectedError` when Kafka refuses these records themselves (never for the records of
   * another call that shared the request). Never resolves partly; records of the call on
   * partitions Kafka did append stay written (the error's message says how many). When the
   * deadline passes while Kafka already has the request (`KafkaUnavailableError` with
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
        seq: this.nextSeq++,
        records: [...records],
        messages,
        published: records.map(() => undefined),
        bytes: records.reduce((sum, record) => sum + recordBytes(record), 0),
        alone: false,
        settled: false,
        timer: setTimeout(() => {
          // Not yet handed to kafkajs: dropped, so it is never written after we said it failed.
          const index = this.queue.indexOf(pending);
          if (index >= 0) this.queue.splice(index, 1);
          const inFlight = index < 0;
          const written = pending.published.filter(Boolean).length;
          this.settle(pending, () =>
            reject(
              new KafkaUnavailableError(
                inFlight
                  ? `Kafka did not acknowledge the write within ${this.options.timeoutMs} ms; it may still be written`
                  : written > 0
                    ? `Kafka did not take the write within ${this.options.timeoutMs} ms; ${written} of its ${records.length} records were written, the others not sent`
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
    const handle = this.handle ?? (await this.connecting?.catch(() => undefined));
    this.handle = undefined;
    this.connecting = undefined;
    if (handle) await this.disconnect(handle);
    await Promise.allSettled([...this.handles].map((h) => h.disconnected ?? this.disconnect(h)));
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
    // While a failed write settles, nothing new is sent: its sequence numbers are not to be taken.
    while (
      this.queue.length > 0 &&
      this.inFlight.size < this.options.maxInFlightFlushes &&
      !this.settlingFailure()
    ) {
      const chunk = this.takeChunk();
      const flush = this.flush(chunk).finally(() => {
        this.inFlight.delete(flush);
        if (this.queue.length > 0) this.scheduleFlush();
      });
      this.inFlight.add(flush);
    }
  }

  private settlingFailure(): boolean {
    for (const handle of this.handles)
      if ((handle.heldBy || handle.retired) && handle.active > 0) return true;
    return false;
  }

  private takeChunk(): PendingPublish[] {
    const chunk: PendingPublish[] = [];
    let bytes = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (chunk.length > 0 && (next.alone || bytes + next.bytes > this.options.maxBatchBytes))
        break;
      this.queue.shift();
      chunk.push(next);
      bytes += next.bytes;
      if (next.alone) break;
    }
    return chunk;
  }

  private async flush(chunk: PendingPublish[]): Promise<void> {
    const attempt: Attempt = {
      answers: new Map(),
      uncertain: new Set(),
      heldBack: new Set(),
      requests: new Set(),
      sent: false,
      failedRequest: false,
    };
    const topicMessages = new Map<string, Message[]>();
    for (const pending of chunk)
      pending.records.forEach((record, i) => {
        if (pending.published[i]) return;
        const message = pending.messages[i]!;
        this.attempts.set(message, attempt);
        const list = topicMessages.get(record.topic) ?? [];
        list.push(message);
        topicMessages.set(record.topic, list);
      });
    let handle: ProducerHandle | undefined;
    let failure: unknown;
    try {
      handle = await this.ensureProducer();
      handle.active++;
      try {
        await handle.producer.sendBatch({
          acks: -1,
          timeout: this.options.timeoutMs,
          topicMessages: [...topicMessages].map(([topic, messages]) => ({ topic, messages })),
        });
      } finally {
        // kafkajs gives up on a write when one broker fails it: the others' answers still count.
        await Promise.allSettled([...attempt.requests]);
        handle.active--;
      }
    } catch (error) {
      failure = error;
    }
    if (handle) this.afterAttempt(handle, attempt, failure !== undefined);
    this.reportRefusals(attempt);
    this.answer(chunk, topicMessages, attempt, failure);
  }

  /** Keeps the producer while its sequence numbers agree with Kafka's, else retires it. */
  private afterAttempt(handle: ProducerHandle, attempt: Attempt, failed: boolean): void {
    // Failed after a produce request failed: kafkajs rolled back the sequence numbers of that
    // request's partitions, those Kafka appended too. The next records of an appended partition
    // would be taken for retries of these and answered with their offsets, never written. A new
    // producer (new id, sequences from 0) cannot collide.
    if (failed && attempt.failedRequest) this.retire(handle);
    // Written after kafkajs's own retries (same sequence numbers, Kafka's duplicates answered
    // with their first offsets): the numbers agree again.
    else if (handle.heldBy === attempt) handle.heldBy = undefined;
    if (handle.retired && handle.active === 0) void this.disconnect(handle);
  }

  /** Answers each call of the chunk from Kafka's per-partition answers, or sends it again. */
  private answer(
    chunk: PendingPublish[],
    topicMessages: Map<string, Message[]>,
    attempt: Attempt,
    failure: unknown,
  ): void {
    let classified: Error | undefined;
    const error = (): Error | undefined =>
      failure === undefined ? undefined : (classified ??= this.classify(failure));
    // Nothing reached Kafka and it refused: maybe one call's topic. Each call is tried alone.
    if (!attempt.sent && chunk.length > 1 && error() instanceof KafkaRejectedError) {
      for (const pending of chunk) this.requeue(pending, true);
      this.logger.warn(
        { err: failure, publishes: chunk.length },
        'Kafka refused a shared write before taking any of it; sending each publish alone',
      );
      return;
    }
    const outcomes = this.outcomes(topicMessages, attempt);
    let answered = 0;
    let failed = 0;
    let heldBack = 0;
    for (const pending of chunk) {
      let refused: Extract<Outcome, { kind: 'refused' }> | undefined;
      let unknown = false;
      let held = false;
      pending.messages.forEach((message, i) => {
        if (pending.published[i]) return;
        const outcome = outcomes.get(message) ?? { kind: 'unknown' };
        if (outcome.kind === 'written') pending.published[i] = outcome.at;
        else if (outcome.kind === 'refused') refused ??= outcome;
        else if (outcome.kind === 'unknown') unknown = true;
        else held = true;
      });
      if (pending.published.every(Boolean)) {
        answered++;
        const published = pending.published as PublishedRecord[];
        if (pending.settled) pending.late?.({ ok: true, published });
        else this.settle(pending, () => pending.resolve(published));
        continue;
      }
      if (held && !refused && !unknown) {
        heldBack++;
        this.requeue(pending, pending.alone);
        continue;
      }
      failed++;
      const failureOf = refused
        ? this.refusal(refused, pending)
        : (error() ?? new KafkaUnavailableError('Kafka did not answer for every partition'));
      if (pending.settled) pending.late?.({ ok: false, error: failureOf });
      else this.settle(pending, () => pending.reject(failureOf));
    }
    // Each refused partition has its own warning (reportRefusals); this says what came of the calls.
    if (failure !== undefined && answered > 0)
      this.logger.info(
        { answered, failed, heldBack },
        'Kafka refused part of a shared write; the publishes it appended are answered with their offsets',
      );
    if (heldBack > 0)
      this.logger.info(
        { publishes: heldBack },
        'publishes held back while a failed write settled; sending them again',
      );
  }

  /**
   * One warning and one count per partition Kafka refused in this write, by its last answer
   * (kafkajs retries some refusals); a partition whose retry got no answer is in doubt, not refused.
   */
  private reportRefusals(attempt: Attempt): void {
    for (const [tp, { errorCode, topic, partition }] of attempt.answers) {
      if (errorCode === 0 || attempt.uncertain.has(tp)) continue;
      const error = errorType(errorCode);
      this.metrics?.refused.inc({ topic, error });
      this.logger.warn({ topic, partition, error }, 'Kafka refused the write to a partition');
    }
  }

  /** Where each message landed (its partition's base offset plus its place there), or why not. */
  private outcomes(topicMessages: Map<string, Message[]>, attempt: Attempt): Map<Message, Outcome> {
    const outcomes = new Map<Message, Outcome>();
    for (const [topic, messages] of topicMessages) {
      const counts = new Map<number, bigint>();
      for (const message of messages) {
        const partition = this.chosenPartitions.get(message);
        if (partition === undefined) {
          outcomes.set(message, { kind: 'unknown' });
          continue;
        }
        const tp = topicPartitionKey(topic, partition);
        const answer = attempt.answers.get(tp);
        if (answer?.errorCode === 0 && answer.baseOffset !== undefined) {
          const index = counts.get(partition) ?? 0n;
          counts.set(partition, index + 1n);
          const offset = (BigInt(answer.baseOffset) + index).toString();
          outcomes.set(message, { kind: 'written', at: { topic, partition, offset } });
        } else if (attempt.uncertain.has(tp)) outcomes.set(message, { kind: 'unknown' });
        else if (answer)
          outcomes.set(message, {
            kind: 'refused',
            errorCode: answer.errorCode,
            topic,
            partition,
          });
        else if (attempt.heldBack.has(tp)) outcomes.set(message, { kind: 'held' });
        else outcomes.set(message, { kind: 'unknown' });
      }
    }
    return outcomes;
  }

  /** The error for a call with records on a partition Kafka answered with an error. */
  private refusal(refused: Extract<Outcome, { kind: 'refused' }>, pending: PendingPublish): Error {
    const type = errorType(refused.errorCode);
    const written = pending.published.filter(Boolean).length;
    const where = `${refused.topic}/${refused.partition}`;
    const kept =
      written > 0
        ? `; ${written} of its ${pending.records.length} records were written, on partitions Kafka took`
        : '';
    const cause = kafkajsInternals().errorFromCode(refused.errorCode);
    if (REJECTED_TYPES.has(type))
      return new KafkaRejectedError(`Kafka refused the records: ${type} (${where})${kept}`, cause);
    // Logged once per refused partition by reportRefusals, not once per call.
    return new KafkaUnavailableError(`Kafka could not take the write (${type})${kept}`, cause);
  }

  /** Back in the queue, in its place among the calls, to be sent with what it has not written. */
  private requeue(pending: PendingPublish, alone: boolean): void {
    if (pending.settled) {
      // Its deadline passed while it was with kafkajs: never sent after that.
      pending.late?.({
        ok: false,
        error: new KafkaUnavailableError('Kafka did not take the write before its deadline'),
      });
      return;
    }
    pending.alone = alone;
    pending.bytes = pending.records.reduce(
      (sum, record, i) => sum + (pending.published[i] ? 0 : recordBytes(record)),
      0,
    );
    let index = this.queue.findIndex((queued) => queued.seq > pending.seq);
    if (index < 0) index = this.queue.length;
    this.queue.splice(index, 0, pending);
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

  private ensureProducer(): Promise<ProducerHandle> {
    if (this.handle) return Promise.resolve(this.handle);
    this.connecting ??= this.createProducer().then(
      (handle) => {
        this.handle = handle;
        this.handles.add(handle);
        return handle;
      },
      (error: unknown) => {
        this.connecting = undefined;
        throw error;
      },
    );
    return this.connecting;
  }

  private async createProducer(): Promise<ProducerHandle> {
    const internals = kafkajsInternals();
    const kafka = this.connection.kafka;
    // kafkajs's own producer, on a cluster the publisher holds, so it sees Kafka's answer for
    // each partition of a produce request (kafkajs throws the first error and drops the rest).
    const cluster = privateMember<(options: Record<string, unknown>) => Cluster>(
      kafka,
      'private:Kafka:createCluster',
    )({
      // Partitions added to a topic get keyed records once the publisher's view is this old.
      metadataMaxAge: this.options.metadataMaxAgeMs,
      // Topics are provisioned at start; a typo must not create a topic.
      allowAutoTopicCreation: false,
      maxInFlightRequests: 5,
    });
    const chosen = this.chosenPartitions;
    const producer = internals.createProducer({
      cluster,
      logger: privateMember(kafka, 'private:Kafka:logger'),
      idempotent: true,
      createPartitioner: () => {
        const partition = Partitioners.DefaultPartitioner();
        return (args: PartitionerArgs) => {
          const p = partition(args);
          chosen.set(args.message, p);
          this.notePartitionCount(args.topic, args.partitionMetadata.length);
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
    const handle: ProducerHandle = { producer, heldBy: undefined, retired: false, active: 0 };
    this.observeProduce(cluster, handle);
    try {
      await producer.connect();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    return handle;
  }

  /** Says once when a topic's partition count grows: keyed records move to the new count. */
  private notePartitionCount(topic: string, partitions: number): void {
    const known = this.partitionCounts.get(topic);
    if (known === partitions) return;
    this.partitionCounts.set(topic, partitions);
    if (known === undefined || partitions < known) return;
    this.metrics?.partitionsAdded.inc({ topic });
    this.logger.info(
      { topic, partitions, before: known },
      `topic gained partitions; keyed records now spread over ${partitions}`,
    );
  }

  /** Routes every produce request kafkajs makes through `produceThrough`. */
  private observeProduce(cluster: Cluster, handle: ProducerHandle): void {
    const internal = cluster as unknown as {
      findBroker(query: { nodeId: string }): Promise<InternalBroker>;
    };
    const findBroker = internal.findBroker.bind(cluster);
    const observed = new WeakSet<InternalBroker>();
    internal.findBroker = async (query) => {
      const broker = await findBroker(query);
      if (!observed.has(broker)) {
        observed.add(broker);
        const produce = broker.produce.bind(broker);
        broker.produce = (request) => this.produceThrough(handle, broker, produce, request);
      }
      return broker;
    };
  }

  /**
   * One produce request of a write to one broker. Held back (never sent) while another write's
   * failed request is settling or the producer is retired: its sequence numbers may be ones Kafka
   * already holds. Kafka's answer is kept per partition before kafkajs turns it into one error.
   */
  private async produceThrough(
    handle: ProducerHandle,
    broker: InternalBroker,
    produce: InternalBroker['produce'],
    request: ProduceRequest,
  ): Promise<unknown> {
    const first = request.topicData[0]?.partitions[0]?.messages[0];
    const attempt = first && this.attempts.get(first);
    if (!attempt) return produce(request);
    const partitions = request.topicData.flatMap(({ topic, partitions }) =>
      partitions.map(({ partition }) => topicPartitionKey(topic, Number(partition))),
    );
    if (handle.retired || (handle.heldBy && handle.heldBy !== attempt)) {
      for (const tp of partitions) if (!attempt.uncertain.has(tp)) attempt.heldBack.add(tp);
      // Not retriable: kafkajs gives up on the write (and rolls back these unused numbers).
      throw new Error(HELD_BACK_MESSAGE);
    }
    attempt.sent = true;
    const call = this.sendProduce(broker, request, attempt, partitions);
    attempt.requests.add(call);
    try {
      return await call;
    } catch (error) {
      attempt.failedRequest = true;
      // Before kafkajs rolls these sequence numbers back and lets the next write take them.
      handle.heldBy ??= attempt;
      throw error;
    } finally {
      attempt.requests.delete(call);
    }
  }

  /** kafkajs's Broker.produce, keeping Kafka's answer for each partition in `attempt`. */
  private async sendProduce(
    broker: InternalBroker,
    request: ProduceRequest,
    attempt: Attempt,
    partitions: string[],
  ): Promise<unknown> {
    const protocolRequest = broker.lookupRequest(
      PRODUCE_API_KEY,
      kafkajsInternals().produceRequests,
    )({
      acks: request.acks ?? -1,
      timeout: request.timeout ?? 30_000,
      compression: request.compression ?? 0,
      topicData: request.topicData,
      transactionalId: request.transactionalId,
      producerId: request.producerId,
      producerEpoch: request.producerEpoch,
    });
    const { response } = protocolRequest;
    let answered = false;
    try {
      return await broker.connectionPool.send({
        ...protocolRequest,
        response: {
          ...response,
          parse: (data: unknown) => {
            answered = true;
            recordAnswers(attempt, data as ProduceAnswer);
            return response.parse(data);
          },
        },
      });
    } catch (error) {
      if (!answered) for (const tp of partitions) attempt.uncertain.add(tp);
      // As kafkajs's own request path: a closed connection drops the broker's connections.
      if ((error as { name?: unknown }).name === 'KafkaJSConnectionClosedError')
        await broker.disconnect().catch(() => undefined);
      throw error;
    }
  }

  private retire(handle: ProducerHandle): void {
    if (handle.retired) return;
    handle.retired = true;
    if (this.handle === handle) {
      this.handle = undefined;
      this.connecting = undefined;
    }
    this.logger.info('Kafka producer replaced after a failed write (fresh sequence numbers)');
  }

  private disconnect(handle: ProducerHandle): Promise<void> {
    handle.disconnected ??= handle.producer
      .disconnect()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'Kafka producer reset failed'))
      .finally(() => this.handles.delete(handle));
    return handle.disconnected;
  }
}

// kafkajs internals the publisher builds on (kafkajs is pinned to 2.2.4 and no longer
// maintained, so they will not move under us; kafka.publisher.int-spec fails loudly if they do):
// its producer factory, the Produce request definitions and the protocol's error codes.
const PRODUCE_API_KEY = 0;

interface ProduceRequest {
  topicData: { topic: string; partitions: { partition: number | string; messages: Message[] }[] }[];
  acks?: number;
  timeout?: number;
  compression?: number;
  transactionalId?: string;
  producerId?: number;
  producerEpoch?: number;
}

interface ProduceAnswer {
  topics: {
    topicName: string;
    partitions: { partition: number; errorCode: number; baseOffset?: string; offset?: string }[];
  }[];
}

interface ProtocolRequest {
  request: unknown;
  response: { parse(data: unknown): Promise<unknown> };
}

interface InternalBroker {
  produce(request: ProduceRequest): Promise<unknown>;
  lookupRequest(apiKey: number, definitions: unknown): (request: ProduceRequest) => ProtocolRequest;
  connectionPool: { send(request: ProtocolRequest): Promise<unknown> };
  disconnect(): Promise<void>;
}

interface KafkajsInternals {
  createProducer(options: Record<string, unknown>): Producer;
  produceRequests: unknown;
  errorFromCode(code: number): Error & { type?: string };
}

let internals: KafkajsInternals | undefined;

function kafkajsInternals(): KafkajsInternals {
  if (internals) return internals;
  const load = createRequire(__filename);
  const createProducer = load('kafkajs/src/producer') as unknown;
  const { requests } = load('kafkajs/src/protocol/requests') as { requests: { Produce?: unknown } };
  const errors = load('kafkajs/src/protocol/error') as { createErrorFromCode?: unknown };
  if (
    typeof createProducer !== 'function' ||
    requests.Produce === undefined ||
    typeof errors.createErrorFromCode !== 'function'
  )
    throw new Error('kafkajs internals moved; KafkaPublisher needs kafkajs 2.2.x');
  internals = {
    createProducer: createProducer as KafkajsInternals['createProducer'],
    produceRequests: requests.Produce,
    errorFromCode: errors.createErrorFromCode as KafkajsInternals['errorFromCode'],
  };
  return internals;
}

/** A symbol-keyed member of kafkajs's client (its cluster factory, its logger). */
function privateMember<T>(kafka: Kafka, description: string): T {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === description);
  const member =
    symbol === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[symbol];
  if (member === undefined)
    throw new Error(`kafkajs has no ${description}; KafkaPublisher needs kafkajs 2.2.x`);
  return member as T;
}

function recordAnswers(attempt: Attempt, data: ProduceAnswer): void {
  for (const { topicName, partitions } of data.topics)
    for (const { partition, errorCode, baseOffset, offset } of partitions) {
      const tp = topicPartitionKey(topicName, partition);
      attempt.answers.set(tp, {
        topic: topicName,
        partition,
        errorCode,
        baseOffset: baseOffset ?? offset,
      });
      // Appended (or a retry's duplicate answered with its first offset): no longer in doubt.
      if (errorCode === 0) attempt.uncertain.delete(tp);
    }
}

/** The broker's name for an error code (`MESSAGE_TOO_LARGE`, ...). */
function errorType(errorCode: number): string {
  return kafkajsInternals().errorFromCode(errorCode).type ?? `error ${errorCode}`;
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
