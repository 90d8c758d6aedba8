import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from '@herald/auth';
import type { ContractRegistry } from '@herald/contract';
import {
  KafkaPublisher,
  KafkaRejectedError,
  KafkaUnavailableError,
  toKafkaHeaders,
  type LateOutcome,
  type OutgoingRecord,
  type PublishedRecord,
  recordBytes,
} from '@herald/kafka';
import { LOGGER, parseTraceparent, Tracer, type Logger, type Span } from '@herald/observability';
import { RedisDeadline, RedisUnavailableError, type IdempotencyStore } from '@herald/store';
import type { IngestConfig } from './ingest.config';
import {
  EventIdReusedError,
  EventInFlightError,
  EventTooLargeError,
  IngestRateLimitedError,
  IngestUnavailableError,
  InvalidEventError,
  MAX_PROBLEM_VIOLATIONS,
  PublishForbiddenError,
  UnknownEventTypeError,
  type Violation,
} from './ingest.errors';
import { IngestMetrics, type RedisOperation } from './ingest.metrics';
import { CONTRACT, INGEST_CONFIG, INGEST_IDEMPOTENCY } from './ingest.tokens';
import type { IncomingEvent, IngestResult } from './incoming-event';
import { jsonTextAt } from './json-text.scanner';
import { RateLimiter } from './rate-limiter';

/** The outcome of one request: results in request order, and whether anything new was written. */
export interface IngestOutcome {
  results: IngestResult[];
  written: boolean;
}

/**
 * Checks events against the contract and the caller's rights, deduplicates by event id, and
 * writes them to their channel topics. All or nothing: any problem refuses the whole request
 * before anything is written.
 */
@Injectable()
export class IngestService {
  constructor(
    @Inject(CONTRACT) private readonly contract: ContractRegistry,
    @Inject(KafkaPublisher) private readonly publisher: KafkaPublisher,
    @Inject(INGEST_IDEMPOTENCY) private readonly idempotency: IdempotencyStore<IngestResult>,
    @Inject(INGEST_CONFIG) private readonly config: IngestConfig,
    @Inject(IngestMetrics) private readonly metrics: IngestMetrics,
    @Inject(RateLimiter) private readonly rateLimiter: RateLimiter,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(Tracer) private readonly tracer: Tracer,
    @Inject(RedisDeadline) private readonly redis: RedisDeadline<RedisOperation>,
  ) {}

  async ingest(principal: Principal, events: IncomingEvent[]): Promise<IngestOutcome> {
    // One span per request, continuing the producer's trace (a batch continues its first event's).
    const span = this.tracer.startSpan('herald.ingest', {
      kind: 'server',
      traceparent: events.find((event) => event.traceparent !== undefined)?.traceparent,
      attributes: {
        'herald.event.count': events.length,
        'herald.event.types': [...new Set(events.map((event) => event.type))],
      },
    });
    try {
      const outcome = await this.ingestWithin(span, principal, events);
      span.end();
      return outcome;
    } catch (error) {
      span.end(error);
      throw error;
    }
  }

