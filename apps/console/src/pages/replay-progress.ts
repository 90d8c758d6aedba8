import type { Replay } from '../api/herald.types';

/** A replay's counters in words, with how often it started over after an instance stopped. */
export function replayProgressText(replay: Pick<Replay, 'progress' | 'restarts'>): string {
  const { scanned, matched, delivered, deadLettered } = replay.progress;
  const restarts = replay.restarts ?? 0;
  const dead = deadLettered > 0 ? `, ${deadLettered} dead-lettered` : '';
  const again =
    restarts > 0
      ? ` (started again ${restarts === 1 ? 'once' : `${restarts} times`} after an instance stopped)`
      : '';
  return `${matched} matched of ${scanned} read, ${delivered} delivered${dead}${again}`;
}
