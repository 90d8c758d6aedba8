import type { ClaimedTask, ParkingOwner } from '@herald/store';
import { eventTimeMs, type SourceEvent } from './source-event';

/** Where a task came from: the group's live read, a replay, or a redrive of a dead letter. */
export type TaskOrigin = 'live' | 'replay' | 'redrive';

/** One event to deliver to one subscription. */
export interface DeliveryTask {
  readonly subscriptionId: string;
  readonly source: SourceEvent;
  /** The number the next attempt will carry (`herald-attempt`), 1 for the first. */
  attempt: number;
  /** When the first attempt started (RFC 3339), once it has. */
  firstAttemptAt: string | null;
  readonly origin: TaskOrigin;
  readonly replayId: string | null;
  /**
   * The queue the task belongs to: tasks of one ordering key share one (only its head is in
   * flight, later ones wait); an unordered task has a queue of its own.
   */
  readonly queueId: string;
  /** True when the queue is an ordering key; false when the task is alone in its queue. */
  readonly ordered: boolean;
  /** How the task's source learns it is settled; null for tasks claimed from parking. */
  readonly ticket: TaskTicket | null;
  /** Set when the task was claimed from parking: finishing it goes through the store. */
  claim: ClaimedTask | null;
}

/** The link between a task and what produced it (a partition's offsets, a replay). */
export interface TaskTicket {
  /**
   * Called once for each task (`subscriptionId` is the task's): it is delivered, dead-lettered,
   * durably parked or dropped.
   */
  settle(subscriptionId: string): void;
  /** False once the source is gone (the partition moved to another instance, the replay stopped). */
  readonly current: boolean;
  /** Who may park the task (the partition's owner), or null for replays and redrives. */
  readonly owner: ParkingOwner | null;
  /** Told how a settled task ended, for progress counters (replays). */
  readonly outcome?: (how: 'delivered' | 'dead-lettered') => void;
}

/** What is stored for a parked task. */
interface ParkedTaskRecord {
  readonly v: 1;
  readonly subscriptionId: string;
  readonly source: SourceEvent;
  readonly attempt: number;
  readonly firstAttemptAt: string | null;
  readonly origin: TaskOrigin;
  readonly replayId: string | null;
  readonly queueId: string;
  readonly ordered: boolean;
}

/** The queue of an ordered task: one per subscription, topic and key (and replay). */
export function orderingQueueId(source: SourceEvent, replayId: string | null): string {
  const key = Buffer.from(source.key ?? '', 'utf8').toString('base64url');
  return replayId === null ? `k.${source.topic}.${key}` : `r.${replayId}.${source.topic}.${key}`;
}

export function serializeTask(task: DeliveryTask): string {
  const event = task.source.event;
  const record: ParkedTaskRecord = {
    v: 1,
    subscriptionId: task.subscriptionId,
    // Binary data travels as base64 inside JSON; JSON data once, as the text it came as.
    source:
      event.data instanceof Uint8Array
        ? {
            ...task.source,
            event: { ...event, data: { $base64: Buffer.from(event.data).toString('base64') } },
          }
        : event.dataJson !== undefined
          ? { ...task.source, event: { ...event, data: undefined } }
          : task.source,
    attempt: task.attempt,
    firstAttemptAt: task.firstAttemptAt,
    origin: task.origin,
    replayId: task.replayId,
    queueId: task.queueId,
    ordered: task.ordered,
  };
  return JSON.stringify(record);
}

/** The task a claim carries, or null when the stored text is not one (it is then dropped). */
export function parseClaimedTask(claim: ClaimedTask): DeliveryTask | null {
  let record: ParkedTaskRecord;
  try {
    record = JSON.parse(claim.task) as ParkedTaskRecord;
  } catch {
    return null;
  }
  if (record?.v !== 1 || typeof record.subscriptionId !== 'string' || !record.source?.event)
    return null;
  const data = record.source.event.data as { $base64?: unknown } | undefined;
  const { dataJson } = record.source.event;
  let source: SourceEvent = record.source;
  // Tasks parked by an older version carry no event time in ms.
  if (typeof source.eventTimeMs !== 'number')
    source = { ...source, eventTimeMs: eventTimeMs(source.event.time, source.timestampMs) };
  if (data && typeof data === 'object' && typeof data.$base64 === 'string') {
    source = {
      ...source,
      event: { ...source.event, data: new Uint8Array(Buffer.from(data.$base64, 'base64')) },
    };
  } else if (typeof dataJson === 'string') {
    try {
      source = { ...source, event: { ...source.event, data: JSON.parse(dataJson) } };
    } catch {
      return null;
    }
  }
  return {
    subscriptionId: record.subscriptionId,
    source,
    attempt: record.attempt,
    firstAttemptAt: record.firstAttemptAt,
    origin: record.origin,
    replayId: record.replayId,
    queueId: record.queueId,
    ordered: record.ordered,
    ticket: null,
    claim,
  };
}
