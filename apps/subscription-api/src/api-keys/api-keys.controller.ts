import {
  Body,
  Controller,
  Delete,
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
import {
  Authenticator,
  BoundedApiKeyGuard,
  CurrentPrincipal,
  InvalidScopesError,
  RequireScope,
  parseScopeGrants,
  type Principal,
} from '@herald/auth';
import { LOGGER, type Logger } from '@herald/observability';
import { ApiKeyRepository, RedisDeadline, type ApiKeyRecord } from '@herald/store';
import type { ApiRedisDeadline } from '../http/redis-deadline';
import { REDIS_UNAVAILABLE, problemResponse, ref, requestSchema } from '../openapi/openapi-schemas';
import type { ReplyHeaders } from '../subscriptions/http-context';
import { parseBody } from '../http/request-body';
import { ApiKeyMissingError, InvalidApiKeyRequestError } from './api-keys.errors';
import { createApiKeySchema, listApiKeysQuerySchema } from './create-api-key.dto';

const problem = { description: 'Problem details', schema: ref('Problem') };
const INVALID = problemResponse(
  400,
  'api_keys.invalid',
  'Malformed: wrong shape or types, unknown fields, a value over its limit, a bad tenant or scope; `errors: [{pointer, message}]` names each',
);

/**
 * API keys, managed by admins only (the bootstrap HERALD_ADMIN_KEY or a key with the `admin`
 * scope). Keys are stored hashed; the key itself is in the creation answer and nowhere else.
 */
@ApiTags('api keys')
@ApiBearerAuth()
@ApiResponse({ status: 401, ...problem })
@ApiResponse({ status: 403, ...problem })
@ApiResponse(REDIS_UNAVAILABLE)
@Controller('v1/api-keys')
@UseGuards(BoundedApiKeyGuard)
@RequireScope('admin')
export class ApiKeysController {
  constructor(
    @Inject(ApiKeyRepository) private readonly apiKeys: ApiKeyRepository,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(RedisDeadline) private readonly redis: ApiRedisDeadline,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an API key for a tenant (the key is shown once)' })
  @ApiBody({ schema: requestSchema(createApiKeySchema) })
  @ApiResponse({ status: 201, description: 'Created', schema: ref('CreatedApiKey') })
  @ApiResponse(INVALID)
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: ReplyHeaders,
  ) {
    const dto = parseBody(createApiKeySchema, body, InvalidApiKeyRequestError);
    let scopes;
    try {
      scopes = parseScopeGrants(dto.scopes);
    } catch (error) {
      if (error instanceof InvalidScopesError) {
        const errors = (error.details?.['errors'] ?? []) as { pointer: string; message: string }[];
        throw new InvalidApiKeyRequestError(errors);
      }
      throw error;
    }
    const { record, key } = await this.redis.run(
      'write',
      () => this.apiKeys.create({ name: dto.name, tenant: dto.tenant, scopes }),
      // Nobody was given the key of one made after the 503: it is deleted again.
      { abandoned: (late) => this.undoCreate(late.record) },
    );
    this.logger.info(
      { apiKeyId: record.id, tenant: record.tenant, scopes, by: principal.keyId },
      'api key created',
    );
    reply.header('location', `/v1/api-keys/${record.id}`);
    return { ...record, key };
  }

  @Get()
  @ApiOperation({ summary: 'List API keys (never the keys themselves)' })
  @ApiQuery({ name: 'tenant', required: false, schema: { type: 'string' } })
  @ApiResponse({
    status: 200,
    description: 'Keys, oldest first',
    schema: { type: 'object', properties: { items: { type: 'array', items: ref('ApiKey') } } },
  })
  @ApiResponse(INVALID)
  async list(@Query() query: unknown) {
    const { tenant } = parseBody(listApiKeysQuerySchema, query, InvalidApiKeyRequestError);
    return { items: await this.redis.run('read', () => this.apiKeys.list(tenant)) };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete an API key; it stops working at once and its open streams end',
  })
  @ApiResponse({ status: 204, description: 'Deleted' })
  @ApiResponse(problemResponse(404, 'api_keys.not_found', 'No API key with this id'))
  async delete(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<void> {
    if (!/^[0-9a-f]{16}$/.test(id)) throw new ApiKeyMissingError(id);
    const deleted = (late = false) => {
      // The delete published its notice (ApiKeyRepository.delete): fanout ends the key's open
      // streams at once, and every API and ingest instance (this one too, ApiKeyDeletionListener)
      // drops its cached answers for the key. Forgetting here too needs no round trip.
      this.authenticator.forget(id);
      this.logger.info(
        { apiKeyId: id, by: principal.keyId, ...(late ? { late } : {}) },
        'api key deleted',
      );
    };
    const existed = await this.redis.run('write', () => this.apiKeys.delete(id), {
      abandoned: (late) => {
        if (late) deleted(true);
      },
    });
    if (!existed) throw new ApiKeyMissingError(id);
    deleted();
  }

  private undoCreate(record: ApiKeyRecord): void {
    this.apiKeys.delete(record.id).then(
      () =>
        this.logger.warn(
          { apiKeyId: record.id, tenant: record.tenant },
          'api key created after its request was answered 503: deleted it',
        ),
      (error: unknown) =>
        this.logger.error(
          { err: error, apiKeyId: record.id, tenant: record.tenant },
          'api key created after its request was answered 503 could not be deleted',
        ),
    );
  }
}
