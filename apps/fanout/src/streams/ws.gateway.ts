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
import { AckWriter, type AckResult, type PendingAck } from './ack-writer';
import type { StartPoint, StreamConnection } from './stream-connection';
import type { StreamPlan, StreamPlanner } from './stream-planner';
import type { StreamRedisDeadline } from './stream-redis-deadline';
import type { StreamAdmission, StreamsService } from './streams.service';
import type { StreamsConfig } from './streams.config';
import type { DisconnectReason, StreamsMetrics } from './streams.metrics';
import { InvalidStreamRequestError, StreamsUnavailableError } from './streams.errors';
import { WsSink } from './ws.sink';

export const WS_PATH = '/v1/streams/ws';
const MAX_MESSAGE_BYTES = 64 * 1024;
const SHUTTING_DOWN = 'This server is shutting down; connect again';

interface Session {
  readonly socket: WebSocket;
  readonly sink: WsSink;
  readonly principal: Principal;
  /** The key's stream place, taken at the upgrade and handed to the stream when it opens. */
  readonly admission: StreamAdmission;
  connection: StreamConnection | null;
  /** Writes the acks of its durable subscription's stream, one at a time; null for others. */
  acks: AckWriter | null;
  busy: boolean;
  /** Closes a socket that has not subscribed in time; cleared when its stream opens. */
  idleTimer: NodeJS.Timeout | undefined;
  /** The subscribe time ran out while a subscribe was being set up: close if it fails. */
  expired: boolean;
}

