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
  ApiKeyGuard,
  Authenticator,
  CurrentPrincipal,
  InvalidScopesError,
  RequireScope,
  parseScopeGrants,
  type Principal,
} from '@herald/auth';
import { LOGGER, type Logger } from '@herald/observability';
import { ApiKeyRepository } from '@herald/store';
import { ref, requestSchema } from '../openapi/openapi-schemas';
import type { ReplyHeaders } from '../subscriptions/http-context';
import { parseBody } from '../subscriptions/request-body';
import { ApiKeyMissingError, InvalidRequestError } from '../subscriptions/subscriptions.errors';
import { createApiKeySchema, listApiKeysQuerySchema } from './create-api-key.dto';

const problem = { description: 'Problem details', schema: ref('Problem') };

/**
 * API keys, managed by admins only (the bootstrap HERALD_ADMIN_KEY or a key with the `admin`
 * scope). Keys are stored hashed; the key itself is in the creation answer and nowhere else.
 */
@ApiTags('api keys')
@ApiBearerAuth()
@ApiResponse({ status: 401, ...problem })
@ApiResponse({ status: 403, ...problem })
@Controller('v1/api-keys')
@UseGuards(ApiKeyGuard)
@RequireScope('admin')
export class ApiKeysController {
  constructor(
    @Inject(ApiKeyRepository) private readonly apiKeys: ApiKeyRepository,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an API key for a tenant (the key is shown once)' })
  @ApiBody({ schema: requestSchema(createApiKeySchema) })
  @ApiResponse({ status: 201, description: 'Created', schema: ref('CreatedApiKey') })
  @ApiResponse({ status: 400, ...problem })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: ReplyHeaders,
  ) {
    const dto = parseBody(createApiKeySchema, body);
    let scopes;
    try {
      scopes = parseScopeGrants(dto.scopes);
    } catch (error) {
      if (error instanceof InvalidScopesError) {
        const errors = (error.details?.['errors'] ?? []) as { pointer: string; message: string }[];
        throw new InvalidRequestError(errors);
      }
      throw error;
    }
    const { record, key } = await this.apiKeys.create({
      name: dto.name,
      tenant: dto.tenant,
      scopes,
    });
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
  async list(@Query() query: unknown) {
    const { tenant } = parseBody(listApiKeysQuerySchema, query);
    return { items: await this.apiKeys.list(tenant) };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an API key; it stops working at once' })
  @ApiResponse({ status: 204, description: 'Deleted' })
  @ApiResponse({ status: 404, ...problem })
  async delete(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<void> {
    if (!/^[0-9a-f]{16}$/.test(id) || !(await this.apiKeys.delete(id))) {
      throw new ApiKeyMissingError(id);
    }
    // Other instances forget it when their short cache entry expires (5 s).
    this.authenticator.forget();
    this.logger.info({ apiKeyId: id, by: principal.keyId }, 'api key deleted');
  }
}
