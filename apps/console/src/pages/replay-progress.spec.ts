import { replayProgressText } from './replay-progress';

const progress = { scanned: 10, matched: 4, delivered: 3, deadLettered: 0 };

describe('replayProgressText', () => {
  it('says what was read, matched and delivered', () => {
    expect(replayProgressText({ progress })).toBe('4 matched of 10 read, 3 delivered');
    expect(replayProgressText({ progress: { ...progress, deadLettered: 1 } })).toBe(
      '4 matched of 10 read, 3 delivered, 1 dead-lettered',
    );
  });

  it('says when the replay started over after its instance stopped', () => {
    expect(replayProgressText({ progress, restarts: 0 })).toBe('4 matched of 10 read, 3 delivered');
    expect(replayProgressText({ progress, restarts: 1 })).toBe(
      '4 matched of 10 read, 3 delivered (started again once after an instance stopped)',
    );
    expect(replayProgressText({ progress, restarts: 2 })).toContain('started again 2 times');
  });
});
