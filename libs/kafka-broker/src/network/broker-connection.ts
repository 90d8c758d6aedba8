import type { Socket } from 'node:net';
import type { BrokerRuntime } from '../broker-runtime';
import { FrameDecoder, FrameSizeError } from './frame-decoder';
import { dispatchRequest } from './request-dispatcher';
import { ProtocolDecodeError } from '../protocol/protocol.errors';
import type { ConnectionSession } from './api-handler';

/** Stop reading from a client whose unanswered bytes pile up past this. */
const MAX_BUFFERED_RESPONSE_BYTES = 64 * 1024 * 1024;

/**
 * One client connection. Requests are handled one at a time in arrival order, as Kafka does, so
 * responses leave in request order; while one is in progress, reading pauses once the next whole
 * frame is in, so a connection holds that request, one more frame and one read at most.
 */
export class BrokerConnection {
  private readonly decoder: FrameDecoder;
  private readonly abort = new AbortController();
  private busy = false;
  private readonly session: ConnectionSession = {
    saslMechanism: undefined,
    authenticated: false,
    expectsRawSaslToken: false,
  };
  private closed = false;

  constructor(
    private readonly socket: Socket,
    readonly connectionId: number,
    private readonly runtime: BrokerRuntime,
    private readonly onClose: (connection: BrokerConnection) => void,
  ) {
    this.decoder = new FrameDecoder(runtime.options.maxFrameBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      // While a request is handled (a long-polling Fetch can take 30 s), reading past the next
      // whole frame would pile input up in memory without bound. Kafka too stops reading from a
      // connection until it has answered; pump() resumes once the frames held are handled.
      if (this.busy && this.decoder.holdsFrame) this.socket.pause();
      void this.pump();
    });
    socket.on('error', (error) => {
      // Peers vanish (ECONNRESET, EPIPE); that is the end of this connection, nothing more.
      this.runtime.log.info('connection error', { connectionId, error: error.message });
    });
    socket.on('close', () => this.finish());
  }

  private get clientHost(): string {
    return `/${this.socket.remoteAddress ?? 'unknown'}`;
  }

  /** Closes the connection and abandons any request still waiting (a long-polling fetch). */
  close(): void {
    this.finish();
    this.socket.destroy();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.onClose(this);
  }

  private async pump(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      for (;;) {
        let frame: Buffer | undefined;
        try {
          frame = this.decoder.next();
        } catch (error) {
          if (error instanceof FrameSizeError) {
            this.reject('bad frame size', { size: error.size });
            return;
          }
          throw error;
        }
        if (!frame) break;
        await this.handle(frame);
        if (this.closed) return;
        if (this.socket.writableLength > MAX_BUFFERED_RESPONSE_BYTES) await this.drained();
      }
      this.socket.resume();
    } finally {
      this.busy = false;
    }
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private async handle(frame: Buffer): Promise<void> {
    let outcome;
    try {
      outcome = await dispatchRequest(
        frame,
        {
          connectionId: this.connectionId,
          clientHost: this.clientHost,
          signal: this.abort.signal,
          session: this.session,
        },
        this.runtime,
      );
    } catch (error) {
      if (error instanceof ProtocolDecodeError) {
        this.reject('malformed request', { error: error.message });
      } else {
        this.runtime.log.error('request failed', {
          connectionId: this.connectionId,
          error,
        });
        this.close();
      }
      return;
    }
    if (this.closed) return;
    if (outcome.kind === 'close') {
      this.reject(outcome.reason, { apiKey: outcome.apiKey, apiVersion: outcome.apiVersion });
      return;
    }
    if (outcome.kind === 'silent') return;
    const chunks = outcome.chunks;
    if (chunks.length === 1) this.socket.write(chunks[0] as Buffer);
    else {
      this.socket.cork();
      for (const chunk of chunks) this.socket.write(chunk);
      this.socket.uncork();
    }
  }

  /** Hostile or broken input: log it and drop this one connection. */
  private reject(reason: string, fields: Record<string, unknown>): void {
    this.runtime.log.warn('closing connection', {
      connectionId: this.connectionId,
      remote: this.clientHost,
      reason,
      ...fields,
    });
    this.close();
  }
}
