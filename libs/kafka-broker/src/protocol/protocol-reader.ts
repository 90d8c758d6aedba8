import { ProtocolDecodeError } from './protocol.errors';

/**
 * Reads Kafka protocol primitives from one frame. Every read is bounds-checked against the frame,
 * so truncated or lying input fails with `ProtocolDecodeError` instead of reading garbage.
 * `bytes` and `records` are returned as views into the frame, not copies.
 */
export class ProtocolReader {
  offset: number;

  constructor(
    readonly buf: Buffer,
    offset = 0,
    private readonly end = buf.length,
  ) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number): number {
    const at = this.offset;
    if (n < 0 || at + n > this.end) {
      throw new ProtocolDecodeError(
        `frame truncated: need ${n} bytes at ${at}, have ${this.end - at}`,
      );
    }
    this.offset = at + n;
    return at;
  }

  readBool(): boolean {
    return this.buf[this.need(1)] !== 0;
  }
  readInt8(): number {
    return this.buf.readInt8(this.need(1));
  }
  readInt16(): number {
    return this.buf.readInt16BE(this.need(2));
  }
  readUInt16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }
  readInt32(): number {
    return this.buf.readInt32BE(this.need(4));
  }
  readUInt32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }
  readInt64(): bigint {
    return this.buf.readBigInt64BE(this.need(8));
  }
  readFloat64(): number {
    return this.buf.readDoubleBE(this.need(8));
  }
  readUuid(): Buffer {
    const at = this.need(16);
    return Buffer.from(this.buf.subarray(at, at + 16));
  }

  readUVarInt(): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = this.buf[this.need(1)] as number;
      if (shift === 28 && byte > 0x0f) throw new ProtocolDecodeError('unsigned varint too long');
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7;
    }
  }

  /** Length of a string/bytes/array: -1 for null. Compact lengths are stored plus one. */
  private readLength(compact: boolean, wide: boolean): number {
    const n = compact ? this.readUVarInt() - 1 : wide ? this.readInt32() : this.readInt16();
    if (n < -1) throw new ProtocolDecodeError(`negative length ${n}`);
    return n;
  }

  readNullableString(compact: boolean): string | null {
    const n = this.readLength(compact, false);
    if (n < 0) return null;
    const at = this.need(n);
    return this.buf.toString('utf8', at, at + n);
  }
  /** A null where the protocol wants a string reads as '' (clients do send that). */
  readString(compact: boolean): string {
    return this.readNullableString(compact) ?? '';
  }

  readNullableBytes(compact: boolean): Buffer | null {
    const n = this.readLength(compact, true);
    if (n < 0) return null;
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }
  readBytes(compact: boolean): Buffer {
    return this.readNullableBytes(compact) ?? Buffer.alloc(0);
  }
  readRecords(compact: boolean): Buffer | null {
    return this.readNullableBytes(compact);
  }

  readNullableArray<T>(compact: boolean, readItem: () => T): T[] | null {
    const n = this.readLength(compact, true);
    if (n < 0) return null;
    // Every element takes at least one byte, so a longer count is a lie; refusing it here keeps
    // a hostile count from allocating anything.
    if (n > this.remaining)
      throw new ProtocolDecodeError(`array of ${n} items in ${this.remaining} bytes`);
    const items: T[] = new Array<T>(n);
    for (let i = 0; i < n; i++) items[i] = readItem();
    return items;
  }
  readArray<T>(compact: boolean, readItem: () => T): T[] {
    return this.readNullableArray(compact, readItem) ?? [];
  }

  readNullableStruct<T>(readStruct: () => T): T | null {
    return this.readInt8() < 0 ? null : readStruct();
  }

  /** Tagged fields: `handle` reads the ones it knows and returns false for the rest, which are skipped. */
  readTaggedFields(handle: (tag: number) => boolean): void {
    const count = this.readUVarInt();
    for (let i = 0; i < count; i++) {
      const tag = this.readUVarInt();
      const size = this.readUVarInt();
      const end = this.offset + size;
      if (end > this.end) throw new ProtocolDecodeError(`tagged field ${tag} runs past the frame`);
      if (!handle(tag) || this.offset !== end) this.offset = end;
    }
  }
  skipTaggedFields(): void {
    this.readTaggedFields(() => false);
  }
}
