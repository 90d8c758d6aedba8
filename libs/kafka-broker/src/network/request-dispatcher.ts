import { API_MESSAGES, ApiKey } from '../protocol/generated/api-messages.generated';
import { writeApiVersionsResponse } from '../protocol/generated/api-versions-response.generated';
import { readRequestHeader } from '../protocol/generated/request-header.generated';
import { ProtocolReader } from '../protocol/protocol-reader';
import { ProtocolWriter } from '../protocol/protocol-writer';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import type { BrokerRuntime } from '../broker-runtime';
import { advertisedVersions } from '../handlers/api-versions.handler';

export interface ConnectionInfo {
  readonly connectionId: number;
  readonly clientHost: string;
  readonly signal: AbortSignal;
}

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

/**
 * Decodes one request frame, runs its handler and encodes the response. Requests the broker does
 * not serve are answered with UNSUPPORTED_VERSION wherever Kafka's response format allows it.
 * Throws `ProtocolDecodeError` for frames that do not decode.
 */
export async function dispatchRequest(
  frameBytes: Buffer,
  connection: ConnectionInfo,
  runtime: BrokerRuntime,
): Promise<DispatchOutcome> {
  const apiKey = frameBytes.readInt16BE(0);
  const apiVersion = frameBytes.readInt16BE(2);
  const correlationId = frameBytes.readInt32BE(4);
  const served = runtime.servedApis.get(apiKey);
  const definition = API_MESSAGES.get(apiKey);

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
      broker: runtime,
      signal: connection.signal,
    });
    if (!writeBody) return { kind: 'silent' };
    return {
      kind: 'respond',
      chunks: frame(correlationId, flexibleResponseHeader(apiKey, apiVersion), writeBody),
    };
  }

  if (apiKey === ApiKey.ApiVersions) {
    // KIP-511: a version we do not know is answered in v0 with our ranges, so the client can
    // retry with one we do.
    return {
      kind: 'respond',
      chunks: frame(correlationId, false, (w) =>
        writeApiVersionsResponse(w, 0, {
          errorCode: KafkaErrorCode.UNSUPPORTED_VERSION,
          apiKeys: advertisedVersions(runtime.servedApis),
        }),
      ),
    };
  }

  const writeError = definition?.writeErrorResponse;
  if (
    definition &&
    writeError &&
    apiVersion >= definition.minVersion &&
    apiVersion <= definition.maxVersion
  ) {
    return {
      kind: 'respond',
      chunks: frame(correlationId, flexibleResponseHeader(apiKey, apiVersion), (w) =>
        writeError(w, apiVersion, KafkaErrorCode.UNSUPPORTED_VERSION),
      ),
    };
  }
  const reason = definition ? `unsupported version of ${definition.name}` : 'unknown api key';
  return { kind: 'close', reason, apiKey, apiVersion };
}
