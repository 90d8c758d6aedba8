import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readApiVersionsRequest } from '../protocol/generated/api-versions-request.generated';
import {
  writeApiVersionsResponse,
  type ApiVersion,
} from '../protocol/generated/api-versions-response.generated';
import type { ServedApi } from '../network/api-handler';
import { defineApi } from '../network/api-handler';

export const API_VERSIONS_MAX_VERSION = 4;

/** The versions this broker serves, as ApiVersions lists them. */
export function advertisedVersions(served: ReadonlyMap<number, ServedApi>): ApiVersion[] {
  return [...served.values()]
    .sort((a, b) => a.apiKey - b.apiKey)
    .map((api) => ({ apiKey: api.apiKey, minVersion: api.minVersion, maxVersion: api.maxVersion }));
}

export const apiVersionsApi = defineApi({
  apiKey: ApiKey.ApiVersions,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: API_VERSIONS_MAX_VERSION,
  readRequest: readApiVersionsRequest,
  writeResponse: writeApiVersionsResponse,
  handle: (_request, ctx) => ({
    errorCode: 0,
    apiKeys: advertisedVersions(ctx.broker.servedApis),
    throttleTimeMs: 0,
  }),
});
