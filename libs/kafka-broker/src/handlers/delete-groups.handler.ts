import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readDeleteGroupsRequest } from '../protocol/generated/delete-groups-request.generated';
import { writeDeleteGroupsResponse } from '../protocol/generated/delete-groups-response.generated';
import { defineApi } from '../network/api-handler';

export const deleteGroupsApi = defineApi({
  apiKey: ApiKey.DeleteGroups,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,
  readRequest: readDeleteGroupsRequest,
  writeResponse: writeDeleteGroupsResponse,
  handle: (request, ctx) => ({
    throttleTimeMs: 0,
    results: request.groupsNames.map((groupId) => ({
      groupId,
      errorCode: ctx.broker.groups.delete(groupId),
    })),
  }),
});
