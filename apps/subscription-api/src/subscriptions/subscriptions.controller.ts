import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Query,
  Res,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiHeader,
  ApiOperation,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { BoundedApiKeyGuard, CurrentPrincipal, RequireScope, type Principal } from '@herald/auth';
import { REDIS_UNAVAILABLE, ref, requestSchema } from '../openapi/openapi-schemas';
import { createSubscriptionSchema } from './create-subscription.dto';
import { expectedVersionOf, type ReplyHeaders } from './http-context';
import { parseBody } from '../http/request-body';
import { listQuerySchema, rotateSecretSchema } from './subscription-commands.dto';
import { subscriptionView } from './subscription.view';
import { SubscriptionsService } from './subscriptions.service';
import { IMMUTABLE_FIELDS, updateSubscriptionSchema } from './update-subscription.dto';
import { InvalidSubscriptionRequestError } from './subscriptions.errors';

const problem = { description: 'Problem details', schema: ref('Problem') };

@ApiTags('subscriptions')
@ApiBearerAuth()
@ApiResponse({ status: 401, ...problem })
@ApiResponse({ status: 403, ...problem })
@ApiResponse(REDIS_UNAVAILABLE)
@Controller('v1/subscriptions')
@UseGuards(BoundedApiKeyGuard)
export class SubscriptionsController {
  constructor(@Inject(SubscriptionsService) private readonly subscriptions: SubscriptionsService) {}

