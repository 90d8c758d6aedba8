import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readInitProducerIdRequest } from '../protocol/generated/init-producer-id-request.generated';
import { writeInitProducerIdResponse } from '../protocol/generated/init-producer-id-response.generated';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import { defineApi } from '../network/api-handler';

/** Idempotent producers only: every call gets a fresh producer id at epoch 0. */
export const initProducerIdApi = defineApi({
  apiKey: ApiKey.InitProducerId,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 5,
  readRequest: readInitProducerIdRequest,
  writeResponse: writeInitProducerIdResponse,
  handle: (request, ctx) => {
    if (request.transactionalId !== null) {
      return {
        throttleTimeMs: 0,
        errorCode: KafkaErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        producerId: -1n,
        producerEpoch: -1,
      };
    }
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      producerId: ctx.broker.storage.allocateProducerId(),
      producerEpoch: 0,
    };
  },
});
