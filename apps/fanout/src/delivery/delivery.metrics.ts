import { Counter, Gauge, Histogram } from 'prom-client';
import type { MetricsRegistry } from '@herald/observability';
import { eventDeliveryLatency } from '../event-latency.metric';
import type { OriginBudgets } from './origin-budgets';

export type DeliveryOutcomeLabel = 'delivered' | 'failed' | 'dead_lettered' | 'dropped';

/** The delivery engine's metrics (SPEC §8), registered on the process registry. */
export class DeliveryMetrics {
  readonly deliveries: Counter<'outcome' | 'status_class' | 'subscription'>;
  readonly attemptDuration: Histogram;
  readonly deadLetters: Counter<'subscription'>;
  /** Listed dead letters dropped by the retention limits (`reason`: cap or age). */
  readonly deadLettersTrimmed: Counter<'reason'>;
  readonly badRecords: Counter<'topic'>;
  /** Times a source partition was paused because its unsettled backlog passed the bound. */
  readonly backlogPauses: Counter<'topic'>;
  /** Backlog pauses of a partition held back by subscriptions far behind another reading it. */
  readonly backlogHeldBack: Counter<'topic'>;
  /** Batches routed with an index not confirmed fresh for their records. */
  readonly staleIndexBatches: Counter<'topic'>;
  /** Tasks made for subscriptions a stale index had missed, once it was fresh again. */
  readonly staleIndexRerouted: Counter<'topic'>;
  /** Disabled events an instance died before publishing, published by the sweep. */
  readonly disabledEventsRecovered: Counter;
  /** Times a lane parked what it held, by reason (see DeliveryLane.spilled). */
  readonly laneSpills: Counter<'reason'>;
  /** Busy lanes whose pace window gave no pace (fanout’s event loop saturated; see DeliveryLane). */
  readonly paceUnmeasured: Counter;
  /** Parked tasks of a key claimed as the one before them finished (see DeliveryEngine). */
  readonly chainedClaims: Counter;
  /** Source partitions handed over between instances, from either side (see SourceConsumer). */
  readonly handovers: Counter<'outcome'>;
  /** Records a new owner did not send again because the previous owner had settled them. */
  readonly handoverSkips: Counter<'topic'>;
  readonly backfillHolds: Counter;
  readonly backfillsRequested: Counter;
  readonly replaysRunning: Gauge;
  /** Replays and redrives this instance stopped because another one had taken them over. */
  readonly leasesLost: Counter<'kind'>;
  private budgets: OriginBudgets | undefined;
  private staleRecords: (() => number) | undefined;
  /** Labelled children by `outcome/status_class`: prom-client hashes a label object per call. */
  private readonly attemptCounters = new Map<string, Counter.Internal>();
  private readonly webhookLatency: Histogram.Internal<'transport'>;

