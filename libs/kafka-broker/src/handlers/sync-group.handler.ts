import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readSyncGroupRequest } from '../protocol/generated/sync-group-request.generated';
import { writeSyncGroupResponse } from '../protocol/generated/sync-group-response.generated';
import { defineApi } from '../network/api-handler';

export const syncGroupApi = defineApi({
  apiKey: ApiKey.SyncGroup,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 5,
  readRequest: readSyncGroupRequest,
  writeResponse: writeSyncGroupResponse,
  handle: async (request, ctx) => {
    const result = await ctx.broker.groups.sync({
      groupId: request.groupId,
      memberId: request.memberId,
      generationId: request.generationId,
      // Copied: the group keeps them past this request's frame.
      assignments: request.assignments.map((a) => ({
        memberId: a.memberId,
        assignment: Buffer.from(a.assignment),
      })),
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      protocolType: result.protocolType,
      protocolName: result.protocolName,
      assignment: result.assignment,
    };
  },
});
