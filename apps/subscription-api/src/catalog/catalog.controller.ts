import { Controller, Get, Header, Inject, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { stringify } from 'yaml';
import { ContractRegistry, validateTypePattern } from '@herald/contract';
import { z } from 'zod';
import { problemResponse, ref } from '../openapi/openapi-schemas';
import { parseBody } from '../http/request-body';
import { InvalidEventTypesQueryError, UnknownEventTypeProblem } from './catalog.errors';
import { renderContractDocs } from './contract-docs.page';
import { buildGatewayAsyncApi, eventTypeEntry } from './gateway-asyncapi';

/** The version the catalog documents carry. */
export const CATALOG_VERSION = Symbol('CATALOG_VERSION');

const catalogQuerySchema = z.strictObject({ types: z.string().max(200).optional() });

/**
 * The event catalog and the contract documents, public on purpose: partners read them before
 * they have a key, and they describe only what exists, never who subscribes to what. Built once
 * at start (the contract does not change while the process runs).
 */
@ApiTags('catalog')
@Controller()
export class CatalogController {
  private readonly asyncApi: Record<string, unknown>;
  private readonly asyncApiJson: string;
  private readonly asyncApiYaml: string;
  private readonly docsHtml: string;

  constructor(
    @Inject(ContractRegistry) private readonly contract: ContractRegistry,
    @Inject(CATALOG_VERSION) version: string,
  ) {
    this.asyncApi = buildGatewayAsyncApi(contract, version);
    this.asyncApiJson = JSON.stringify(this.asyncApi);
    this.asyncApiYaml = stringify(this.asyncApi, { aliasDuplicateObjects: false });
    this.docsHtml = renderContractDocs(contract, version);
  }

  @Get('v1/event-types')
  @ApiOperation({ summary: 'Every event type with its channel, schema and example' })
  @ApiQuery({ name: 'types', required: false, description: 'A glob, like order.*' })
  @ApiResponse({
    status: 200,
    description: 'Event types, sorted',
    schema: { type: 'object', properties: { items: { type: 'array', items: ref('EventType') } } },
  })
  @ApiResponse(
    problemResponse(
      400,
      'catalog.event_types.invalid',
      'A bad or oversized `types` glob, or an unknown parameter; `errors: [{pointer, message}]` names each',
    ),
  )
  eventTypes(@Query() query: unknown) {
    const { types } = parseBody(catalogQuerySchema, query, InvalidEventTypesQueryError);
    if (types !== undefined) {
      const problem = validateTypePattern(types);
      if (problem) throw new InvalidEventTypesQueryError([{ pointer: '/types', message: problem }]);
    }
    const names =
      types === undefined ? this.contract.eventTypes() : this.contract.matchTypes(types);
    return { items: names.map((name) => eventTypeEntry(this.contract.get(name)!)) };
  }

  @Get('v1/event-types/:type')
  @ApiOperation({ summary: 'One event type' })
  @ApiResponse({ status: 200, description: 'The event type', schema: ref('EventType') })
  @ApiResponse(problemResponse(404, 'catalog.event_type.not_found', 'Not in the contract'))
  eventType(@Param('type') type: string) {
    const eventType = this.contract.get(type);
    if (!eventType) throw new UnknownEventTypeProblem(type);
    return eventTypeEntry(eventType);
  }

  @Get('asyncapi.json')
  @Header('content-type', 'application/json; charset=utf-8')
  @ApiOperation({
    summary: 'The merged AsyncAPI 3 contract, with Herald’s webhook, SSE and WebSocket interfaces',
  })
  @ApiResponse({ status: 200, description: 'AsyncAPI document' })
  asyncApiAsJson(): string {
    return this.asyncApiJson;
  }

  @Get('asyncapi.yaml')
  @Header('content-type', 'application/yaml; charset=utf-8')
  @ApiProduces('application/yaml')
  @ApiOperation({ summary: 'The merged AsyncAPI 3 contract as YAML' })
  @ApiResponse({ status: 200, description: 'AsyncAPI document' })
  asyncApiAsYaml(): string {
    return this.asyncApiYaml;
  }

  @Get('docs')
  @Header('content-type', 'text/html; charset=utf-8')
  @ApiProduces('text/html')
  @ApiOperation({ summary: 'The contract as a page for people' })
  @ApiResponse({ status: 200, description: 'HTML' })
  docs(): string {
    return this.docsHtml;
  }
}