  constructor(
    metrics: MetricsRegistry,
    retriesPending: () => Promise<number>,
    /**
     * `HERALD_METRICS_PER_SUBSCRIPTION`: attempts and dead letters also by `subscription` (one
     * series per subscription, so off by default: SPEC §8 keeps labels bounded).
     */
    private readonly perSubscription = false,
  ) {
    const registers = [metrics.registry];
    const bySubscription = perSubscription ? (['subscription'] as const) : [];
    this.deliveries = new Counter({
      name: 'herald_deliveries_total',
      help: 'Webhook delivery attempts by outcome and HTTP status class (none: no response)',
      labelNames: ['outcome', 'status_class', ...bySubscription],
      registers,
    });
    this.attemptDuration = new Histogram({
      name: 'herald_delivery_attempt_duration_seconds',
      help: 'Duration of one webhook attempt, connect to response',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
      registers,
    });
    this.webhookLatency = eventDeliveryLatency(metrics).labels({ transport: 'webhook' });
    this.deadLetters = new Counter({
      name: 'herald_dead_letters_total',
      help: 'Deliveries given up on after their last retry',
      labelNames: [...bySubscription],
      registers,
    });
    this.deadLettersTrimmed = new Counter({
      name: 'herald_dead_letters_trimmed_total',
      help: 'Dead letters dropped from the listed index by retention (reason: cap or age); herald.dlq.delivery keeps them',
      labelNames: ['reason'],
      registers,
    });
    this.backfillHolds = new Counter({
      name: 'herald_delivery_backfill_holds_total',
      help: 'Times a live event waited (parked) for its subscription backfill to end, order per key',
      registers,
    });
    this.backfillsRequested = new Counter({
      name: 'herald_delivery_backfills_requested_total',
      help: 'Backfills fanout asked for itself because subscription-api never did (it stopped or lost Redis in between)',
      registers,
    });
    this.replaysRunning = new Gauge({
      name: 'herald_delivery_replays_running',
      help: 'Replays this instance is running (the others wait in the queue)',
      registers,
    });
    this.leasesLost = new Counter({
      name: 'herald_delivery_leases_lost_total',
      help: 'Replays and redrives (kind) this instance stopped because it stalled past its lease and another instance took them over',
      labelNames: ['kind'],
      registers,
    });
    this.badRecords = new Counter({
      name: 'herald_delivery_bad_records_total',
      help: 'Channel records that are not valid CloudEvents and were skipped',
      labelNames: ['topic'],
      registers,
    });
    this.backlogPauses = new Counter({
      name: 'herald_delivery_backlog_pauses_total',
      help: 'Times a source partition was paused because its read but unsettled records passed HERALD_DELIVERY_MAX_BACKLOG (it is read again once half are settled)',
      labelNames: ['topic'],
      registers,
    });
    this.backlogHeldBack = new Counter({
      name: 'herald_delivery_backlog_held_back_total',
      help: 'Backlog pauses of a source partition held back by subscriptions with a quarter of HERALD_DELIVERY_MAX_BACKLOG or more of its tasks unsettled, more than twice as many as another subscription reading it: their lanes, at their own limits, keep HERALD_DELIVERY_LANE_MEMORY tasks in memory and park the rest for 30 s after',
      labelNames: ['topic'],
      registers,
    });
    this.staleIndexBatches = new Counter({
      name: 'herald_delivery_stale_index_batches_total',
      help: 'Batches routed with a subscription index Redis did not confirm to hold every change made before their records (within 2 s); their records are routed again once it does',
      labelNames: ['topic'],
      registers,
    });
    this.staleIndexRerouted = new Counter({
      name: 'herald_delivery_stale_index_rerouted_total',
      help: 'Delivery tasks made for subscriptions a stale subscription index had missed, when its records were routed again with the index confirmed fresh',
      labelNames: ['topic'],
      registers,
    });
    this.disabledEventsRecovered = new Counter({
      name: 'herald_delivery_disabled_events_recovered_total',
      help: 'herald.subscription.disabled events published by the sweep for disables whose instance stopped between the status write and the publish',
      registers,
    });
    this.laneSpills = new Counter({
      name: 'herald_delivery_lane_spills_total',
      help: 'Times a subscription’s lane parked in Redis what it held, by reason: silent (its endpoint went a second of fanout’s running time without answering while the lane held HERALD_DELIVERY_LANE_MEMORY tasks), pace (the lane held more than it would send in 30 s at its pace) or held_back (more than HERALD_DELIVERY_LANE_MEMORY tasks while it held back a partition the other subscriptions read on)',
      labelNames: ['reason'],
      registers,
    });
    this.paceUnmeasured = new Counter({
      name: 'herald_delivery_lane_pace_unmeasured_total',
      help: 'Pace windows of busy lanes (holding HERALD_DELIVERY_LANE_MEMORY tasks) that gave no pace because fanout’s event loop was busy 90 % of the time: the lanes sent at fanout’s pace, and nothing was parked for it',
      registers,
    });
    this.chainedClaims = new Counter({
      name: 'herald_delivery_parked_chained_total',
      help: 'Parked tasks of an ordering key claimed and sent as soon as the task before them was settled, without waiting for the parked-retry poller',
      registers,
    });
    this.handovers = new Counter({
      name: 'herald_delivery_partition_handovers_total',
      help: 'Source partitions handed over between fanout instances: given (this instance lost one and left what it had settled), taken (it took one over with that), missed (it waited in vain for a running previous owner), failed (it could not leave its hand-over)',
      labelNames: ['outcome'],
      registers,
    });
    this.handoverSkips = new Counter({
      name: 'herald_delivery_handover_skipped_records_total',
      help: 'Records read again after a partition moved whose deliveries, all or some, the previous owner had settled; those are not sent again',
      labelNames: ['topic'],
      registers,
    });
    const staleRecords = () => this.staleRecords?.() ?? 0;
    new Gauge({
      name: 'herald_delivery_stale_index_records',
      help: 'Records routed with a subscription index Redis has not yet confirmed fresh: held uncommitted until they are routed again',
      registers,
      collect() {
        this.set(staleRecords());
      },
    });
    const totals = () => this.budgets?.totals();
    new Gauge({
      name: 'herald_delivery_in_flight',
      help: 'Webhook attempts counting against their origin’s in-flight limit (started, not ended, not yet slow)',
      registers,
      collect() {
        this.set(totals()?.inFlight ?? 0);
      },
    });
    new Gauge({
      name: 'herald_delivery_origin_limit',
      help: 'The sum of the adaptive in-flight limits of the origins webhooks go to',
      registers,
      collect() {
        this.set(totals()?.limits ?? 0);
      },
    });
    new Gauge({
      name: 'herald_delivery_origins',
      help: 'Origins (scheme, host, port) with an in-flight limit: those active subscriptions send to',
      registers,
      collect() {
        this.set(totals()?.origins ?? 0);
      },
    });
    new Gauge({
      name: 'herald_delivery_waiting_lanes',
      help: 'Subscriptions with attempts ready to start that wait for a free slot of their origin’s limit',
      registers,
      collect() {
        this.set(totals()?.waiting ?? 0);
      },
    });
    let slowSeen = 0;
    new Counter({
      name: 'herald_delivery_slow_attempts_total',
      help: 'Webhook attempts still outstanding after HERALD_DELIVERY_SLOW_REQUEST_MS, which then stopped counting against their origin’s in-flight limit',
      registers,
      collect() {
        const slow = totals()?.slow ?? 0;
        if (slow > slowSeen) this.inc(slow - slowSeen);
        slowSeen = slow;
      },
    });
    let rebasesSeen = 0;
    new Counter({
      name: 'herald_delivery_origin_rebases_total',
      help: 'Times an origin’s latency did not fall as its in-flight limit was cut (it got slower whatever the load), so the limit took that latency as unloaded and grew back',
      registers,
      collect() {
        const rebases = totals()?.rebases ?? 0;
        if (rebases > rebasesSeen) this.inc(rebases - rebasesSeen);
        rebasesSeen = rebases;
      },
    });
    new Gauge({
      name: 'herald_retries_pending',
      help: 'Deliveries parked for a later retry, across all instances',
      registers,
      async collect() {
        // While Redis does not answer, the last count read stays: a scrape that failed for it
        // would hide every other metric, the ones telling of the outage among them.
        try {
          this.set(await retriesPending());
        } catch {
          // (the count is kept)
        }
      },
    });
  }

