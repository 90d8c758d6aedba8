import { LoopClock } from './loop-clock';

describe('LoopClock', () => {
  it('keeps wall-clock time while its ticks come on time', () => {
    let wall = 1_000;
    const clock = new LoopClock(() => wall, 100);
    for (let i = 0; i < 10; i++) {
      wall += 100;
      clock.tick();
    }
    expect(clock.now()).toBe(2_000);
    // Within a tick's slack: still running.
    wall += 150;
    expect(clock.now()).toBe(2_150);
  });

  it('stands still while the loop is blocked, without running backwards, and goes on after it', () => {
    let wall = 0;
    const clock = new LoopClock(() => wall, 100);
    const readings: number[] = [];
    // A blocked stretch of 1.5 s: no tick comes; the clock is read as it goes on.
    for (let t = 0; t <= 1_500; t += 50) {
      wall = t;
      readings.push(clock.now());
    }
    expect(readings).toEqual([...readings].sort((a, b) => a - b));
    expect(clock.now()).toBe(200);
    // The late tick accounts for the spell; time runs again from there.
    clock.tick();
    expect(clock.now()).toBe(200);
    wall += 100;
    clock.tick();
    expect(clock.now()).toBe(300);
  });
});
