import { Counter, Gauge } from 'prom-client';
import type { MetricsRegistry } from '@herald/observability';
import { REDIS_UNAVAILABLE_REASONS, type RedisUnavailableReason } from '@herald/store';
import {
  eventDeliveryLatency,
  type DeliveryTransport,
  type EventDeliveryLatency,
} from '../event-latency.metric';
import type { EndReason, Transport } from './stream-connection';
import { STREAM_REDIS_OPERATIONS, type StreamRedisOperation } from './stream-redis-deadline';

/** Why a stream or a WebSocket ended: its stream's reason, or a socket that never subscribed. */
export type DisconnectReason = EndReason | 'subscribe_timeout';

/** The stream metrics of SPEC §8 (and the live tail's state), registered once per process. */
export class StreamsMetrics {
  readonly connections: Gauge<'transport'>;
  /** 1 while the live tail reads Kafka (it runs only while streams are used), else 0. */
  readonly tailRunning: Gauge;
  readonly eventsSent: Counter<'transport'>;
  readonly slowDisconnects: Counter;
  /** Partitions a stream skipped ahead on because Kafka no longer held its offset (the client is told). */
  readonly gaps: Counter<'transport'>;
  /** Events a stream's filter threw on (taken as not matching; logged once a connection). */
  readonly filterErrors: Counter<'transport'>;
  readonly disconnects: Counter<'transport' | 'reason'>;
  /** Partitions the live tail began reading while it ran (added to a topic), by topic. */
  readonly tailPartitionsAdded: Counter<'topic'>;
  /** Times the live tail skipped records retention removed before it read them. */
  readonly tailGaps: Counter<'topic'>;
  /** Redis calls of stream requests, upgrades and acks given up on (answered 503). */
  readonly redisUnavailable: Counter<'operation' | 'reason'>;
  private readonly latency: EventDeliveryLatency;

  constructor(metrics: MetricsRegistry) {
    const registers = [metrics.registry];
    this.connections = new Gauge({
      name: 'herald_stream_connections',
      help: 'Open stream connections (SSE, WebSocket) and waiting long polls',
      labelNames: ['transport'],
      registers,
    });
    this.eventsSent = new Counter({
      name: 'herald_stream_events_sent_total',
      help: 'Events sent to stream clients',
      labelNames: ['transport'],
      registers,
    });
    this.slowDisconnects = new Counter({
      name: 'herald_stream_slow_disconnects_total',
      help: 'Stream clients disconnected because they read too slowly',
      registers,
    });
    this.gaps = new Counter({
      name: 'herald_stream_gaps_total',
      help: 'Gaps told to stream clients: a partition read skipped ahead past records Kafka no longer held (retention) from where the client resumed',
      labelNames: ['transport'],
      registers,
    });
    this.filterErrors = new Counter({
      name: 'herald_stream_filter_errors_total',
      help: "Events a stream's filter threw on (a path the query engine refuses on that event), taken as not matching",
      labelNames: ['transport'],
      registers,
    });
    this.disconnects = new Counter({
      name: 'herald_stream_disconnects_total',
      help: 'Stream connections ended, by transport and reason (client_closed: the client left; done: a poll answered)',
      labelNames: ['transport', 'reason'],
      registers,
    });
    this.tailRunning = new Gauge({
      name: 'herald_stream_tail_running',
      help: 'Whether the live tail reads the channel topics (1) or is stopped with no streams open (0)',
      registers,
    });
    this.tailPartitionsAdded = new Counter({
      name: 'herald_stream_tail_partitions_added_total',
      help: 'Partitions added to a channel topic that the running live tail found and began reading from their oldest offset (STREAM_TAIL_PARTITION_CHECK_MS)',
      labelNames: ['topic'],
      registers,
    });
    this.tailGaps = new Counter({
      name: 'herald_stream_tail_gaps_total',
      help: 'Times the live tail fell behind what Kafka holds and skipped records retention had removed; the clients reading past them are told of the gap',
      labelNames: ['topic'],
      registers,
    });
    this.redisUnavailable = new Counter({
      name: 'herald_stream_redis_unavailable_total',
      help: 'Redis calls of stream requests, WebSocket upgrades and acks given up on (reason timeout: slower than STREAM_REDIS_TIMEOUT_MS; error) or refused unsent while Redis is disconnected or has not answered since one timed out (reason refused), answered 503',
      labelNames: ['operation', 'reason'],
      registers,
    });
    for (const operation of STREAM_REDIS_OPERATIONS)
      for (const reason of REDIS_UNAVAILABLE_REASONS)
        this.redisUnavailable.inc({ operation, reason }, 0);
    this.latency = eventDeliveryLatency(metrics);
    for (const transport of ['sse', 'ws', 'poll'] as const) {
      this.connections.set({ transport }, 0);
      this.eventsSent.inc({ transport }, 0);
      this.gaps.inc({ transport }, 0);
      this.filterErrors.inc({ transport }, 0);
    }
  }

  countRedisUnavailable(operation: StreamRedisOperation, reason: RedisUnavailableReason): void {
    this.redisUnavailable.inc({ operation, reason });
  }

  /** A stream's filter threw on one event (taken as not matching). */
  filterFailed(transport: Transport): void {
    this.filterErrors.inc({ transport });
  }

  disconnected(transport: Transport, reason: DisconnectReason): void {
    this.disconnects.inc({ transport, reason });
  }

  /** One event handed to a client's transport, `timeMs` being its event time. */
  sent(transport: Transport, timeMs: number, now = Date.now()): void {
    this.eventsSent.inc({ transport });
    if (!Number.isNaN(timeMs))
      this.latency.observe(
        { transport: transport satisfies DeliveryTransport },
        Math.max(0, now - timeMs) / 1000,
      );
  }
}
