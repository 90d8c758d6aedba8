import { Controller, HttpCode, Inject, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import { BoundedApiKeyGuard, CurrentPrincipal, RequireScope, type Principal } from '@herald/auth';
import {
  nonUtf8Charset,
  parseBatchArray,
  parseBatchEvents,
  parseBinaryEvent,
  parseStructuredEvent,
  parseTypedEvent,
} from './cloud-event.parser';
import type { IncomingEvent } from './incoming-event';
import {
  EventTooLargeError,
  InvalidEventError,
  UnsupportedContentTypeError,
} from './ingest.errors';
import { IngestMetrics, type IngestOutcome } from './ingest.metrics';
import { INGEST_CONFIG } from './ingest.tokens';
import type { IngestConfig } from './ingest.config';
import { IngestService } from './ingest.service';

interface RawRequest {
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

interface StatusReply {
  status(code: number): unknown;
}

const STRUCTURED = 'application/cloudevents+json';
const BATCH = 'application/cloudevents-batch+json';

function mediaType(request: RawRequest): string | undefined {
  const value = request.headers['content-type'];
  const first = Array.isArray(value) ? value[0] : value;
  return first?.split(';')[0]?.trim().toLowerCase();
}

/**
 * The charset a JSON body is declared in, when it is not UTF-8 (RFC 8259: JSON is UTF-8, and
 * ingest reads it so); undefined when there is none or it is UTF-8.
 */
function foreignCharset(request: RawRequest): string | undefined {
  const value = request.headers['content-type'];
  const first = Array.isArray(value) ? value[0] : value;
  return nonUtf8Charset(first ?? '');
}

/** Refuses a body in another charset than UTF-8: it would be read as UTF-8 all the same. */
function requireUtf8(request: RawRequest, contentType: string | undefined, expected: string): void {
  const charset = foreignCharset(request);
  if (charset !== undefined)
    throw new UnsupportedContentTypeError(
      `${contentType}; charset=${charset}`,
      `${expected} in UTF-8`,
    );
}

function isPlainJson(type: string | undefined): boolean {
  return (
    type === 'application/json' ||
    (type !== undefined &&
      /^application\/[a-z0-9.-]+\+json$/.test(type) &&
      type !== STRUCTURED &&
      type !== BATCH)
  );
}

function bodyOf(request: RawRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

/** SPEC §4 ingest: typed POSTs and CloudEvents in structured, binary and batch form. */
@Controller('v1/events')
@UseGuards(BoundedApiKeyGuard)
@RequireScope('events:publish')
export class EventsController {
  constructor(
    @Inject(IngestService) private readonly ingest: IngestService,
    @Inject(INGEST_CONFIG) private readonly config: IngestConfig,
    @Inject(IngestMetrics) private readonly metrics: IngestMetrics,
  ) {}

  /**
   * `read`, counting a request refused before its events are known (not JSON, a bad CloudEvent,
   * the wrong media type, too many events) in `herald_ingest_events_total` as one event of
   * `type` (`unknown` where the route does not name one): the service counts the rest.
   */
  private counted<T>(type: string, read: () => T): T {
    try {
      return read();
    } catch (error) {
      const outcome: IngestOutcome | undefined =
        error instanceof InvalidEventError
          ? 'invalid'
          : error instanceof UnsupportedContentTypeError
            ? 'unsupported_media_type'
            : error instanceof EventTooLargeError
              ? 'too_large'
              : undefined;
      if (outcome) this.metrics.count(type, outcome);
      throw error;
    }
  }

  /** The body is the payload of one event of `type`; 202 once Kafka has it, 200 for a repeated id. */
  @Post(':type')
  @HttpCode(202)
  async publishTyped(
    @Param('type') type: string,
    @Req() request: RawRequest,
    @Res({ passthrough: true }) reply: StatusReply,
    @CurrentPrincipal() principal: Principal,
  ) {
    const event = this.counted(type, () => {
      const contentType = mediaType(request);
      if (!isPlainJson(contentType))
        throw new UnsupportedContentTypeError(contentType, 'application/json');
      requireUtf8(request, contentType, 'application/json');
      return parseTypedEvent(type, bodyOf(request), request.headers);
    });
    const outcome = await this.ingest.ingest(principal, [event]);
    if (!outcome.written) reply.status(200);
    return outcome.results[0];
  }

  /** A CloudEvent (structured or binary mode) or a batch of them. */
  @Post()
  @HttpCode(202)
  async publish(
    @Req() request: RawRequest,
    @Res({ passthrough: true }) reply: StatusReply,
    @CurrentPrincipal() principal: Principal,
  ) {
    const contentType = mediaType(request);
    const batch = contentType === BATCH;
    const events = this.counted('unknown', () => this.read(request, contentType));
    const outcome = await this.ingest.ingest(principal, events);
    if (!outcome.written) reply.status(200);
    return batch ? outcome.results : outcome.results[0];
  }

  /** The events of a `POST /v1/events`, by its media type. */
  private read(request: RawRequest, contentType: string | undefined): IncomingEvent[] {
    const body = bodyOf(request);
    requireUtf8(request, contentType, 'JSON');
    if (contentType === STRUCTURED) return [parseStructuredEvent(body, request.headers)];
    if (contentType === BATCH) {
      const batch = parseBatchArray(body);
      if (batch.items.length > this.config.maxBatchEvents) {
        throw new EventTooLargeError(
          `A batch may hold at most ${this.config.maxBatchEvents} events; this one has ${batch.items.length}`,
        );
      }
      return parseBatchEvents(batch, request.headers);
    }
    if (isPlainJson(contentType) && request.headers['ce-specversion'] !== undefined)
      return [parseBinaryEvent(body, request.headers)];
    throw new UnsupportedContentTypeError(
      contentType,
      `${STRUCTURED}, ${BATCH}, or binary mode (ce-* headers with application/json)`,
    );
  }
}
