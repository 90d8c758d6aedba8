import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readDescribeGroupsRequest } from '../protocol/generated/describe-groups-request.generated';
import { writeDescribeGroupsResponse } from '../protocol/generated/describe-groups-response.generated';
import { defineApi } from '../network/api-handler';

const OPERATIONS_OMITTED = -2147483648;

export const describeGroupsApi = defineApi({
  apiKey: ApiKey.DescribeGroups,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,
  readRequest: readDescribeGroupsRequest,
  writeResponse: writeDescribeGroupsResponse,
  handle: (request, ctx) => ({
    throttleTimeMs: 0,
    groups: request.groups.map((groupId) => {
      const group = ctx.broker.groups.describe(groupId);
      return {
        errorCode: 0,
        groupId,
        groupState: group.state,
        protocolType: group.protocolType,
        protocolData: group.protocolName,
        members: group.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.metadata,
          memberAssignment: m.assignment,
        })),
        authorizedOperations: OPERATIONS_OMITTED,
      };
    }),
  }),
});