/**
 * `GET /v1/streams/ws` — the WebSocket protocol of SPEC §7 on the HTTP server's `upgrade` event.
 * The key is checked before the upgrade (a refusal is a plain HTTP problem, 503 when Redis does
 * not answer the lookup in time); after it, every client mistake, and an `ack` Redis does not
 * store in time, is an `{"op":"error"}` message and the socket stays open. Each socket holds one
 * of its key's stream places from the upgrade on, subscribed or not, and one that has not
 * subscribed within `wsSubscribeTimeoutMs` is closed (1008 `subscribe_timeout`).
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
    /** Bounds the upgrade's key lookup and each ack (the planner bounds its own calls). */
    private readonly redis: StreamRedisDeadline,
    private readonly config: StreamsConfig,
    private readonly metrics: StreamsMetrics,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    // Subscribed sockets are ended by their stream; these have none yet.
    this.streams.onKeyDeleted((keyId) => {
      let closed = 0;
      for (const session of [...this.sessions])
        if (
          session.principal.keyId === keyId &&
          !session.connection &&
          this.closeUnsubscribed(session, 'key_deleted', {
            code: 'auth.unauthenticated',
            status: 401,
            message: 'The API key of this socket was deleted',
          })
        )
          closed += 1;
      return closed;
    });
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
    // The admin key and cached ones need no Redis: let through while the circuit is open.
    const principal = await this.redis.run(
      'authenticate',
      () => this.authenticator.authenticate(token),
      { needsRedis: !this.authenticator.answersWithoutRedis(token) },
    );
    if (!principal) throw new UnauthenticatedError('The API key is not valid');
    if (!principal.has('streams:read'))
      throw new ForbiddenError('This API key lacks the streams:read scope');
    // One value each, as on the other transports (a repeat is not quietly the last one).
    const repeated = ['subscription', 'cursor', 'from', 'filter'].filter(
      (name) => url.searchParams.getAll(name).length > 1,
    );
    if (repeated.length > 0)
      throw new InvalidStreamRequestError(`${repeated.join(', ')} may be given once only`);
    let plan: StreamPlan | null = null;
    // An empty one is none, as on the other transports: the socket waits for its subscribe.
    if (query.subscription !== undefined && query.subscription !== '')
      plan = await this.planner.plan(principal, {
        // Passed on to be refused as on the other transports, not ignored: a durable stream
        // takes its types and filter from its subscription and resumes where it acknowledged.
        types: query.types,
        filter: query.filter,
        from: query.from,
        cursors: [query.cursor],
        subscription: query.subscription,
      });
    const owner = {
      keyId: principal.keyId,
      tenant: principal.tenant,
      subscriptionId: plan?.subscriptionId ?? null,
    };
    // Every socket holds a place, subscribed or not, until it closes (a no-op once a stream
    // holds it: the stream gives it back when it ends).
    const admission = await this.streams.admit(owner);
    socket.once('close', () => admission.release());
    try {
      const opening = plan ? { plan, point: await this.streams.startPoint(plan.start) } : null;
      this.accept(request, socket, head, principal, admission, opening);
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
    admission: StreamAdmission,
    opening: { plan: StreamPlan; point: StartPoint } | null,
  ): void {
    if (!this.streams.accepting) throw new StreamsUnavailableError(SHUTTING_DOWN);
    if (socket.destroyed) {
      // Its close event has fired already, so the listener upgrade added will never free the place.
      admission.release();
      this.logger.debug({ keyId: principal.keyId }, 'stream client left before its stream opened');
      return;
    }
    this.server.handleUpgrade(request, socket, head, (ws) => {
      const session: Session = {
        socket: ws,
        sink: new WsSink(
          ws,
          this.config.sendBufferBytes,
          () => session.connection?.drained(),
          () => this.overflowed(session),
          () => this.unresponsive(session),
        ),
        principal,
        admission,
        connection: null,
        acks: null,
        busy: false,
        idleTimer: undefined,
        expired: false,
      };
      this.sessions.add(session);
      ws.on('message', (data, isBinary) => {
        this.onMessage(session, data, isBinary).catch((error: unknown) =>
          this.reportError(session, error),
        );
      });
      ws.on('close', () => {
        this.sessions.delete(session);
        clearTimeout(session.idleTimer);
        admission.release();
        session.connection?.end('client_closed');
      });
      ws.on('error', (error) => this.logger.debug({ err: error }, 'WebSocket error'));
      if (opening) this.start(session, opening.plan, opening.point);
      else {
        session.idleTimer = setTimeout(
          () => this.subscribeTimedOut(session),
          this.config.wsSubscribeTimeoutMs,
        );
        session.idleTimer.unref();
      }
    });
  }

  private start(session: Session, plan: StreamPlan, point: StartPoint): void {
    clearTimeout(session.idleTimer);
    const { subscriptionId } = plan;
    session.acks =
      subscriptionId === null
        ? null
        : new AckWriter((cursor) => this.planner.acknowledge(subscriptionId, cursor));
    session.sink.message({ op: 'subscribed', subscription: plan.subscriptionId });
    session.connection = this.streams.open(session.sink, plan, point, session.admission);
  }

  private subscribeTimedOut(session: Session): void {
    if (session.connection) return;
    // A subscribe being set up opens the stream, or closes the socket when it fails.
    if (session.busy) {
      session.expired = true;
      return;
    }
    const seconds = Math.round(this.config.wsSubscribeTimeoutMs / 100) / 10;
    this.closeUnsubscribed(session, 'subscribe_timeout', {
      code: 'streams.subscribe_timeout',
      status: 408,
      message: `No subscription within ${seconds} s of connecting; connect again and send {"op":"subscribe",…} at once`,
    });
  }

  /**
   * Sends a last error to a socket with no stream and closes it (1008 with `reason`); false when
   * it was closed already.
   */
  private closeUnsubscribed(
    session: Session,
    reason: DisconnectReason,
    error: { code: string; status: number; message: string },
  ): boolean {
    if (session.socket.readyState !== session.socket.OPEN) return false;
    clearTimeout(session.idleTimer);
    session.sink.message({ op: 'error', ...error });
    session.sink.close(1008, reason);
    this.metrics.disconnected('ws', reason);
    this.logger.info(
      { keyId: session.principal.keyId, tenant: session.principal.tenant, reason },
      'WebSocket closed before it subscribed',
    );
    return true;
  }

  /** Protocol replies the client does not read took the send buffer past twice its bound. */
  /** Its last two pings went unanswered: the peer is gone without closing. */
  private unresponsive(session: Session): void {
    if (!session.connection) return;
    this.logger.info(
      { keyId: session.principal.keyId, tenant: session.principal.tenant },
      'WebSocket client did not answer a ping; disconnected',
    );
    session.connection.end('unresponsive');
  }

  private overflowed(session: Session): void {
    if (session.connection) {
      session.connection.end('slow_consumer');
      return;
    }
    if (session.socket.readyState !== session.socket.OPEN) return;
    clearTimeout(session.idleTimer);
    session.sink.close(1008, 'slow_consumer');
    this.metrics.disconnected('ws', 'slow_consumer');
    this.metrics.slowDisconnects.inc();
    this.logger.warn(
      { keyId: session.principal.keyId, tenant: session.principal.tenant },
      'WebSocket client does not read its replies; disconnected',
    );
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
          await this.streams.ready();
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
          this.start(session, plan, point);
        } finally {
          session.busy = false;
          if (session.expired && !session.connection) {
            session.expired = false;
            setImmediate(() => this.subscribeTimedOut(session));
          }
        }
        return;
      }
      case 'ack': {
        const acks = session.connection ? session.acks : null;
        if (acks === null)
          throw new InvalidStreamRequestError(
            'Acknowledgements are for durable stream subscriptions: connect with ?subscription={id}',
          );
        const cursor = this.planner.ackCursor(message.cursor);
        const { outcome, stored } = await this.acknowledge(acks, cursor);
        if (outcome === 'written') session.sink.message({ op: 'acked', cursor });
        // Replaced by a newer ack before its write started: that one's write answers it too.
        else if (outcome === 'superseded')
          session.sink.message({ op: 'acked', cursor, supersededBy: stored });
        return;
      }
      default:
        throw new InvalidStreamRequestError(
          `Unknown op ${JSON.stringify(message.op)}; send {"op":"subscribe",…} or {"op":"ack","cursor":…}`,
        );
    }
  }

  /**
   * Stores an ack within the Redis deadline, after the socket's write in flight (AckWriter): an
   * ack replaced by a newer one before its write started is answered with that write's result
   * (`acked` naming the cursor stored in its place, or its error). Past the deadline the ack is
   * answered 503, and one still waiting is dropped (the write Redis already holds may still land).
   */
  private async acknowledge(acks: AckWriter, cursor: string): Promise<AckResult> {
    let pending: PendingAck | undefined;
    try {
      return await this.redis.run('ack', () => (pending = acks.acknowledge(cursor)).done);
    } catch (error) {
      pending?.withdraw();
      throw error;
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
