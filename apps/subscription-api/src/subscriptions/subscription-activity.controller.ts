import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Res,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOperation,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { BoundedApiKeyGuard, CurrentPrincipal, RequireScope, type Principal } from '@herald/auth';
import { decodeCursor, InvalidCursorError, isRfc3339Time } from '@herald/kafka';
import {
  DEAD_LETTER_ID_PREFIX,
  DeadLetterRepository,
  DeliveryLogRepository,
  RedisDeadline,
  REPLAY_ID_PREFIX,
  ReplayRepository,
  SubscriptionStatsRepository,
  isSortableId,
  type Replay,
  type ReplayPosition,
} from '@herald/store';
import type { ApiRedisDeadline } from '../http/redis-deadline';
import { REDIS_UNAVAILABLE, ref, requestSchema } from '../openapi/openapi-schemas';
import type { ReplyHeaders } from './http-context';
import { parseBody } from '../http/request-body';
import {
  deliveriesQuerySchema,
  listQuerySchema,
  redriveSchema,
  replaySchema,
} from './subscription-commands.dto';
import {
  InvalidSubscriptionRequestError,
  ReplayRequestNotFoundError,
  SubscriptionStateError,
  UnprocessableRequestError,
} from './subscriptions.errors';
import { SubscriptionsService } from './subscriptions.service';

const problem = { description: 'Problem details', schema: ref('Problem') };

/** A replay bound: a time when it reads as RFC 3339, a stream cursor (checked) otherwise. */
function positionOf(text: string, pointer: string): ReplayPosition {
  if (isRfc3339Time(text)) return { time: new Date(text).toISOString() };
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw new InvalidSubscriptionRequestError([
      { pointer, message: 'is not an RFC 3339 time like 2025-03-14T12:00:00Z' },
    ]);
  }
  if (text === 'earliest' || text === 'latest') {
    throw new InvalidSubscriptionRequestError([
      {
        pointer,
        message:
          'must be an RFC 3339 time or a stream cursor (for all Kafka still holds, a time before it, like 1970-01-01T00:00:00Z)',
      },
    ]);
  }
  // Read as fanout will read it: a cursor cut short, mistyped, edited or made up is refused
  // here rather than accepted for a replay that fanout then fails.
  try {
    decodeCursor(text);
  } catch (error) {
    if (!(error instanceof InvalidCursorError)) throw error;
    throw new InvalidSubscriptionRequestError([
      {
        pointer,
        message: `must be an RFC 3339 time or a stream cursor Herald gave out; as a cursor, ${error.reason}`,
      },
    ]);
  }
  return { cursor: text };
}

function replayView(replay: Replay) {
  const { tenant: _tenant, ...rest } = replay;
  return rest;
}

/**
 * What happens to a subscription's events: replays, the delivery log, dead letters and
 * redrives, and stats. The delivery engine does the work and writes the records; this API
 * stores requests for it and reads what it wrote, always after checking the tenant owns the
 * subscription.
 */
@ApiTags('subscription activity')
@ApiBearerAuth()
@ApiResponse({ status: 401, ...problem })
@ApiResponse({ status: 403, ...problem })
@ApiResponse(REDIS_UNAVAILABLE)
@ApiResponse({ status: 404, ...problem })
@Controller('v1/subscriptions/:id')
@UseGuards(BoundedApiKeyGuard)
export class SubscriptionActivityController {
  constructor(
    @Inject(SubscriptionsService) private readonly subscriptions: SubscriptionsService,
    @Inject(ReplayRepository) private readonly replays: ReplayRepository,
    @Inject(DeliveryLogRepository) private readonly deliveryLog: DeliveryLogRepository,
    @Inject(DeadLetterRepository) private readonly deadLetters: DeadLetterRepository,
    @Inject(SubscriptionStatsRepository) private readonly stats: SubscriptionStatsRepository,
    @Inject(RedisDeadline) private readonly redis: ApiRedisDeadline,
  ) {}

