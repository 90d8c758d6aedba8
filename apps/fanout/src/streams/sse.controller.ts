import { Controller, Get, Headers, Inject, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  AllowQueryToken,
  BoundedApiKeyGuard,
  CurrentPrincipal,
  Principal,
  RequireScope,
} from '@herald/auth';
import { LOGGER, type Logger } from '@herald/observability';
import { SseSink } from './sse.sink';
import { StreamPlanner, type StreamPlan } from './stream-planner';
import { StreamsService, type StreamAdmission } from './streams.service';
import { STREAMS_CONFIG } from './streams.tokens';
import type { StreamsConfig } from './streams.config';

/** `GET /v1/streams/sse` — Server-Sent Events (SPEC §7). */
@Controller('v1/streams')
@UseGuards(BoundedApiKeyGuard)
@RequireScope('streams:read')
@AllowQueryToken()
export class SseController {
  constructor(
    @Inject(StreamsService) private readonly streams: StreamsService,
    @Inject(StreamPlanner) private readonly planner: StreamPlanner,
    @Inject(STREAMS_CONFIG) private readonly config: StreamsConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Get('sse')
  async open(
    @CurrentPrincipal() principal: Principal,
    @Query() query: Record<string, unknown>,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const plan = await this.planner.plan(principal, {
      types: query.types,
      filter: query.filter,
      from: query.from,
      cursors: [lastEventId, query.cursor],
      subscription: query.subscription,
    });
    const owner = {
      keyId: principal.keyId,
      tenant: principal.tenant,
      subscriptionId: plan.subscriptionId,
    };
    const admission = await this.streams.admit(owner);
    // Gives the key's place back unless the stream below opened (and holds it).
    try {
      await this.stream(reply, plan, admission);
    } finally {
      admission.release();
    }
  }

  private async stream(
    reply: FastifyReply,
    plan: StreamPlan,
    admission: StreamAdmission,
  ): Promise<void> {
    const point = await this.streams.startPoint(plan.start);
    // Everything that can fail as a problem+json has failed by now; from here on it is a stream.
    reply.hijack();
    const response = reply.raw;
    // A client that left while the stream was being set up: its close event has fired already
    // and would never reach a listener added now, so the stream would be held for good.
    if (response.destroyed || !response.socket || response.socket.destroyed) {
      this.logger.debug(
        { keyId: admission.owner.keyId },
        'stream client left before its stream opened',
      );
      response.end();
      return;
    }
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.write(': connected\n\n');
    response.socket?.setNoDelay(true);
    const connection = this.streams.open(
      new SseSink(response, this.config.sendBufferBytes),
      plan,
      point,
      admission,
    );
    response.on('drain', () => connection.drained());
    response.on('close', () => connection.end('client_closed'));
  }
}