  attempt(
    outcome: DeliveryOutcomeLabel,
    status: number | null,
    durationMs: number,
    subscriptionId: string,
  ): void {
    const statusClass = status === null ? 'none' : `${Math.floor(status / 100)}xx`;
    const key = this.perSubscription
      ? `${outcome}/${statusClass}/${subscriptionId}`
      : `${outcome}/${statusClass}`;
    let counter = this.attemptCounters.get(key);
    if (counter === undefined) {
      counter = this.deliveries.labels(
        this.perSubscription
          ? { outcome, status_class: statusClass, subscription: subscriptionId }
          : { outcome, status_class: statusClass },
      );
      this.attemptCounters.set(key, counter);
    }
    counter.inc();
    this.attemptDuration.observe(durationMs / 1000);
  }

  deadLettered(subscriptionId: string): void {
    if (this.perSubscription) this.deadLetters.inc({ subscription: subscriptionId });
    else this.deadLetters.inc();
  }

  trimmedDeadLetters(trimmed: { cap: number; age: number }): void {
    if (trimmed.cap > 0) this.deadLettersTrimmed.inc({ reason: 'cap' }, trimmed.cap);
    if (trimmed.age > 0) this.deadLettersTrimmed.inc({ reason: 'age' }, trimmed.age);
  }

  /** The origins' send budgets, read when metrics are collected. */
  watchBudgets(budgets: OriginBudgets): void {
    this.budgets = budgets;
  }

  /** Where the count of records waiting to be routed again with a fresh index comes from. */
  watchStaleRecords(count: () => number): void {
    this.staleRecords = count;
  }

  /** A webhook delivered `seconds` after its event time. */
  webhookDelivered(seconds: number): void {
    this.webhookLatency.observe(seconds);
  }
}
