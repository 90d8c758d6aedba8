import { timingSafeEqual } from 'node:crypto';
import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readSaslAuthenticateRequest } from '../protocol/generated/sasl-authenticate-request.generated';
import { writeSaslAuthenticateResponse } from '../protocol/generated/sasl-authenticate-response.generated';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import { defineApi } from '../network/api-handler';
import { SASL_PLAIN } from './sasl-handshake.handler';

/** RFC 4616: `[authzid] NUL authcid NUL passwd`. */
export function parsePlainToken(token: Buffer): { username: string; password: string } | undefined {
  const parts = token.toString('utf8').split('\u0000');
  if (parts.length !== 3) return undefined;
  const [, username, password] = parts;
  if (!username || password === undefined) return undefined;
  return { username, password };
}

function samePassword(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Checks a PLAIN token against the configured users; returns the user name when it matches. */
export function authenticatePlain(
  token: Buffer,
  users: Record<string, string> | undefined,
): string | undefined {
  const credentials = parsePlainToken(token);
  const expected = credentials ? users?.[credentials.username] : undefined;
  if (!credentials || expected === undefined || !samePassword(expected, credentials.password))
    return undefined;
  return credentials.username;
}

export const saslAuthenticateApi = defineApi({
  apiKey: ApiKey.SaslAuthenticate,
  name: 'SaslAuthenticate',
  minVersion: 0,
  maxVersion: 2,
  sasl: true,
  readRequest: readSaslAuthenticateRequest,
  writeResponse: writeSaslAuthenticateResponse,
  handle: (request, ctx) => {
    const empty = Buffer.alloc(0);
    if (ctx.session.saslMechanism !== SASL_PLAIN || ctx.session.authenticated) {
      return {
        errorCode: KafkaErrorCode.ILLEGAL_SASL_STATE,
        errorMessage: 'SaslHandshake PLAIN first',
        authBytes: empty,
        sessionLifetimeMs: 0n,
      };
    }
    if (authenticatePlain(request.authBytes, ctx.broker.options.saslPlainUsers) === undefined) {
      ctx.broker.log.warn('sasl authentication failed', { connectionId: ctx.connectionId });
      return {
        errorCode: KafkaErrorCode.SASL_AUTHENTICATION_FAILED,
        errorMessage: 'Authentication failed: invalid username or password',
        authBytes: empty,
        sessionLifetimeMs: 0n,
      };
    }
    ctx.session.authenticated = true;
    return { errorCode: 0, errorMessage: null, authBytes: empty, sessionLifetimeMs: 0n };
  },
});
