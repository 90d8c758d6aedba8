import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readLeaveGroupRequest } from '../protocol/generated/leave-group-request.generated';
import { writeLeaveGroupResponse } from '../protocol/generated/leave-group-response.generated';
import { defineApi } from '../network/api-handler';

export const leaveGroupApi = defineApi({
  apiKey: ApiKey.LeaveGroup,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 5,
  readRequest: readLeaveGroupRequest,
  writeResponse: writeLeaveGroupResponse,
  handle: (request, ctx) => {
    // v0-2 name one member; v3+ a batch of them.
    const batched = ctx.apiVersion >= 3;
    const leaving = batched
      ? (request.members ?? [])
      : [{ memberId: request.memberId ?? '', groupInstanceId: null }];
    const results = ctx.broker.groups.leave(
      request.groupId,
      leaving.map((m) => m.memberId),
    );
    const first = results[0];
    return {
      throttleTimeMs: 0,
      errorCode: batched ? 0 : (first?.errorCode ?? 0),
      members: results.map((r, i) => ({
        memberId: r.memberId,
        groupInstanceId: leaving[i]?.groupInstanceId ?? null,
        errorCode: r.errorCode,
      })),
    };
  },
});
