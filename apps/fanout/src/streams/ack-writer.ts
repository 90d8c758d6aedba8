/**
 * What became of one acknowledgement: stored; replaced by a newer one before its write started,
 * whose write stored the newer cursor in its place; or withdrawn by its caller before its write
 * started.
 */
export type AckOutcome = 'written' | 'superseded' | 'withdrawn';

export interface AckResult {
  readonly outcome: AckOutcome;
  /** The cursor stored: the ack's own (`written`), the newer one's (`superseded`), or null. */
  readonly stored: string | null;
}

export interface PendingAck {
  /**
   * Settles with the ack's result once its cursor, or the newer one that replaced it, is stored;
   * rejects with the error of that write.
   */
  readonly done: Promise<AckResult>;
  /** Drops the ack unless its write has started (its caller stopped waiting); else a no-op. */
  withdraw(): void;
}

interface Waiting {
  readonly cursor: string;
  /** The older acks this one replaced before their writes started: its write answers them too. */
  covers: Waiting[];
  settle(result: AckResult): void;
  fail(error: unknown): void;
}

/**
 * The acknowledgements of one durable stream connection, written one at a time. Only the newest
 * cursor matters, so an ack that comes while a write is in flight takes the one waiting place
 * and is written once that write settles; the ack it replaces is answered with that write's
 * result (`superseded`, naming the cursor stored in its place), so every ack is answered once.
 * However fast a client acks, its socket has at most one write in flight and one waiting; a
 * write counts as in flight until Redis answers it, also when its caller has stopped waiting.
 */
export class AckWriter {
  private writing = false;
  private waiting: Waiting | null = null;

  constructor(private readonly write: (cursor: string) => Promise<void>) {}

  acknowledge(cursor: string): PendingAck {
    let entry: Waiting | undefined;
    const done = new Promise<AckResult>((settle, fail) => {
      entry = { cursor, covers: [], settle, fail };
    });
    const ack = entry!;
    const replaced = this.waiting;
    if (replaced !== null) {
      // Taken over, not copied: a client acking fast while a write waits adds one entry an ack.
      ack.covers = replaced.covers;
      ack.covers.push(replaced);
      replaced.covers = [];
    }
    this.waiting = ack;
    if (!this.writing) this.writeNext();
    return {
      done,
      withdraw: () => {
        if (this.waiting !== ack) return;
        this.waiting = null;
        // Those it replaced came earlier: their callers have stopped waiting already.
        for (const older of [ack, ...ack.covers])
          older.settle({ outcome: 'withdrawn', stored: null });
      },
    };
  }

  private writeNext(): void {
    const ack = this.waiting;
    this.waiting = null;
    this.writing = ack !== null;
    if (ack === null) return;
    // Older ones first, so their answers go out before the newer one's.
    const written = () => {
      for (const older of ack.covers) older.settle({ outcome: 'superseded', stored: ack.cursor });
      ack.settle({ outcome: 'written', stored: ack.cursor });
      this.writeNext();
    };
    const failed = (error: unknown) => {
      for (const older of ack.covers) older.fail(error);
      ack.fail(error);
      this.writeNext();
    };
    let writing: Promise<void>;
    try {
      writing = this.write(ack.cursor);
    } catch (error) {
      failed(error);
      return;
    }
    writing.then(written, failed);
  }
}
