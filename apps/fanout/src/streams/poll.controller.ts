import { Controller, Get, Inject, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  AllowQueryToken,
  ApiKeyGuard,
  CurrentPrincipal,
  Principal,
  RequireScope,
} from '@herald/auth';
import { PollSink } from './poll.sink';
import { StreamPlanner } from './stream-planner';
import { parseBoundedInt } from './stream-request';
import { StreamsService } from './streams.service';
import { STREAMS_CONFIG } from './streams.tokens';
import type { StreamsConfig } from './streams.config';

export interface PollAnswer {
  events: Readonly<Record<string, unknown>>[];
  /** Pass back as `cursor` for the next poll (for a durable subscription, that acknowledges these). */
  cursor: string;
}

/** `GET /v1/streams/poll` — long polling (SPEC §7). */
@Controller('v1/streams')
@UseGuards(ApiKeyGuard)
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
    await this.streams.admit(owner);
    const point = await this.streams.startPoint(plan.start);
    return new Promise<PollAnswer>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const answer = (): void => {
        if (connection.closed) return;
        clearTimeout(timer);
        const cursor = connection.cursor();
        connection.end('done');
        resolve({ events: sink.events, cursor });
      };
      // The first event answers on the next turn, so everything already at hand goes with it.
      const sink = new PollSink(limit, () => setImmediate(answer));
      const connection = this.streams.open(sink, plan.selection, point, owner);
      if (sink.events.length > 0 || waitSeconds === 0) setImmediate(answer);
      else timer = setTimeout(answer, waitSeconds * 1000);
      // The client gave up waiting: free its place at once.
      reply.raw.once('close', answer);
    });
  }
}