  @Post('replay')
  @HttpCode(202)
  @RequireScope('subscriptions:write')
  @ApiOperation({
    summary: 'Re-deliver events from a time or cursor',
    description:
      'Accepted for the delivery engine, which re-sends what Kafka still holds (marked herald-replay: true) while live delivery continues.',
  })
  @ApiBody({ schema: requestSchema(replaySchema) })
  @ApiResponse({
    status: 202,
    description: 'Accepted',
    schema: {
      type: 'object',
      properties: { replayId: { type: 'string' }, status: { type: 'string' } },
    },
  })
  @ApiResponse({ status: 400, ...problem })
  @ApiResponse({ status: 409, ...problem })
  @ApiResponse({ status: 422, ...problem })
  async replay(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: ReplyHeaders,
  ) {
    const dto = parseBody(replaySchema, body, InvalidSubscriptionRequestError);
    const subscription = await this.subscriptions.get(principal, id, 'subscriptions:write');
    if (subscription.kind !== 'webhook') {
      throw new SubscriptionStateError(
        'A stream subscription replays by connecting with a cursor or a from time',
      );
    }
    refuseUnlessActive(subscription.status, 'replay');
    const from = positionOf(dto.from, '/from');
    const to = dto.to === undefined ? null : positionOf(dto.to, '/to');
    if ('time' in from && Date.parse(from.time) > Date.now()) {
      throw new UnprocessableRequestError([{ pointer: '/from', message: 'is in the future' }]);
    }
    if (to && 'time' in to && 'time' in from && Date.parse(to.time) <= Date.parse(from.time)) {
      throw new UnprocessableRequestError([{ pointer: '/to', message: 'must be after from' }]);
    }
    // Given up on while Redis holds it, it may still be made: GET …/replays before asking again.
    const replay = await this.redis.run('write', () =>
      this.replays.request({ subscriptionId: id, tenant: subscription.tenant, from, to }),
    );
    reply.header('location', `/v1/subscriptions/${id}/replays/${replay.id}`);
    return { replayId: replay.id, status: replay.status };
  }

  @Get('replays')
  @RequireScope('subscriptions:read')
  @ApiOperation({ summary: "The subscription's replays with their progress" })
  @ApiResponse({
    status: 200,
    description: 'Replays, oldest first',
    schema: { type: 'object', properties: { items: { type: 'array', items: ref('Replay') } } },
  })
  async listReplays(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    await this.subscriptions.get(principal, id, 'subscriptions:read');
    return { items: (await this.redis.run('read', () => this.replays.list(id))).map(replayView) };
  }

  @Get('replays/:replayId')
  @RequireScope('subscriptions:read')
  @ApiOperation({ summary: "A replay's status and progress" })
  @ApiResponse({ status: 200, description: 'The replay', schema: ref('Replay') })
  async getReplay(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Param('replayId') replayId: string,
  ) {
    await this.subscriptions.get(principal, id, 'subscriptions:read');
    const replay = isSortableId(replayId, REPLAY_ID_PREFIX)
      ? await this.redis.run('read', () => this.replays.get(replayId))
      : null;
    if (!replay || replay.subscriptionId !== id) throw new ReplayRequestNotFoundError(replayId);
    return replayView(replay);
  }

