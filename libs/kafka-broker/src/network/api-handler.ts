import type { ProtocolReader } from '../protocol/protocol-reader';
import type { ProtocolWriter } from '../protocol/protocol-writer';
import type { BrokerRuntime } from '../broker-runtime';

/** Per-connection state that outlives one request. */
export interface ConnectionSession {
  /** The SASL mechanism agreed in SaslHandshake, if any. */
  saslMechanism: string | undefined;
  authenticated: boolean;
  /** After SaslHandshake v0 the next frame is a bare SASL token, not a request. */
  expectsRawSaslToken: boolean;
}

/** What a handler knows about the request it serves. */
export interface RequestContext {
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string;
  /** The peer's address, as Kafka reports it in DescribeGroups ("/127.0.0.1"). */
  readonly clientHost: string;
  readonly connectionId: number;
  readonly session: ConnectionSession;
  readonly broker: BrokerRuntime;
  /** Aborted when the connection closes or the broker stops, so long waits can give up. */
  readonly signal: AbortSignal;
}

/** A served API with its request and response types erased: decode, handle, return a body writer. */
export interface ServedApi {
  readonly apiKey: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** Part of SASL authentication: served only when SASL is configured. */
  readonly sasl: boolean;
  /** Resolves to the response body writer, or undefined when no response is due (acks=0). */
  serve(
    reader: ProtocolReader,
    ctx: RequestContext,
  ): Promise<((w: ProtocolWriter) => void) | undefined>;
}

export interface ApiHandlerDefinition<Req, Res> {
  apiKey: number;
  name: string;
  /** The versions this broker implements and advertises. */
  minVersion: number;
  maxVersion: number;
  sasl?: boolean;
  readRequest: (r: ProtocolReader, version: number) => Req;
  writeResponse: (w: ProtocolWriter, version: number, response: Res) => void;
  handle: (request: Req, ctx: RequestContext) => Promise<Res | undefined> | Res | undefined;
}

/** Binds a handler to its generated codecs. */
export function defineApi<Req, Res>(definition: ApiHandlerDefinition<Req, Res>): ServedApi {
  return {
    apiKey: definition.apiKey,
    name: definition.name,
    minVersion: definition.minVersion,
    maxVersion: definition.maxVersion,
    sasl: definition.sasl ?? false,
    async serve(reader, ctx) {
      const request = definition.readRequest(reader, ctx.apiVersion);
      const response = await definition.handle(request, ctx);
      if (response === undefined) return undefined;
      return (w) => definition.writeResponse(w, ctx.apiVersion, response);
    },
  };
}
