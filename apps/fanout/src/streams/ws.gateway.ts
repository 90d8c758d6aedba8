import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  Authenticator,
  ForbiddenError,
  UnauthenticatedError,
  presentedToken,
  type Principal,
} from '@herald/auth';
import { HeraldError } from '@herald/errors';
import { toProblem } from '@herald/http-server';
import type { Logger } from '@herald/observability';
import type { StartPoint, StreamConnection } from './stream-connection';
import type { StreamPlan, StreamPlanner } from './stream-planner';
import type { StreamAdmission, StreamOwner, StreamsService } from './streams.service';
import type { StreamsConfig } from './streams.config';
import { InvalidStreamRequestError, StreamsUnavailableError } from './streams.errors';
import { WsSink } from './ws.sink';

export const WS_PATH = '/v1/streams/ws';
const MAX_MESSAGE_BYTES = 64 * 1024;
const SHUTTING_DOWN = 'This server is shutting down; connect again';

interface Session {
  readonly socket: WebSocket;
  readonly sink: WsSink;
  readonly principal: Principal;
  owner: StreamOwner;
  connection: StreamConnection | null;
  busy: boolean;
}

/**
 * `GET /v1/streams/ws` — the WebSocket protocol of SPEC §7 on the HTTP server's `upgrade` event.
 * The key is checked before the upgrade (a refusal is a plain HTTP problem); after it, every
 * client mistake is an `{"op":"error"}` message and the socket stays open.
 */