  @Get('deliveries')
  @RequireScope('subscriptions:read')
  @ApiOperation({
    summary: 'The delivery attempt log, newest first',
    description:
      'Event id, attempt, time, status code, duration, error and the first 2 KiB of the response body.',
  })
  @ApiQuery({ name: 'status', required: false, enum: ['succeeded', 'failed'] })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 100 },
  })
  @ApiQuery({ name: 'cursor', required: false, schema: { type: 'string' } })
  @ApiResponse({ status: 200, description: 'One page', schema: ref('DeliveryAttemptPage') })
  async deliveries(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query() query: unknown,
  ) {
    const { status, limit, cursor } = parseBody(
      deliveriesQuerySchema,
      query,
      InvalidSubscriptionRequestError,
    );
    if (cursor !== undefined && !isStreamEntryId(cursor)) {
      throw new InvalidSubscriptionRequestError([
        { pointer: '/cursor', message: 'is not a cursor this API gave out' },
      ]);
    }
    await this.subscriptions.get(principal, id, 'subscriptions:read');
    return this.redis.run('read', () =>
      this.deliveryLog.list(id, { limit, cursor: cursor ?? null, ...(status ? { status } : {}) }),
    );
  }

  @Get('dead-letters')
  @RequireScope('subscriptions:read')
  @ApiOperation({
    summary: 'Deliveries given up on after their last retry, oldest first',
    description:
      'The list keeps the newest letters of the subscription, 100,000 and 14 days by default (the deployment sets both): older ones drop off its start, and a cursor past them still pages on. A redrive reaches only listed letters.',
  })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 100 },
  })
  @ApiQuery({ name: 'cursor', required: false, schema: { type: 'string' } })
  @ApiResponse({ status: 200, description: 'One page', schema: ref('DeadLetterPage') })
  async listDeadLetters(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query() query: unknown,
  ) {
    const { limit, cursor } = parseBody(listQuerySchema, query, InvalidSubscriptionRequestError);
    if (cursor !== undefined && !isSortableId(cursor, DEAD_LETTER_ID_PREFIX)) {
      throw new InvalidSubscriptionRequestError([
        { pointer: '/cursor', message: 'is not a cursor this API gave out' },
      ]);
    }
    await this.subscriptions.get(principal, id, 'subscriptions:read');
    return this.redis.run('read', () =>
      this.deadLetters.list(id, { limit, cursor: cursor ?? null }),
    );
  }

  @Post('dead-letters/redrive')
  @HttpCode(202)
  @RequireScope('subscriptions:write')
  @ApiOperation({
    summary: 'Deliver dead letters again',
    description:
      'The given ids, or every dead letter not yet redriven. Accepted for the delivery engine.',
  })
  @ApiBody({ schema: requestSchema(redriveSchema), required: false })
  @ApiResponse({
    status: 202,
    description: 'Accepted',
    schema: { type: 'object', properties: { redriveId: { type: 'string' } } },
  })
  @ApiResponse({ status: 409, ...problem })
  @ApiResponse({ status: 422, ...problem })
  async redrive(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
  ) {
    const { ids } = parseBody(redriveSchema, body, InvalidSubscriptionRequestError);
    const subscription = await this.subscriptions.get(principal, id, 'subscriptions:write');
    refuseUnlessActive(subscription.status, 'redrive');
    if (ids) {
      const unique = [...new Set(ids)];
      const letters = await this.redis.run('read', () => this.deadLetters.get(id, unique));
      const found = new Set(letters.map((letter) => letter.id));
      const missing = unique.filter((letterId) => !found.has(letterId));
      if (missing.length > 0) {
        throw new UnprocessableRequestError(
          missing.map((letterId) => ({
            pointer: `/ids/${ids.indexOf(letterId)}`,
            message: `${letterId} is not a dead letter of this subscription`,
          })),
        );
      }
    }
    // Given up on while Redis holds it, it may still be made: its letters then get `redrivenAt`.
    const request = await this.redis.run('write', () =>
      this.deadLetters.requestRedrive({
        subscriptionId: id,
        tenant: subscription.tenant,
        ids: ids ? [...new Set(ids)] : null,
      }),
    );
    return { redriveId: request.id, ids: request.ids };
  }

  @Get('stats')
  @RequireScope('subscriptions:read')
  @ApiOperation({ summary: 'Delivered, failed, pending, dead-lettered, lag and last success' })
  @ApiResponse({ status: 200, description: 'Counters', schema: ref('Stats') })
  async getStats(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    await this.subscriptions.get(principal, id, 'subscriptions:read');
    return this.redis.run('read', () => this.stats.get(id));
  }
}

/**
 * Replays and redrives go to active subscriptions only: fanout drops the work of any other
 * (a redrive would mark its letters redriven and deliver none of them).
 */
function refuseUnlessActive(status: string, what: 'replay' | 'redrive'): void {
  if (status === 'active') return;
  throw new SubscriptionStateError(
    status === 'pending'
      ? 'The endpoint has not passed its ownership check yet'
      : `The subscription is ${status}: resume it, then ${what}`,
  );
}

const MAX_STREAM_ID_PART = 2n ** 64n - 1n;

/** A delivery-log cursor: a Redis stream entry id (`ms-seq`, each part 64-bit), not `0-0`. */
function isStreamEntryId(cursor: string): boolean {
  const match = /^(\d{1,20})-(\d{1,20})$/.exec(cursor);
  if (!match) return false;
  const [ms, seq] = [BigInt(match[1]!), BigInt(match[2]!)];
  return ms <= MAX_STREAM_ID_PART && seq <= MAX_STREAM_ID_PART && (ms > 0n || seq > 0n);
}
