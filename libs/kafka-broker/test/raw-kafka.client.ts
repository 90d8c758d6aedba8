// A bare Kafka protocol client for tests that need to send exactly the bytes they mean:
// hand-built requests, duplicates, garbage. Built on the broker's generated codecs.
import { connect, type Socket } from 'node:net';
import { API_MESSAGES, ApiKey } from '../src/protocol/generated/api-messages.generated';
import { writeRequestHeader } from '../src/protocol/generated/request-header.generated';
import { ProtocolReader } from '../src/protocol/protocol-reader';
import { ProtocolWriter } from '../src/protocol/protocol-writer';

export class RawKafkaClient {
  private buffer = Buffer.alloc(0);
  private nextCorrelationId = 1;
  private readonly waiting = new Map<number, (frame: Buffer) => void>();
  /** Resolves when the broker closes the connection. */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 4 && this.buffer.length >= 4 + this.buffer.readInt32BE(0)) {
        const size = this.buffer.readInt32BE(0);
        const frame = this.buffer.subarray(4, 4 + size);
        this.buffer = this.buffer.subarray(4 + size);
        // A bare frame (the reply to a v0 SASL token) has no correlation id to match.
        if (frame.length < 4) continue;
        const correlationId = frame.readInt32BE(0);
        this.waiting.get(correlationId)?.(frame);
        this.waiting.delete(correlationId);
      }
    });
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawKafkaClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => resolve(new RawKafkaClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends one request and resolves with a reader positioned at the start of the response body. */
  request(
    apiKey: number,
    version: number,
    writeBody: (w: ProtocolWriter) => void,
  ): Promise<ProtocolReader> {
    const definition = API_MESSAGES.get(apiKey);
    const flexibleRequest =
      definition !== undefined &&
      definition.requestFlexibleMin >= 0 &&
      version >= definition.requestFlexibleMin;
    const flexibleResponse =
      apiKey !== ApiKey.ApiVersions &&
      definition !== undefined &&
      definition.responseFlexibleMin >= 0 &&
      version >= definition.responseFlexibleMin;
    const correlationId = this.nextCorrelationId++;
    const w = new ProtocolWriter();
    w.reserveSizePrefix();
    writeRequestHeader(w, flexibleRequest ? 2 : 1, {
      requestApiKey: apiKey,
      requestApiVersion: version,
      correlationId,
      clientId: 'raw-test',
    });
    writeBody(w);
    const response = new Promise<ProtocolReader>((resolve, reject) => {
      this.waiting.set(correlationId, (frame) => {
        const r = new ProtocolReader(frame, 4);
        if (flexibleResponse) r.skipTaggedFields();
        resolve(r);
      });
      void this.closed.then(() => reject(new Error('connection closed before the response')));
    });
    this.socket.write(Buffer.concat(w.finishFrame()));
    return response;
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Bytes written here that the broker has not taken yet (not even into the kernel's buffers). */
  get unsentBytes(): number {
    return this.socket.writableLength;
  }

  close(): void {
    this.socket.destroy();
  }
}