export class WsGateway implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly server = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE_BYTES,
    perMessageDeflate: false,
  });
  private readonly sessions = new Set<Session>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly authenticator: Authenticator,
    private readonly streams: StreamsService,
    private readonly planner: StreamPlanner,
    private readonly config: StreamsConfig,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    const http = this.adapterHost.httpAdapter.getHttpServer() as Server;
    http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgrade(request, socket, head).catch((error: unknown) =>
        refuse(socket, error, this.logger),
      );
    });
  }

  beforeApplicationShutdown(): void {
    for (const session of [...this.sessions]) {
      if (session.connection) session.connection.end('shutdown');
      else session.socket.close(1001, 'shutdown');
    }
  }

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== WS_PATH) {
      refuse(
        socket,
        new HeraldError('http.not_found', `No WebSocket endpoint at ${url.pathname}`),
        this.logger,
      );
      return;
    }
    // Sockets opened after shutdown began would outlive the sessions it closed.
    if (!this.streams.accepting) throw new StreamsUnavailableError(SHUTTING_DOWN);
    const query = Object.fromEntries(url.searchParams);
    const token = presentedToken({ headers: request.headers, query }, true);
    if (token === null) throw new UnauthenticatedError();
    const principal = await this.authenticator.authenticate(token);
    if (!principal) throw new UnauthenticatedError('The API key is not valid');
    if (!principal.has('streams:read'))
      throw new ForbiddenError('This API key lacks the streams:read scope');
    let plan: StreamPlan | null = null;
    if (query.subscription !== undefined)
      plan = await this.planner.plan(principal, {
        cursors: [query.cursor],
        subscription: query.subscription,
      });
    const owner = {
      keyId: principal.keyId,
      tenant: principal.tenant,
      subscriptionId: plan?.subscriptionId ?? null,
    };
    const admission = await this.streams.admit(owner);
    if (!plan) {
      // The key had room; a socket without ?subscription= takes its place when it subscribes.
      admission.release();
      this.accept(request, socket, head, principal, owner, null);
      return;
    }
    // Gives the place back if the socket closes before the stream opens (no-op once it has).
    socket.once('close', () => admission.release());
    try {
      const point = await this.streams.startPoint(plan.start);
      this.accept(request, socket, head, principal, owner, { plan, point, admission });
    } catch (error) {
      admission.release();
      throw error;
    }
  }

  /** Completes the upgrade, and opens the stream of a `?subscription=` socket (`opening`). */
  private accept(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    principal: Principal,
    owner: StreamOwner,
    opening: { plan: StreamPlan; point: StartPoint; admission: StreamAdmission } | null,
  ): void {
    if (!this.streams.accepting) throw new StreamsUnavailableError(SHUTTING_DOWN);
    if (socket.destroyed) {
      // Its close event has fired already, so the listener upgrade added will never free the place.
      opening?.admission.release();
      this.logger.debug({ keyId: owner.keyId }, 'stream client left before its stream opened');
      return;
    }
    this.server.handleUpgrade(request, socket, head, (ws) => {
      const session: Session = {
        socket: ws,
        sink: new WsSink(ws, this.config.sendBufferBytes, () => session.connection?.drained()),
        principal,
        owner,
        connection: null,
        busy: false,
      };
      this.sessions.add(session);
      ws.on('message', (data, isBinary) => {
        this.onMessage(session, data, isBinary).catch((error: unknown) =>
          this.reportError(session, error),
        );
      });
      ws.on('close', () => {
        this.sessions.delete(session);
        session.connection?.end('client_closed');
      });
      ws.on('error', (error) => this.logger.debug({ err: error }, 'WebSocket error'));
      if (opening) this.start(session, opening.plan, opening.point, opening.admission);
    });
  }

  private start(
    session: Session,
    plan: StreamPlan,
    point: StartPoint,
    admission: StreamAdmission,
  ): void {
    session.owner = admission.owner;
    session.sink.message({ op: 'subscribed', subscription: plan.subscriptionId });
    session.connection = this.streams.open(session.sink, plan.selection, point, admission);
  }

  private async onMessage(session: Session, data: RawData, isBinary: boolean): Promise<void> {
    const message = parseMessage(data, isBinary);
    switch (message.op) {
      case 'subscribe': {
        if (session.connection || session.busy)
          throw new InvalidStreamRequestError(
            'This socket is already subscribed; open another to subscribe again',
          );
        session.busy = true;
        try {
          const plan = await this.planner.plan(session.principal, {
            types: message.types,
            filter: message.filter,
            from: message.from,
            cursors: [message.cursor],
            subscription: message.subscription,
          });
          if (session.socket.readyState !== session.socket.OPEN) return;
          const admission = await this.streams.admit({
            ...session.owner,
            subscriptionId: plan.subscriptionId,
          });
          try {
            const point = await this.streams.startPoint(plan.start);
            // Closed while the stream was being set up: the close handler has run already and
            // would never end a connection opened now.
            if (session.socket.readyState !== session.socket.OPEN) {
              this.logger.debug(
                { keyId: session.principal.keyId },
                'stream client left before its stream opened',
              );
              return;
            }
            this.start(session, plan, point, admission);
          } finally {
            // A no-op once the stream opened and holds the key's place.
            admission.release();
          }
        } finally {
          session.busy = false;
        }
        return;
      }
      case 'ack': {
        const subscriptionId = session.connection ? session.owner.subscriptionId : null;
        if (subscriptionId === null)
          throw new InvalidStreamRequestError(
            'Acknowledgements are for durable stream subscriptions: connect with ?subscription={id}',
          );
        const cursor = await this.planner.acknowledge(subscriptionId, message.cursor);
        session.sink.message({ op: 'acked', cursor });
        return;
      }
      default:
        throw new InvalidStreamRequestError(
          `Unknown op ${JSON.stringify(message.op)}; send {"op":"subscribe",…} or {"op":"ack","cursor":…}`,
        );
    }
  }

  private reportError(session: Session, error: unknown): void {
    const { problem, unexpected } = toProblem(error);
    if (unexpected) this.logger.error({ err: error }, 'WebSocket message failed');
    const errors = error instanceof HeraldError ? error.details?.errors : undefined;
    session.sink.message({
      op: 'error',
      code: problem.code,
      status: problem.status,
      message: problem.detail,
      ...(errors === undefined ? {} : { errors }),
    });
  }
}

function parseMessage(
  data: RawData,
  isBinary: boolean,
): Record<string, unknown> & { op?: unknown } {
  if (isBinary) throw new InvalidStreamRequestError('Messages must be JSON text, not binary');
  const text = Array.isArray(data)
    ? Buffer.concat(data).toString('utf8')
    : Buffer.from(data as ArrayBuffer).toString('utf8');
  let message: unknown;
  try {
    message = JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidStreamRequestError(`The message is not JSON: ${(error as Error).message}`);
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message))
    throw new InvalidStreamRequestError('A message must be a JSON object with an "op"');
  return message as Record<string, unknown>;
}

/** Answers a refused upgrade with a plain HTTP problem and closes the socket. */
function refuse(socket: Duplex, error: unknown, logger: Logger): void {
  const { problem, unexpected, retryAfterSeconds } = toProblem(error);
  if (unexpected) logger.error({ err: error }, 'WebSocket upgrade failed');
  const body = JSON.stringify({ ...problem, instance: WS_PATH });
  const headers = [
    `HTTP/1.1 ${problem.status} ${problem.title}`,
    'content-type: application/problem+json',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    ...(problem.status === 401 ? ['www-authenticate: Bearer'] : []),
    ...(retryAfterSeconds === undefined ? [] : [`retry-after: ${retryAfterSeconds}`]),
  ];
  if (socket.writable) socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
  else socket.destroy();
}
