/**
 * What became of one acknowledgement: stored; replaced by a newer one before its write started
 * (whose answer covers it); or withdrawn by its caller before its write started.
 */
export type AckOutcome = 'written' | 'superseded' | 'withdrawn';

export interface PendingAck {
  /** Settles with the ack's outcome; rejects with its write's error. */
  readonly done: Promise<AckOutcome>;
  /** Drops the ack unless its write has started (its caller stopped waiting); else a no-op. */
  withdraw(): void;
}

interface Waiting {
  readonly cursor: string;
  settle(outcome: AckOutcome): void;
  fail(error: unknown): void;
}

/**
 * The acknowledgements of one durable stream connection, written one at a time. Only the newest
 * cursor matters, so an ack that comes while a write is in flight takes the one waiting place
 * (the ack it replaces is `superseded`) and is written once that write settles. However fast a
 * client acks, its socket has at most one write in flight and one waiting; a write counts as in
 * flight until Redis answers it, also when its caller has stopped waiting.
 */
export class AckWriter {
  private writing = false;
  private waiting: Waiting | null = null;

  constructor(private readonly write: (cursor: string) => Promise<void>) {}

  acknowledge(cursor: string): PendingAck {
    let entry: Waiting | undefined;
    const done = new Promise<AckOutcome>((settle, fail) => {
      entry = { cursor, settle, fail };
    });
    const ack = entry!;
    this.waiting?.settle('superseded');
    this.waiting = ack;
    if (!this.writing) this.writeNext();
    return {
      done,
      withdraw: () => {
        if (this.waiting !== ack) return;
        this.waiting = null;
        ack.settle('withdrawn');
      },
    };
  }

  private writeNext(): void {
    const ack = this.waiting;
    this.waiting = null;
    this.writing = ack !== null;
    if (ack === null) return;
    let written: Promise<void>;
    try {
      written = this.write(ack.cursor);
    } catch (error) {
      ack.fail(error);
      this.writeNext();
      return;
    }
    written.then(
      () => {
        ack.settle('written');
        this.writeNext();
      },
      (error: unknown) => {
        ack.fail(error);
        this.writeNext();
      },
    );
  }
}
