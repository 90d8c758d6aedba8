import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readJoinGroupRequest } from '../protocol/generated/join-group-request.generated';
import { writeJoinGroupResponse } from '../protocol/generated/join-group-response.generated';
import { defineApi } from '../network/api-handler';

export const joinGroupApi = defineApi({
  apiKey: ApiKey.JoinGroup,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 9,
  readRequest: readJoinGroupRequest,
  writeResponse: writeJoinGroupResponse,
  handle: async (request, ctx) => {
    const result = await ctx.broker.groups.join({
      groupId: request.groupId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId ?? null,
      clientId: ctx.clientId,
      clientHost: ctx.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      // v0 had a single timeout for both.
      rebalanceTimeoutMs:
        ctx.apiVersion >= 1
          ? (request.rebalanceTimeoutMs ?? request.sessionTimeoutMs)
          : request.sessionTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols.map((p) => ({
        name: p.name,
        metadata: Buffer.from(p.metadata),
      })),
      requireKnownMemberId: ctx.apiVersion >= 4,
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      generationId: result.generationId,
      protocolType: result.protocolType,
      // Before v7 the name is not nullable.
      protocolName: result.protocolName ?? (ctx.apiVersion >= 7 ? null : ''),
      leader: result.leaderId,
      skipAssignment: false,
      memberId: result.memberId,
      members: result.members,
    };
  },
});
