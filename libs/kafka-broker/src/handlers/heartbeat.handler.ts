import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readHeartbeatRequest } from '../protocol/generated/heartbeat-request.generated';
import { writeHeartbeatResponse } from '../protocol/generated/heartbeat-response.generated';
import { defineApi } from '../network/api-handler';

export const heartbeatApi = defineApi({
  apiKey: ApiKey.Heartbeat,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  readRequest: readHeartbeatRequest,
  writeResponse: writeHeartbeatResponse,
  handle: (request, ctx) => ({
    throttleTimeMs: 0,
    errorCode: ctx.broker.groups.heartbeat(request.groupId, request.memberId, request.generationId),
  }),
});
