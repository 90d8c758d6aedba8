import { HeraldError } from '@herald/errors';

/** A size prefix no request may have: negative, too small for a header, or over the limit. */
export class FrameSizeError extends HeraldError {
  constructor(
    readonly size: number,
    limit: number,
  ) {
    super('kafka_broker.bad_frame_size', `frame size ${size} outside 1..${limit}`);
  }
}

/** A frame must hold something; whether it is a whole request header is the dispatcher's call. */
const MIN_FRAME_BYTES = 1;

/**
 * Cuts a TCP byte stream into size-prefixed Kafka frames. A frame inside one chunk is returned as
 * a view of it (no copy); one spread over several chunks is joined once.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes held but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * True when `next()` has something to give without more bytes: a whole frame, or a size prefix
   * it will refuse.
   */
  get holdsFrame(): boolean {
    if (this.buffered < 4) return false;
    const size = this.peekSize();
    return size < MIN_FRAME_BYTES || size > this.maxFrameBytes || this.buffered >= 4 + size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next whole frame (without its size prefix), or undefined until more bytes arrive. */
  next(): Buffer | undefined {
    if (this.buffered < 4) return undefined;
    const size = this.peekSize();
    if (size < MIN_FRAME_BYTES || size > this.maxFrameBytes)
      throw new FrameSizeError(size, this.maxFrameBytes);
    if (this.buffered < 4 + size) return undefined;
    const first = this.chunks[0] as Buffer;
    if (first.length >= 4 + size) {
      const frame = first.subarray(4, 4 + size);
      if (first.length === 4 + size) this.chunks.shift();
      else this.chunks[0] = first.subarray(4 + size);
      this.buffered -= 4 + size;
      return frame;
    }
    this.take(4);
    const joined = Buffer.allocUnsafe(size);
    this.take(size, joined);
    return joined;
  }

  /** Removes `n` bytes from the front, copying them into `into` when given. */
  private take(n: number, into?: Buffer): void {
    let done = 0;
    while (done < n) {
      const chunk = this.chunks[0] as Buffer;
      const count = Math.min(chunk.length, n - done);
      if (into) chunk.copy(into, done, 0, count);
      done += count;
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
    }
    this.buffered -= n;
  }

  private peekSize(): number {
    const first = this.chunks[0] as Buffer;
    if (first.length >= 4) return first.readInt32BE(0);
    const head = Buffer.alloc(4);
    let at = 0;
    for (const chunk of this.chunks) {
      const take = Math.min(4 - at, chunk.length);
      chunk.copy(head, at, 0, take);
      at += take;
      if (at === 4) break;
    }
    return head.readInt32BE(0);
  }
}
