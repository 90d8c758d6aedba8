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

  it('tells the share of the last second the loop was busy, from the ticks it kept', () => {
    let wall = 0;
    const times = { active: 0, idle: 0 };
    const clock = new LoopClock(
      () => wall,
      100,
      () => ({ ...times }),
    );
    expect(clock.busyShare()).toBe(0);
    // Two seconds: the first idle, the second busy 95 ms of every 100.
    for (let i = 0; i < 20; i++) {
      wall += 100;
      if (i < 10) times.idle += 100;
      else {
        times.active += 95;
        times.idle += 5;
      }
      clock.tick();
    }
    expect(clock.busyShare()).toBeCloseTo(0.95);
    // Half a second idle since: the share counts the second before now.
    wall += 500;
    times.idle += 500;
    for (let i = 0; i < 5; i++) clock.tick();
    expect(clock.busyShare()).toBeCloseTo((0.95 * 500) / 1000, 2);
  });
});