  @Post()
  @HttpCode(201)
  @RequireScope('subscriptions:write')
  @ApiOperation({
    summary: 'Create a webhook or stream subscription',
    description:
      'Answers the signing secret once. With verification websub or cloudevents, the subscription stays pending until the endpoint passes the ownership check.',
  })
  @ApiBody({ schema: requestSchema(createSubscriptionSchema) })
  @ApiResponse({ status: 201, description: 'Created', schema: ref('CreatedSubscription') })
  @ApiResponse({ status: 400, ...problem })
  @ApiResponse({ status: 413, ...problem })
  @ApiResponse({ status: 415, ...problem })
  @ApiResponse({ status: 422, ...problem })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: ReplyHeaders,
  ) {
    const dto = parseBody(createSubscriptionSchema, body, InvalidSubscriptionRequestError);
    const { subscription, secret } = await this.subscriptions.create(principal, dto);
    reply.header('location', `/v1/subscriptions/${subscription.id}`);
    return { ...subscriptionView(subscription), secret };
  }

  @Get()
  @RequireScope('subscriptions:read')
  @ApiOperation({ summary: "List the tenant's subscriptions (oldest first)" })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 100 },
  })
  @ApiQuery({ name: 'cursor', required: false, schema: { type: 'string' } })
  @ApiResponse({ status: 200, description: 'One page', schema: ref('SubscriptionPage') })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: unknown) {
    const page = parseBody(listQuerySchema, query, InvalidSubscriptionRequestError);
    const result = await this.subscriptions.list(principal, page);
    return { items: result.items.map(subscriptionView), nextCursor: result.nextCursor };
  }

  @Get(':id')
  @RequireScope('subscriptions:read')
  @ApiOperation({ summary: 'Read a subscription (ETag = its version)' })
  @ApiResponse({ status: 200, description: 'The subscription', schema: ref('Subscription') })
  @ApiResponse({ status: 404, ...problem })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Res({ passthrough: true }) reply: ReplyHeaders,
  ) {
    const subscription = await this.subscriptions.get(principal, id, 'subscriptions:read');
    reply.header('etag', `"${subscription.version}"`);
    return subscriptionView(subscription);
  }

  @Patch(':id')
  @RequireScope('subscriptions:write')
  @ApiOperation({
    summary: 'Change a subscription',
    description:
      'JSON merge of the given fields. A new URL or verification mode runs the ownership check again. Send If-Match with the ETag to fail (409) when someone changed it since. When the stored secrets do not open (a damaged store), every field but `auth` still changes, the secrets left as stored; `auth` is 409 subscriptions.secrets_unreadable_conflict, whose detail says what to do (rotate first, sending the endpoint credentials again in the `auth` of the rotation when it has them).',
  })
  @ApiHeader({ name: 'if-match', required: false })
  @ApiBody({ schema: requestSchema(updateSubscriptionSchema) })
  @ApiResponse({
    status: 200,
    description: 'The changed subscription',
    schema: ref('Subscription'),
  })
  @ApiResponse({ status: 400, ...problem })
  @ApiResponse({ status: 404, ...problem })
  @ApiResponse({ status: 409, ...problem })
  @ApiResponse({ status: 422, ...problem })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: ReplyHeaders,
  ) {
    refuseImmutableFields(body);
    const dto = parseBody(updateSubscriptionSchema, body, InvalidSubscriptionRequestError);
    const subscription = await this.subscriptions.update(
      principal,
      id,
      dto,
      expectedVersionOf(ifMatch),
    );
    reply.header('etag', `"${subscription.version}"`);
    return subscriptionView(subscription);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScope('subscriptions:write')
  @ApiOperation({
    summary: 'Delete a subscription with its delivery log and dead letters',
    description: 'Send If-Match with the ETag to fail (409) when someone changed it since.',
  })
  @ApiHeader({ name: 'if-match', required: false })
  @ApiResponse({ status: 204, description: 'Deleted' })
  @ApiResponse({ status: 404, ...problem })
  @ApiResponse({ status: 409, ...problem })
  async delete(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Headers('if-match') ifMatch: string | undefined,
  ): Promise<void> {
    await this.subscriptions.delete(principal, id, expectedVersionOf(ifMatch));
  }

  @Post(':id/pause')
  @HttpCode(200)
  @RequireScope('subscriptions:write')
  @ApiOperation({
    summary: 'Stop deliveries until resumed',
    description: 'Send If-Match with the ETag to fail (409) when someone changed it since.',
  })
  @ApiHeader({ name: 'if-match', required: false })
  @ApiResponse({ status: 200, description: 'The paused subscription', schema: ref('Subscription') })
  @ApiResponse({ status: 404, ...problem })
  @ApiResponse({ status: 409, ...problem })
  async pause(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Headers('if-match') ifMatch: string | undefined,
  ) {
    return subscriptionView(
      await this.subscriptions.pause(principal, id, expectedVersionOf(ifMatch)),
    );
  }

  @Post(':id/resume')
  @HttpCode(200)
  @RequireScope('subscriptions:write')
  @ApiOperation({
    summary: 'Deliver again (a paused, disabled or unverified subscription)',
    description:
      'Becomes active, or pending with a new ownership check when the endpoint has not passed one. Send If-Match with the ETag to fail (409) when someone changed it since.',
  })
  @ApiHeader({ name: 'if-match', required: false })
  @ApiResponse({ status: 200, description: 'The subscription', schema: ref('Subscription') })
  @ApiResponse({ status: 404, ...problem })
  @ApiResponse({ status: 409, ...problem })
  async resume(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Headers('if-match') ifMatch: string | undefined,
  ) {
    return subscriptionView(
      await this.subscriptions.resume(principal, id, expectedVersionOf(ifMatch)),
    );
  }

  @Post(':id/test')
  @HttpCode(200)
  @RequireScope('subscriptions:write')
  @ApiOperation({
    summary: 'Send a signed herald.ping to the webhook now',
    description:
      'The attempt is recorded in the delivery log (test: true). Stored secrets that do not open are 409 subscriptions.secrets_unreadable_conflict.',
  })
  @ApiResponse({
    status: 200,
    description: 'What the endpoint answered',
    schema: ref('PingResult'),
  })
  @ApiResponse({ status: 404, ...problem })
  @ApiResponse({ status: 409, ...problem })
  async test(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.subscriptions.sendTestPing(principal, id);
  }

  @Post(':id/secret/rotate')
  @HttpCode(200)
  @RequireScope('subscriptions:write')
  @ApiOperation({
    summary: 'Replace the signing secret (and, with `auth`, the endpoint credentials)',
    description:
      'Until the grace period ends, deliveries carry signatures by both the new and the old secret. With `auth`, the endpoint credentials are replaced in the same change (null removes them, as on PATCH). When the stored secrets do not open (a damaged store), the new secret takes their place, no previous one kept (previousSecretExpiresAt null), if nothing else is lost: the webhook has no endpoint auth, or the request sends its credentials again in `auth`. Otherwise (endpoint auth and no `auth` in the request), and whatever the request says for secrets sealed under another HERALD_SECRET_KEY, it is 409 subscriptions.secrets_unreadable_conflict, whose detail says what to do.',
  })
  @ApiBody({ schema: requestSchema(rotateSecretSchema), required: false })
  @ApiResponse({
    status: 200,
    description: 'The new secret, shown once',
    schema: ref('RotatedSecret'),
  })
  @ApiResponse({ status: 404, ...problem })
  @ApiResponse({ status: 409, ...problem })
  async rotateSecret(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
  ) {
    const dto = parseBody(rotateSecretSchema, body, InvalidSubscriptionRequestError);
    return this.subscriptions.rotateSecret(principal, id, dto);
  }
}

/** A PATCH naming a field that cannot change gets a message saying what to do instead. */
function refuseImmutableFields(body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const problems = Object.keys(body)
    // Own names only: `constructor` or `toString` are unknown fields, not Object.prototype's.
    .filter((field) => Object.hasOwn(IMMUTABLE_FIELDS, field))
    .map((field) => ({ pointer: `/${field}`, message: IMMUTABLE_FIELDS[field]! }));
  if (problems.length > 0) throw new InvalidSubscriptionRequestError(problems);
}
