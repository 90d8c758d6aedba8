import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Res,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { BoundedApiKeyGuard, CurrentPrincipal, RequireScope, type Principal } from '@herald/auth';
import { ContractRegistry } from '@herald/contract';
import { eventTypesForTmfNames, tmfEventType } from '@herald/delivery';
import type { HeraldError } from '@herald/errors';
import { SubscriptionNotFoundError, type Subscription } from '@herald/store';
import { REDIS_UNAVAILABLE, ref, requestSchema } from '../openapi/openapi-schemas';
import { createSubscriptionSchema } from '../subscriptions/create-subscription.dto';
import type { ReplyHeaders } from '../subscriptions/http-context';
import { parseBody } from '../http/request-body';
import {
  InvalidSubscriptionRequestError,
  TypesNotAllowedError,
  UnprocessableRequestError,
  type RequestProblem,
} from '../subscriptions/subscriptions.errors';
import { SubscriptionsService } from '../subscriptions/subscriptions.service';
import { createHubSchema } from './create-hub.dto';

const problem = { description: 'Problem details', schema: ref('Problem') };
export const HUB_PATH = '/tmf-api/event/v4/hub';

/** A hub as TMF688 shows it: the subscription's URL and its types in TMF names. */
function hubView(subscription: Subscription) {
  const names = subscription.types.flatMap((glob) =>
    glob.includes('*') ? [] : [tmfEventType(glob)],
  );
  return {
    id: subscription.id,
    callback: subscription.url,
    query: names.length > 0 ? `eventType=${names.join(',')}` : '',
    '@type': 'Hub',
  };
}

/** The problems a subscription's checks find, of the kinds a hub registration can meet. */
const SUBSCRIPTION_PROBLEMS = [
  InvalidSubscriptionRequestError,
  UnprocessableRequestError,
  TypesNotAllowedError,
] as const;

/**
 * A problem with the subscription underneath a hub, pointing into the hub's own body: its URL
 * came from `/callback` and its types from `/query`.
 */
function inHubTerms(error: unknown): unknown {
  const Problem = SUBSCRIPTION_PROBLEMS.find((kind) => error instanceof kind);
  if (!Problem) return error;
  const errors = (error as HeraldError).details?.['errors'] as RequestProblem[] | undefined;
  if (!errors) return error;
  return new Problem(
    errors.map(({ pointer, message }) => ({
      pointer: /^\/url(?:\/|$)/.test(pointer)
        ? '/callback'
        : /^\/types(?:\/|$)/.test(pointer)
          ? '/query'
          : pointer,
      message,
    })),
  );
}

/**
 * The TMF688 event hub: a listener registers a callback and a query of TMF event names, and
 * gets a webhook subscription in `tmf688` format underneath (same checks, same tenant rules).
 */
@ApiTags('tmf688')
@ApiBearerAuth()
@ApiResponse({ status: 401, ...problem })
@ApiResponse({ status: 403, ...problem })
@ApiResponse(REDIS_UNAVAILABLE)
@Controller('tmf-api/event/v4/hub')
@UseGuards(BoundedApiKeyGuard)
export class Tmf688HubController {
  constructor(
    @Inject(SubscriptionsService) private readonly subscriptions: SubscriptionsService,
    @Inject(ContractRegistry) private readonly contract: ContractRegistry,
  ) {}

  @Post()
  @HttpCode(201)
  @RequireScope('subscriptions:write')
  @ApiOperation({ summary: 'Register a listener (TMF688 hub)' })
  @ApiBody({ schema: requestSchema(createHubSchema) })
  @ApiResponse({ status: 201, description: 'Registered', schema: ref('Hub') })
  @ApiResponse({ status: 400, ...problem })
  @ApiResponse({ status: 422, ...problem })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: ReplyHeaders,
  ) {
    const hub = parseBody(createHubSchema, body, InvalidSubscriptionRequestError);
    const types = this.typesFor(hub.query ?? '', principal);
    let subscription: Subscription;
    try {
      ({ subscription } = await this.subscriptions.create(
        principal,
        parseBody(
          createSubscriptionSchema,
          { kind: 'webhook', url: hub.callback, types, format: 'tmf688' },
          InvalidSubscriptionRequestError,
        ),
      ));
    } catch (error) {
      throw inHubTerms(error);
    }
    reply.header('location', `${HUB_PATH}/${subscription.id}`);
    return hubView(subscription);
  }

  @Get(':id')
  @RequireScope('subscriptions:read')
  @ApiOperation({ summary: 'Read a registered listener' })
  @ApiResponse({ status: 200, description: 'The hub', schema: ref('Hub') })
  @ApiResponse({ status: 404, ...problem })
  async get(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return hubView(await this.hub(principal, id, 'subscriptions:read'));
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScope('subscriptions:write')
  @ApiOperation({ summary: 'Unregister a listener' })
  @ApiResponse({ status: 204, description: 'Removed' })
  @ApiResponse({ status: 404, ...problem })
  async delete(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<void> {
    await this.hub(principal, id, 'subscriptions:write');
    await this.subscriptions.delete(principal, id);
  }

  /**
   * The listener `id`: a tmf688 webhook, as the hub registers them. Any other subscription
   * (a stream, a webhook in another format) is not the hub's to show or remove: 404, as for
   * one that does not exist.
   */
  private async hub(
    principal: Principal,
    id: string,
    scope: 'subscriptions:read' | 'subscriptions:write',
  ): Promise<Subscription> {
    const subscription = await this.subscriptions.get(principal, id, scope);
    if (subscription.kind !== 'webhook' || subscription.format !== 'tmf688')
      throw new SubscriptionNotFoundError(id);
    return subscription;
  }

  /**
   * `eventType=A,B` → Herald types; empty → every type the key may subscribe to (all of them,
   * or its `subscriptions:write` patterns); anything else → 422.
   */
  private typesFor(query: string, principal: Principal): string[] {
    const params = new URLSearchParams(query.replace(/^\?/, ''));
    const unsupported = [...params.keys()].filter((name) => name !== 'eventType');
    if (unsupported.length > 0) {
      throw new UnprocessableRequestError([
        {
          pointer: '/query',
          message: `only eventType can be queried, not ${unsupported.join(', ')}`,
        },
      ]);
    }
    const names = params.getAll('eventType').flatMap((value) => value.split(','));
    if (names.every((name) => name.trim() === ''))
      return principal.typePatterns('subscriptions:write') ?? ['**'];
    const { types, unknown } = eventTypesForTmfNames(names, this.contract.eventTypes());
    if (unknown.length > 0) {
      throw new UnprocessableRequestError([
        { pointer: '/query', message: `unknown event types: ${unknown.join(', ')}` },
      ]);
    }
    return types;
  }
}
