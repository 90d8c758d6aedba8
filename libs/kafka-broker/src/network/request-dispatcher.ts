import { API_MESSAGES, ApiKey } from '../protocol/generated/api-messages.generated';
import { writeApiVersionsResponse } from '../protocol/generated/api-versions-response.generated';
import { ITEM_ERROR_RESPONSES } from '../protocol/generated/item-error-responses.generated';
import { readRequestHeader } from '../protocol/generated/request-header.generated';
import { ProtocolReader } from '../protocol/protocol-reader';
import { ProtocolWriter } from '../protocol/protocol-writer';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import type { BrokerRuntime } from '../broker-runtime';
import type { ConnectionSession } from './api-handler';
import { advertisedVersions } from '../handlers/api-versions.handler';
import { authenticatePlain } from '../handlers/sasl-authenticate.handler';

export interface ConnectionInfo {
  readonly connectionId: number;
  readonly clientHost: string;
  readonly signal: AbortSignal;
  readonly session: ConnectionSession;
}

/** Api key, api version and correlation id. */
const REQUEST_HEADER_MIN_BYTES = 8;

/** What a client may send before it has authenticated (when SASL is on). */
const BEFORE_AUTHENTICATION = new Set<number>([
  ApiKey.ApiVersions,
  ApiKey.SaslHandshake,
  ApiKey.SaslAuthenticate,
]);

/** What to do after a request: send these bytes, send nothing (acks=0), or drop the connection. */
export type DispatchOutcome =
  | { kind: 'respond'; chunks: Buffer[] }
  | { kind: 'silent' }
  | { kind: 'close'; reason: string; apiKey: number; apiVersion: number };

function frame(
  correlationId: number,
  flexibleHeader: boolean,
  writeBody: (w: ProtocolWriter) => void,
): Buffer[] {
  const w = new ProtocolWriter(1024);
  w.reserveSizePrefix();
  w.writeInt32(correlationId);
  if (flexibleHeader) w.writeUVarInt(0);
  writeBody(w);
  return w.finishFrame();
}

/** Response header v1 (with tagged fields) for flexible responses, except ApiVersions, which always uses v0 so any client can read it. */
function flexibleResponseHeader(apiKey: number, apiVersion: number): boolean {
  const definition = API_MESSAGES.get(apiKey);
  return (
    apiKey !== ApiKey.ApiVersions &&
    definition !== undefined &&
    definition.responseFlexibleMin >= 0 &&
    apiVersion >= definition.responseFlexibleMin
  );
}

/** What an item of a request the broker does not serve is told, beside UNSUPPORTED_VERSION. */
const NOT_SERVED_MESSAGE = 'the embedded broker does not serve this request';

/**
 * An ApiVersions v0 body: UNSUPPORTED_VERSION with the versions the broker serves, under the
 * response header the request's version calls for (v0 for ApiVersions, KIP-511).
 */
function versionsAnswer(
  correlationId: number,
  runtime: BrokerRuntime,
  flexibleHeader = false,
): Buffer[] {
  return frame(correlationId, flexibleHeader, (w) =>
    writeApiVersionsResponse(w, 0, {
      errorCode: KafkaErrorCode.UNSUPPORTED_VERSION,
      apiKeys: advertisedVersions(runtime.servedApis),
    }),
  );
}

/**
 * Decodes one request frame, runs its handler and encodes the response. A request the broker
 * does not serve gets UNSUPPORTED_VERSION, never a dropped connection (SPEC §9): in the
 * response's top-level error code, or, where Kafka's response has none, in each of its items
 * (every topic, partition or resource the request named); a request of an API key or version
 * Kafka does not define (no response format to answer in) gets ApiVersions' v0 answer, the
 * versions the broker serves. Throws `ProtocolDecodeError` for frames that do not decode.
 */
export async function dispatchRequest(
  frameBytes: Buffer,
  connection: ConnectionInfo,
  runtime: BrokerRuntime,
): Promise<DispatchOutcome> {
  if (connection.session.expectsRawSaslToken) {
    connection.session.expectsRawSaslToken = false;
    // SASL v0 framing: success is an empty frame, failure closes the connection.
    if (authenticatePlain(frameBytes, runtime.options.saslPlainUsers) === undefined) {
      return { kind: 'close', reason: 'sasl authentication failed', apiKey: -1, apiVersion: 0 };
    }
    connection.session.authenticated = true;
    return { kind: 'respond', chunks: [Buffer.alloc(4)] };
  }
  if (frameBytes.length < REQUEST_HEADER_MIN_BYTES) {
    return {
      kind: 'close',
      reason: 'frame shorter than a request header',
      apiKey: -1,
      apiVersion: -1,
    };
  }
  const apiKey = frameBytes.readInt16BE(0);
  const apiVersion = frameBytes.readInt16BE(2);
  const correlationId = frameBytes.readInt32BE(4);
  const served = runtime.servedApis.get(apiKey);
  const definition = API_MESSAGES.get(apiKey);
  if (
    runtime.options.saslPlainUsers &&
    !connection.session.authenticated &&
    !BEFORE_AUTHENTICATION.has(apiKey)
  ) {
    return { kind: 'close', reason: 'request before SASL authentication', apiKey, apiVersion };
  }

  if (served && apiVersion >= served.minVersion && apiVersion <= served.maxVersion && definition) {
    const reader = new ProtocolReader(frameBytes);
    const headerVersion =
      definition.requestFlexibleMin >= 0 && apiVersion >= definition.requestFlexibleMin ? 2 : 1;
    const header = readRequestHeader(reader, headerVersion);
    const writeBody = await served.serve(reader, {
      apiVersion,
      correlationId,
      clientId: header.clientId ?? '',
      clientHost: connection.clientHost,
      connectionId: connection.connectionId,
      session: connection.session,
      broker: runtime,
      signal: connection.signal,
    });
    if (!writeBody) return { kind: 'silent' };
    return {
      kind: 'respond',
      chunks: frame(correlationId, flexibleResponseHeader(apiKey, apiVersion), writeBody),
    };
  }

  // KIP-511: a version of ApiVersions we do not know is answered in v0 with our ranges, so the
  // client can retry with one we do; so is a request Kafka has no response format for.
  if (
    apiKey === ApiKey.ApiVersions ||
    !definition ||
    apiVersion < definition.minVersion ||
    apiVersion > definition.maxVersion
  )
    return {
      kind: 'respond',
      chunks: versionsAnswer(correlationId, runtime, flexibleResponseHeader(apiKey, apiVersion)),
    };

  const flexibleHeader = flexibleResponseHeader(apiKey, apiVersion);
  const writeError = definition.writeErrorResponse;
  if (writeError) {
    return {
      kind: 'respond',
      chunks: frame(correlationId, flexibleHeader, (w) =>
        writeError(w, apiVersion, KafkaErrorCode.UNSUPPORTED_VERSION),
      ),
    };
  }
  const answerItems = ITEM_ERROR_RESPONSES.get(apiKey);
  if (!answerItems) return { kind: 'respond', chunks: versionsAnswer(correlationId, runtime) };
  // The items to answer are in the request: read it (one that does not decode closes the connection).
  const reader = new ProtocolReader(frameBytes);
  readRequestHeader(
    reader,
    definition.requestFlexibleMin >= 0 && apiVersion >= definition.requestFlexibleMin ? 2 : 1,
  );
  return {
    kind: 'respond',
    chunks: frame(correlationId, flexibleHeader, (w) =>
      answerItems(reader, w, apiVersion, KafkaErrorCode.UNSUPPORTED_VERSION, NOT_SERVED_MESSAGE),
    ),
  };
}
