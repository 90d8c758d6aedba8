import { FAULT_TARGETS } from '../src/fault-injector';
import { formatReport } from '../src/report';
import { runScenario, type ScenarioReport } from '../src/scenario';

// The short chaos run of `npm test`: the whole gateway as processes, 100 events/s for 40 s over
// HTTP and the kitchen's source topic, every process (three apps, the broker, Redis) SIGKILLed
// and restarted once at a random moment; then SPEC §6's guarantees, checked against what was
// accepted and what Kafka holds. About two minutes.
jest.setTimeout(300_000);

describe('the gateway under chaos (short run)', () => {
  let report: ScenarioReport;

  beforeAll(async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    report = await runScenario({
      events: 4000,
      rate: 100,
      faults: true,
      seed,
      keys: 200,
      profile: 'chaos',
      drainTimeoutMs: 60_000,
      sampleIntervalMs: 1000,
      keep: false,
      log: () => undefined,
    });
    console.log(formatReport(report));
  }, 300_000);

  it('killed and restarted every process once', () => {
    expect(report.faults.map((f) => f.target).sort()).toEqual([...FAULT_TARGETS].sort());
    expect(report.faults.filter((f) => f.error !== undefined)).toEqual([]);
  });

  it('accepted the events and has every accepted one on its channel topic', () => {
    const { ingest } = report;
    expect(ingest.acceptedHttp + ingest.acceptedSource).toBeGreaterThan(0.99 * ingest.planned);
    expect(ingest.acceptedNotInKafka).toBe(0);
  });

  it('lost nothing: every expected event was delivered or dead-lettered', () => {
    expect(report.subscriptions.map((s) => [s.name, s.missing])).toEqual(
      report.subscriptions.map((s) => [s.name, 0]),
    );
    // The flaky receiver's short retry schedule did run out for some events.
    expect(report.subscriptions.find((s) => s.behaviour === 'flaky')?.deadLettered).toBeGreaterThan(
      0,
    );
  });

  it('kept order per key', () => {
    expect(report.subscriptions.map((s) => [s.name, s.orderViolations])).toEqual(
      report.subscriptions.map((s) => [s.name, 0]),
    );
  });

  it('delivered nothing across tenants, subscriptions or types', () => {
    expect(report.subscriptions.map((s) => [s.name, s.crossTenant])).toEqual(
      report.subscriptions.map((s) => [s.name, 0]),
    );
    expect(report.streams.map((s) => [s.name, s.crossTenant])).toEqual(
      report.streams.map((s) => [s.name, 0]),
    );
    expect(report.probes.filter((p) => !p.ok)).toEqual([]);
  });

  it('resumed every stream with no gap and no repeat', () => {
    expect(report.streams.map((s) => [s.name, s.refused ?? 'open', s.gaps, s.repeats])).toEqual(
      report.streams.map((s) => [s.name, 'open', 0, 0]),
    );
  });

  it('disabled the subscription whose endpoint answered 410', () => {
    expect(report.subscriptions.find((s) => s.behaviour === 'gone')?.status).toBe('disabled');
  });

  it('reports peak memory for every process', () => {
    expect(Object.keys(report.peakMemoryBytes).sort()).toEqual(
      ['broker', 'fanout', 'ingest-bridge', 'redis', 'subscription-api'].sort(),
    );
  });
});
