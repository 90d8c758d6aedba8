import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readFindCoordinatorRequest } from '../protocol/generated/find-coordinator-request.generated';
import { writeFindCoordinatorResponse } from '../protocol/generated/find-coordinator-response.generated';
import { defineApi } from '../network/api-handler';

/** A single broker coordinates every group (and would every transaction). */
export const findCoordinatorApi = defineApi({
  apiKey: ApiKey.FindCoordinator,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 5,
  readRequest: readFindCoordinatorRequest,
  writeResponse: writeFindCoordinatorResponse,
  handle: (request, ctx) => {
    const { nodeId } = ctx.broker.options;
    const { host, port } = ctx.broker.endpoint;
    if (ctx.apiVersion >= 4) {
      return {
        throttleTimeMs: 0,
        coordinators: (request.coordinatorKeys ?? []).map((key) => ({
          key,
          nodeId,
          host,
          port,
          errorCode: 0,
          errorMessage: null,
        })),
      };
    }
    return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId, host, port };
  },
});
