import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readSaslHandshakeRequest } from '../protocol/generated/sasl-handshake-request.generated';
import { writeSaslHandshakeResponse } from '../protocol/generated/sasl-handshake-response.generated';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import { defineApi } from '../network/api-handler';

export const SASL_PLAIN = 'PLAIN';

export const saslHandshakeApi = defineApi({
  apiKey: ApiKey.SaslHandshake,
  name: 'SaslHandshake',
  // After a v0 handshake the client sends the token as a bare frame, not a SaslAuthenticate request.
  minVersion: 0,
  maxVersion: 1,
  sasl: true,
  readRequest: readSaslHandshakeRequest,
  writeResponse: writeSaslHandshakeResponse,
  handle: (request, ctx) => {
    if (request.mechanism !== SASL_PLAIN) {
      return { errorCode: KafkaErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: [SASL_PLAIN] };
    }
    ctx.session.saslMechanism = SASL_PLAIN;
    ctx.session.expectsRawSaslToken = ctx.apiVersion === 0;
    return { errorCode: 0, mechanisms: [SASL_PLAIN] };
  },
});