  private async ingestWithin(
    span: Span,
    principal: Principal,
    events: IncomingEvent[],
  ): Promise<IngestOutcome> {
    // Built here, before anything is written: an event's size is what it occupies on Kafka.
    const allRecords = this.check(span, principal, events);
    const wait = this.rateLimiter.take(principal.keyId, events.length);
    if (wait > 0) {
      this.countAll(events, 'rate_limited');
      throw new IngestRateLimitedError(wait);
    }

    const tenant = principal.tenant;
    const reserved = new Set<number>();
    // The reservation tokens of the ids this request took, by index: only they settle them.
    const tokens = new Map<number, string>();
    const results: (IngestResult | undefined)[] = events.map(() => undefined);
    const seen = new Map<string, number>();
    try {
      const claimed: number[] = [];
      for (const [index, event] of events.entries()) {
        if (!event.idGiven) reserved.add(index);
        // The same id twice in one request: written once, answered twice.
        else if (!seen.has(event.id)) {
          seen.set(event.id, index);
          claimed.push(index);
        } else {
          const first = events[seen.get(event.id)!]!;
          if (first.type !== event.type)
            throw new EventIdReusedError(event.id, event.type, first.type);
        }
      }
      const claimedIds = claimed.map((index) => events[index]!.id);
      // Events without ids need no Redis, and are written while it is away.
      const reservations = await this.redis.run(
        'reserve',
        () => this.idempotency.reserveAll(tenant, claimedIds),
        {
          // Nor refused while Redis is away: no command is issued for no ids.
          needsRedis: claimedIds.length > 0,
          // Taken after the producer was answered 503: given back, so a retry is not told 409.
          abandoned: (late) =>
            void this.release(
              tenant,
              events,
              new Map(
                claimed.flatMap((index, n) => {
                  const reservation = late[n]!;
                  return reservation.state === 'reserved' ? [[index, reservation.token]] : [];
                }),
              ),
            ),
        },
      );
      for (const [n, index] of claimed.entries()) {
        const reservation = reservations[n]!;
        if (reservation.state === 'reserved') {
          reserved.add(index);
          tokens.set(index, reservation.token);
        } else if (reservation.state === 'done') {
          const event = events[index]!;
          // A retry is the same event: another type under the id is another event.
          if (reservation.result.type !== event.type)
            throw new EventIdReusedError(event.id, event.type, reservation.result.type);
          results[index] = reservation.result;
        }
      }
      const inFlight = claimed.find((_, n) => reservations[n]!.state === 'pending');
      if (inFlight !== undefined) throw new EventInFlightError(events[inFlight]!.id);

      // Request order, so events with one key are written in the order the producer sent them.
      const writeOrder = [...reserved].sort((a, b) => a - b);
      const records = writeOrder.map((index) => allRecords[index]!);
      // Mostly one request. One that outgrows what Kafka takes at once (a partition's batch
      // stays under its max.message.bytes, 1 MiB by default; a request may carry 5 MiB) is
      // written in parts, one after another, each part's results recorded as it lands.
      const parts = this.publisher.requestsFor(records);
      let start = 0;
      for (const [n, part] of parts.entries()) {
        const order = writeOrder.slice(start, start + part.length);
        try {
          for (const [index, result] of await this.writePart(tenant, events, order, part, tokens))
            results[index] = result;
        } catch (error) {
          // Every id not written is free again, but those of this part while it may still land
          // (its late outcome settles them); the written parts' ids have left `tokens`.
          const mayLand = error instanceof IngestUnavailableError && error.mayBeWritten;
          const failed = new Set(order);
          await this.release(
            tenant,
            events,
            new Map([...tokens].filter(([index]) => !(mayLand && failed.has(index)))),
          );
          tokens.clear();
          if (n > 0) this.partlyWritten(events, writeOrder.slice(0, start), error);
          throw error;
        }
        start += part.length;
      }
    } catch (error) {
      // Kafka may still write it: the ids stay reserved until the late outcome settles them.
      if (error instanceof IngestUnavailableError && error.mayBeWritten) throw error;
      await this.release(tenant, events, tokens);
      if (error instanceof EventInFlightError) this.countAll(events, 'conflict');
      if (error instanceof EventIdReusedError) {
        this.countAll(events, 'id_reused');
        this.logger.info(
          { keyId: principal.keyId, ...error.details },
          'event id reused for another type; request refused',
        );
      }
      if (error instanceof RedisUnavailableError) this.countAll(events, 'unavailable');
      throw error;
    }

    // Repeats of an id within the request get the first occurrence's result.
    events.forEach((event, index) => {
      if (results[index] === undefined) results[index] = results[seen.get(event.id)!];
    });
    for (const [index, event] of events.entries())
      this.metrics.count(event.type, reserved.has(index) ? 'accepted' : 'duplicate');
    return { results: results as IngestResult[], written: reserved.size > 0 };
  }

  /** Frees the ids this request reserved (nothing of it was written). */
  private async release(
    tenant: string,
    events: IncomingEvent[],
    tokens: ReadonlyMap<number, string>,
  ): Promise<void> {
    if (tokens.size === 0) return;
    await this.redis
      .run('release', () =>
        Promise.all(
          [...tokens].map(([i, token]) => this.idempotency.release(tenant, events[i]!.id, token)),
        ),
      )
      .catch((releaseError: unknown) =>
        this.logger.warn({ err: releaseError }, 'could not release idempotency reservations'),
      );
  }

