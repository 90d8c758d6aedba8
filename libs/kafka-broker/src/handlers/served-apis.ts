import type { ServedApi } from '../network/api-handler';
import { apiVersionsApi } from './api-versions.handler';
import { createPartitionsApi } from './create-partitions.handler';
import { createTopicsApi } from './create-topics.handler';
import { deleteGroupsApi } from './delete-groups.handler';
import { deleteTopicsApi } from './delete-topics.handler';
import { describeConfigsApi } from './describe-configs.handler';
import { describeGroupsApi } from './describe-groups.handler';
import { fetchApi } from './fetch.handler';
import { findCoordinatorApi } from './find-coordinator.handler';
import { heartbeatApi } from './heartbeat.handler';
import { initProducerIdApi } from './init-producer-id.handler';
import { joinGroupApi } from './join-group.handler';
import { leaveGroupApi } from './leave-group.handler';
import { listGroupsApi } from './list-groups.handler';
import { listOffsetsApi } from './list-offsets.handler';
import { metadataApi } from './metadata.handler';
import { offsetCommitApi } from './offset-commit.handler';
import { offsetFetchApi } from './offset-fetch.handler';
import { produceApi } from './produce.handler';
import { saslAuthenticateApi } from './sasl-authenticate.handler';
import { saslHandshakeApi } from './sasl-handshake.handler';
import { syncGroupApi } from './sync-group.handler';

/** Every API the broker answers, keyed by API key; ApiVersions advertises exactly these ranges. */
export const SERVED_APIS: ReadonlyMap<number, ServedApi> = new Map(
  [
    produceApi,
    fetchApi,
    listOffsetsApi,
    metadataApi,
    offsetCommitApi,
    offsetFetchApi,
    findCoordinatorApi,
    joinGroupApi,
    heartbeatApi,
    leaveGroupApi,
    syncGroupApi,
    describeGroupsApi,
    listGroupsApi,
    apiVersionsApi,
    createTopicsApi,
    deleteTopicsApi,
    initProducerIdApi,
    describeConfigsApi,
    createPartitionsApi,
    deleteGroupsApi,
    saslHandshakeApi,
    saslAuthenticateApi,
  ].map((api) => [api.apiKey, api]),
);
