import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readListGroupsRequest } from '../protocol/generated/list-groups-request.generated';
import { writeListGroupsResponse } from '../protocol/generated/list-groups-response.generated';
import { defineApi } from '../network/api-handler';

export const listGroupsApi = defineApi({
  apiKey: ApiKey.ListGroups,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 5,
  readRequest: readListGroupsRequest,
  writeResponse: writeListGroupsResponse,
  handle: (request, ctx) => {
    const states = (request.statesFilter ?? []).map((s) => s.toLowerCase());
    const types = (request.typesFilter ?? []).map((s) => s.toLowerCase());
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      groups: ctx.broker.groups
        .list()
        .filter((g) => states.length === 0 || states.includes(g.state.toLowerCase()))
        .filter(() => types.length === 0 || types.includes('classic'))
        .map((g) => ({
          groupId: g.groupId,
          protocolType: g.protocolType,
          groupState: g.state,
          groupType: 'classic',
        })),
    };
  },
});
