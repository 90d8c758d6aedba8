import { Controller, Get, Inject, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  AllowQueryToken,
  BoundedApiKeyGuard,
  CurrentPrincipal,
  Principal,
  RequireScope,
  UnauthenticatedError,
} from '@herald/auth';
import type { HeraldError } from '@herald/errors';
import { PollSink, type PollGap } from './poll.sink';
import { END_MESSAGES, type EndReason } from './stream-connection';
import { StreamPlanner, type StreamPlan } from './stream-planner';
import { parseBoundedInt } from './stream-request';
import { StreamsService, type StreamAdmission } from './streams.service';
import { STREAMS_CONFIG } from './streams.tokens';
import type { StreamsConfig } from './streams.config';
import { StreamSubscriptionConflictError, StreamSubscriptionNotFoundError } from './streams.errors';

export interface PollAnswer {
  events: Readonly<Record<string, unknown>>[];
  /** Pass back as `cursor` for the next poll (for a durable subscription, that acknowledges these). */
  cursor: string;
  /**
   * Present when records the client had not had yet are no longer held by Kafka and were skipped
   * (one entry a partition skipped), each with where it fell among `events` (`beforeEvent`).
   */
  gaps?: PollGap[];
}

/**
 * A waiting poll ended because its key or subscription went away answers what the next poll
 * would: 401, 404 or 409 (a changed subscription answers normally: the next poll uses the change).
 */
function revokedError(reason: EndReason, subscriptionId: string | null): HeraldError | null {
  const message = END_MESSAGES[reason] ?? reason;
  switch (reason) {
    case 'key_deleted':
      return new UnauthenticatedError(message);
    case 'subscription_deleted':
      return new StreamSubscriptionNotFoundError(subscriptionId ?? '');
    case 'subscription_paused':
    case 'subscription_disabled':
      return new StreamSubscriptionConflictError(message);
    case 'subscription_changed':
    case 'client_closed':
    case 'done':
    case 'server_error':
    case 'shutdown':
    case 'slow_consumer':
    case 'unresponsive':
      return null;
  }
}

/** A `wait=0` poll whose catch-up read from Kafka has not come back by then answers anyway. */
const ZERO_WAIT_BOUND_MS = 5000;

/** `GET /v1/streams/poll` — long polling (SPEC §7). */
@Controller('v1/streams')
@UseGuards(BoundedApiKeyGuard)
@RequireScope('streams:read')
@AllowQueryToken()
export class PollController {
  constructor(
    @Inject(StreamsService) private readonly streams: StreamsService,
    @Inject(StreamPlanner) private readonly planner: StreamPlanner,
    @Inject(STREAMS_CONFIG) private readonly config: StreamsConfig,
  ) {}

  @Get('poll')
  async poll(
    @CurrentPrincipal() principal: Principal,
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PollAnswer> {
    const waitSeconds = parseBoundedInt(query.wait, 'wait', {
      min: 0,
      max: this.config.pollMaxWaitSeconds,
      fallback: this.config.pollMaxWaitSeconds,
    });
    const limit = parseBoundedInt(query.limit, 'limit', {
      min: 1,
      max: this.config.pollMaxLimit,
      fallback: Math.min(100, this.config.pollMaxLimit),
    });
    const plan = await this.planner.plan(principal, {
      types: query.types,
      filter: query.filter,
      from: query.from,
      cursors: [query.cursor],
      subscription: query.subscription,
    });
    const owner = {
      keyId: principal.keyId,
      tenant: principal.tenant,
      subscriptionId: plan.subscriptionId,
    };
    const admission = await this.streams.admit(owner);
    // Gives the key's place back unless the poll's stream opened (and holds it).
    try {
      return await this.answer(reply, plan, admission, waitSeconds, limit);
    } finally {
      admission.release();
    }
  }

  private async answer(
    reply: FastifyReply,
    plan: StreamPlan,
    admission: StreamAdmission,
    waitSeconds: number,
    limit: number,
  ): Promise<PollAnswer> {
    const point = await this.streams.startPoint(plan.start);
    return new Promise<PollAnswer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let ended = false;
      // Ends the connection; its sink's `ended` answers, once (a connection ends once), also
      // when the server ends it first: a shutdown or a failed catch-up answer with what was
      // read so far and where to go on.
      const answer = (): void => connection.end('done');
      const sink = new PollSink(limit, this.config.pollMaxBytes, {
        // The first event answers on the next turn, so everything already at hand goes with it.
        first: () => setImmediate(answer),
        // wait=0: what is there now, read from Kafka first when the cursor is behind the ring.
        atRest: () => {
          if (waitSeconds === 0) setImmediate(answer);
        },
        ended: (reason, cursor) => {
          ended = true;
          clearTimeout(timer);
          const error = revokedError(reason, plan.subscriptionId);
          if (error) reject(error);
          else
            resolve({
              events: sink.events,
              cursor,
              ...(sink.gaps.length > 0 ? { gaps: sink.gaps } : {}),
            });
        },
      });
      const connection = this.streams.open(sink, plan, point, admission);
      // Ended as it opened (a shutdown, the key deleted or the subscription changed meanwhile):
      // answered already, so no wait is armed (it would hold the process for `wait` seconds).
      if (ended) return;
      if (sink.events.length > 0) setImmediate(answer);
      else timer = setTimeout(answer, waitSeconds === 0 ? ZERO_WAIT_BOUND_MS : waitSeconds * 1000);
      // The client gave up waiting (or left while the poll was set up): free its place at once.
      if (reply.raw.destroyed) setImmediate(answer);
      else reply.raw.once('close', answer);
    });
  }
}
