/** One tagged field to write: its tag and how to encode its value. */
export interface TaggedFieldWriter {
  tag: number;
  write: (w: ProtocolWriter) => void;
}

/** Record sets at least this large are passed through as their own chunk instead of copied. */
const ZERO_COPY_MIN_BYTES = 4096;

/**
 * Writes Kafka protocol primitives into a growable buffer. Large `records` are not copied: the
 * writer emits a list of chunks (its own buffer slices around the caller's record buffers), to be
 * written to the socket in order.
 */
export class ProtocolWriter {
  private buf: Buffer;
  private pos = 0;
  private start = 0;
  private readonly chunks: Buffer[] = [];
  private chunkBytes = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written so far, including passed-through chunks. */
  get length(): number {
    return this.chunkBytes + this.pos - this.start;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const pending = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, pending + n, 256));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = pending;
  }

  writeBool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }
  writeInt8(v: number): void {
    this.ensure(1);
    this.pos = this.buf.writeInt8(v, this.pos);
  }
  writeInt16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }
  writeUInt16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeUInt16BE(v, this.pos);
  }
  writeInt32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeInt32BE(v, this.pos);
  }
  writeUInt32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
  }
  writeInt64(v: bigint): void {
    this.ensure(8);
    this.pos = this.buf.writeBigInt64BE(v, this.pos);
  }
  writeFloat64(v: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleBE(v, this.pos);
  }
  writeUuid(v: Buffer): void {
    this.ensure(16);
    this.buf.fill(0, this.pos, this.pos + 16);
    v.copy(this.buf, this.pos, 0, Math.min(16, v.length));
    this.pos += 16;
  }

  writeUVarInt(v: number): void {
    this.ensure(5);
    let value = v >>> 0;
    while (value >= 0x80) {
      this.buf[this.pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[this.pos++] = value;
  }

  private writeLength(n: number, compact: boolean, wide: boolean): void {
    if (compact) this.writeUVarInt(n + 1);
    else if (wide) this.writeInt32(n);
    else this.writeInt16(n);
  }

  writeNullableString(v: string | null | undefined, compact: boolean): void {
    if (v === null || v === undefined) {
      this.writeLength(-1, compact, false);
      return;
    }
    const n = Buffer.byteLength(v, 'utf8');
    this.writeLength(n, compact, false);
    this.ensure(n);
    this.pos += this.buf.write(v, this.pos, n, 'utf8');
  }
  writeString(v: string | null | undefined, compact: boolean): void {
    this.writeNullableString(v ?? '', compact);
  }

  writeNullableBytes(v: Buffer | null | undefined, compact: boolean): void {
    if (v === null || v === undefined) {
      this.writeLength(-1, compact, true);
      return;
    }
    this.writeLength(v.length, compact, true);
    this.writeRaw(v);
  }
  writeBytes(v: Buffer | null | undefined, compact: boolean): void {
    this.writeNullableBytes(v ?? Buffer.alloc(0), compact);
  }
  writeRecords(v: Buffer | null | undefined, compact: boolean): void {
    this.writeNullableBytes(v, compact);
  }

  /** Appends bytes as they are: copied when small, passed through as a chunk when large. */
  writeRaw(v: Buffer): void {
    if (v.length >= ZERO_COPY_MIN_BYTES) {
      this.cut();
      this.chunks.push(v);
      this.chunkBytes += v.length;
      return;
    }
    this.ensure(v.length);
    v.copy(this.buf, this.pos);
    this.pos += v.length;
  }

  private cut(): void {
    if (this.pos > this.start) {
      const slice = this.buf.subarray(this.start, this.pos);
      this.chunks.push(slice);
      this.chunkBytes += slice.length;
      this.start = this.pos;
    }
  }

  writeNullableArray<T>(
    items: readonly T[] | null | undefined,
    compact: boolean,
    writeItem: (item: T) => void,
  ): void {
    if (items === null || items === undefined) {
      this.writeLength(-1, compact, true);
      return;
    }
    this.writeLength(items.length, compact, true);
    for (const item of items) writeItem(item);
  }
  writeArray<T>(
    items: readonly T[] | null | undefined,
    compact: boolean,
    writeItem: (item: T) => void,
  ): void {
    this.writeNullableArray(items ?? [], compact, writeItem);
  }

  writeNullableStruct<T>(v: T | null | undefined, writeStruct: (v: T) => void): void {
    if (v === null || v === undefined) {
      this.writeInt8(-1);
      return;
    }
    this.writeInt8(1);
    writeStruct(v);
  }

  writeTaggedFields(fields: TaggedFieldWriter[]): void {
    this.writeUVarInt(fields.length);
    for (const field of fields) {
      const inner = new ProtocolWriter();
      field.write(inner);
      this.writeUVarInt(field.tag);
      this.writeUVarInt(inner.length);
      for (const chunk of inner.finish()) this.writeRaw(chunk);
    }
  }

  /** Reserves the int32 size prefix of a frame; `finishFrame` fills it in. Only at the start. */
  reserveSizePrefix(): void {
    if (this.length !== 0) throw new Error('the size prefix must come first');
    this.ensure(4);
    this.pos += 4;
  }

  /** Like `finish`, for a writer that began with `reserveSizePrefix`. */
  finishFrame(): Buffer[] {
    const size = this.length - 4;
    const chunks = this.finish();
    (chunks[0] as Buffer).writeInt32BE(size, 0);
    return chunks;
  }

  /** The written bytes as chunks, in order. The writer must not be used afterwards. */
  finish(): Buffer[] {
    this.cut();
    return this.chunks;
  }

  /** The written bytes as one buffer (copies when there are several chunks). */
  toBuffer(): Buffer {
    const chunks = this.finish();
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  }
}