  private async recordResults(
    tenant: string,
    entries: { eventId: string; token: string; result: IngestResult }[],
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.redis.run('record', () => this.idempotency.completeAll(tenant, entries));
        return;
      } catch (error) {
        // Given up on while Redis holds it, it still runs when Redis answers: no second copy.
        const pending = error instanceof RedisUnavailableError && error.stillPending;
        if (attempt >= 2 || pending) {
          this.logger.warn(
            { err: error, tenant, events: entries.length },
            'events written but their results not recorded for idempotency',
          );
          return;
        }
      }
    }
  }

  /**
   * Contract, size and permission checks for every event; throws the first kind of problem found.
   * Returns the events' Kafka records, in request order.
   */
  private check(span: Span, principal: Principal, events: IncomingEvent[]): OutgoingRecord[] {
    const records: OutgoingRecord[] = [];
    // The first MAX_PROBLEM_VIOLATIONS schema violations of the request, and how many there are.
    const violations: Violation[] = [];
    let violationCount = 0;
    // Validation is the costly check (an event can break its schema a hundred thousand times):
    // once the list is full, the events after it are not validated, and the count is a floor.
    // It is one too when an event was too large to have all its violations counted.
    let uncounted = false;
    for (const event of events) {
      const type = this.contract.get(event.type);
      if (!type) {
        this.countAll(events, 'unknown_type');
        throw new UnknownEventTypeError(event.type);
      }
      if (type.internal) {
        this.countAll(events, 'forbidden');
        throw new PublishForbiddenError(
          `${event.type} is one of Herald's own events; producers cannot publish it`,
        );
      }
      if (!principal.allows('events:publish', event.type)) {
        this.countAll(events, 'forbidden');
        throw new PublishForbiddenError(`This API key may not publish ${event.type}`);
      }
      // The limit is on the record as Kafka stores it (key, value, header names and values):
      // attributes count, so many extensions cannot carry past it what data could not.
      const record = this.recordOf(span, event);
      const bytes = recordBytes(record);
      if (bytes > this.config.maxEventBytes) {
        this.countAll(events, 'too_large');
        throw new EventTooLargeError(
          `Event ${event.id} is ${bytes} bytes with its attributes; the limit is ${this.config.maxEventBytes} bytes`,
          event.dataPointer.replace(/\/data$/, ''),
        );
      }
      records.push(record);
      if (violations.length >= MAX_PROBLEM_VIOLATIONS) {
        uncounted = true;
        continue;
      }
      const result = this.contract.validate(event.type, event.data);
      if (!result.ok) {
        violationCount += result.errorCount ?? result.errors.length;
        if (result.errorCountIsLowerBound) uncounted = true;
        for (const error of result.errors.slice(0, MAX_PROBLEM_VIOLATIONS - violations.length))
          violations.push({
            pointer: `${event.dataPointer}${error.pointer}`,
            message: error.message,
          });
      }
    }
    if (violationCount > 0) {
      this.countAll(events, 'invalid');
      throw new InvalidEventError(
        events.length > 1
          ? 'Events break their schemas; nothing was written'
          : 'The event breaks its schema',
        violations,
        violationCount,
        uncounted,
      );
    }
    return records;
  }

  /**
   * Writes one part (`order`: indexes into `events`, `records` theirs) and records its results
   * for idempotency; its ids then leave `tokens`, so nothing releases them. When the deadline
   * passes while Kafka has the part, its ids stay reserved and its late outcome settles them.
   */
  private async writePart(
    tenant: string,
    events: IncomingEvent[],
    order: number[],
    records: OutgoingRecord[],
    tokens: Map<number, string>,
  ): Promise<[number, IngestResult][]> {
    const resultsOf = (published: PublishedRecord[]) =>
      order.map((index, i): [number, IngestResult] => {
        const event = events[index]!;
        const at = published[i]!;
        return [
          index,
          {
            id: event.id,
            type: event.type,
            topic: at.topic,
            partition: at.partition,
            offset: at.offset,
          },
        ];
      });
    const partTokens = new Map(
      order.filter((index) => tokens.has(index)).map((index) => [index, tokens.get(index)!]),
    );
    const reservedIds = (written: [number, IngestResult][]) =>
      written
        .filter(([index]) => partTokens.has(index))
        .map(([index, result]) => ({
          eventId: events[index]!.id,
          token: partTokens.get(index)!,
          result,
        }));
    const published = await this.publish(
      order.map((index) => events[index]!),
      records,
      // The deadline passed while Kafka had the write: its ids stay reserved until it ends.
      (outcome) => {
        if (outcome.ok) {
          this.logger.info(
            { tenant, events: order.length },
            'write confirmed after its deadline; results recorded for idempotency',
          );
          void this.recordResults(tenant, reservedIds(resultsOf(outcome.published)));
        } else {
          this.logger.info(
            { tenant, events: order.length },
            'write failed after its deadline; ids released',
          );
          void this.release(tenant, events, partTokens);
        }
      },
    );
    const written = resultsOf(published);
    // Written: from here the reservations are never released (a retry would write the events
    // again). Recording the results is tried once more; failing that, a retry within the
    // reservation's lifetime is told the write is under way, and later writes them again.
    await this.recordResults(tenant, reservedIds(written));
    for (const index of order) tokens.delete(index);
    return written;
  }

  /**
   * A later part of a request failed after earlier ones (`written`) landed and were recorded:
   * the answer says how much was written. A retry with the same ids answers the written ones
   * with their results and writes the rest.
   */
  private partlyWritten(events: IncomingEvent[], written: number[], error: unknown): never {
    for (const index of written) this.metrics.count(events[index]!.type, 'accepted');
    this.logger.warn(
      { err: error, written: written.length, events: events.length },
      'request partly written: a later part failed',
    );
    throw new IngestUnavailableError(this.config.kafkaRetryAfterSeconds, error, true, {
      written: written.length,
      total: events.length,
    });
  }

  /** The Kafka record of `event` (its type is in the contract). */
  private recordOf(span: Span, event: IncomingEvent): OutgoingRecord {
    const type = this.contract.get(event.type)!;
    const traceparent = traceparentFor(event, span);
    return {
      topic: type.topic,
      key: event.key ?? this.keyOf(event) ?? null,
      value: event.dataJson ?? JSON.stringify(event.data),
      headers: toKafkaHeaders({
        id: event.id,
        source: event.source ?? type.source,
        type: event.type,
        time: event.time,
        ...(event.subject === undefined ? {} : { subject: event.subject }),
        ...(event.dataschema === undefined ? {} : { dataschema: event.dataschema }),
        ...(event.datacontenttype === undefined ? {} : { datacontenttype: event.datacontenttype }),
        ...(traceparent === undefined ? {} : { traceparent }),
        extensions: event.extensions,
      }),
    };
  }

  /** The key pointer's value; a number as the producer wrote it, which `data` no longer says. */
  private keyOf(event: IncomingEvent): string | undefined {
    const { dataJson } = event;
    return this.contract.keyOf(
      event.type,
      event.data,
      dataJson === undefined ? undefined : (path) => jsonTextAt(dataJson, path),
    );
  }

  private async publish(
    events: IncomingEvent[],
    records: OutgoingRecord[],
    late: (outcome: LateOutcome) => void,
  ): Promise<PublishedRecord[]> {
    try {
      return await this.publisher.publish(records, { late });
    } catch (error) {
      if (error instanceof KafkaRejectedError) throw this.refused(events, records, error);
      throw this.unavailable(events, error);
    }
  }

  /**
   * Kafka refused this request's own records. The publisher shares a Kafka request among
   * concurrent HTTP requests, but Kafka answers it partition by partition and the publisher
   * answers each request from its own partitions: a refusal is never about another request's
   * records, and theirs are answered with where Kafka wrote them, once.
   */
  private refused(
    events: IncomingEvent[],
    records: OutgoingRecord[],
    error: KafkaRejectedError,
  ): InvalidEventError {
    this.countAll(events, 'invalid');
    this.logger.warn({ err: error, events: events.length }, 'Kafka refused the events');
    return new InvalidEventError(
      records.length > 1
        ? 'Kafka refused the events; those it keeps on other partitions than the refused ones may have been written'
        : 'Kafka refused the event; nothing was written',
      [{ pointer: '', message: error.message }],
    );
  }

  private unavailable(events: IncomingEvent[], error: unknown): IngestUnavailableError {
    const inFlight = error instanceof KafkaUnavailableError && error.inFlight;
    this.countAll(events, 'unavailable');
    this.logger.warn(
      { err: error, events: events.length, mayBeWritten: inFlight },
      'Kafka could not take the write',
    );
    return new IngestUnavailableError(this.config.kafkaRetryAfterSeconds, error, inFlight);
  }

  private countAll(events: IncomingEvent[], outcome: Parameters<IngestMetrics['count']>[1]): void {
    for (const event of events) this.metrics.count(event.type, outcome);
  }
}

/**
 * The `traceparent` written with an event. Tracing off (or the trace unsampled): the producer's,
 * unchanged. Tracing on: the ingest span as parent, which also starts a trace for events sent
 * without one; an event of another trace in the same batch keeps its own so that trace is not cut.
 */
function traceparentFor(event: IncomingEvent, span: Span): string | undefined {
  const child = span.traceparent();
  if (!span.recording || child === undefined) return event.traceparent;
  const own = parseTraceparent(event.traceparent);
  return own && own.traceId !== parseTraceparent(child)?.traceId ? event.traceparent : child;
}
