import { randomUUID } from 'node:crypto';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import type { BrokerLogger } from '../broker.logger';
import type { BrokerStorage, CommittedOffset } from '../storage/storage.types';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinParams {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  /** JoinGroup v4+: a member without an id is given one and asked to join again with it. */
  requireKnownMemberId: boolean;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string;
  memberId: string;
  /** Filled for the leader only: every member with its metadata for the chosen protocol. */
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  protocolType: string;
  protocolName: string;
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    metadata: Buffer;
    assignment: Buffer;
  }[];
}

interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  assignment: Buffer;
  joinWaiter: ((result: JoinResult) => void) | undefined;
  syncWaiter: ((result: SyncResult) => void) | undefined;
  sessionTimer: NodeJS.Timeout | undefined;
}

interface Group {
  groupId: string;
  state: GroupState;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string | null;
  members: Map<string, Member>;
  /** Ids handed out with MEMBER_ID_REQUIRED, not yet used to join; value = expiry timer. */
  pendingMembers: Map<string, NodeJS.Timeout>;
  rebalanceTimer: NodeJS.Timeout | undefined;
  /** True while a rebalance from Empty waits out the initial delay; only its timer completes it. */
  inInitialDelay: boolean;
}

const EMPTY = Buffer.alloc(0);

export interface GroupCoordinatorOptions {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  initialRebalanceDelayMs: number;
}

/**
 * Kafka's classic consumer-group protocol for one broker: members join, the group rebalances
 * (PreparingRebalance → CompletingRebalance → Stable) under a new generation whenever membership
 * changes, the leader's assignment is handed out in SyncGroup, and members that stop
 * heartbeating are dropped after their session timeout. Committed offsets go to storage.
 */
export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private closed = false;

  constructor(
    private readonly storage: BrokerStorage,
    private readonly options: GroupCoordinatorOptions,
    private readonly log: BrokerLogger,
  ) {}

  join(params: JoinParams): Promise<JoinResult> {
    const fail = (errorCode: number, memberId = params.memberId): Promise<JoinResult> =>
      Promise.resolve(joinError(errorCode, memberId));
    if (this.closed) return fail(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (params.groupId === '') return fail(KafkaErrorCode.INVALID_GROUP_ID);
    if (
      params.sessionTimeoutMs < this.options.minSessionTimeoutMs ||
      params.sessionTimeoutMs > this.options.maxSessionTimeoutMs
    ) {
      return fail(KafkaErrorCode.INVALID_SESSION_TIMEOUT);
    }
    if (params.protocolType === '' || params.protocols.length === 0)
      return fail(KafkaErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const group = this.groupFor(params.groupId);
    if (group.members.size > 0) {
      const compatible =
        group.protocolType === params.protocolType &&
        params.protocols.some((p) =>
          [...group.members.values()].every((m) => m.protocols.some((q) => q.name === p.name)),
        );
      if (!compatible) return fail(KafkaErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }

    let member: Member | undefined;
    if (params.memberId === '') {
      const memberId = `${params.clientId || 'member'}-${randomUUID()}`;
      if (params.requireKnownMemberId) {
        // The member must come back with this id; until it does (or its session runs out) a
        // rebalance waits for it too.
        const expiry = setTimeout(() => {
          group.pendingMembers.delete(memberId);
          this.maybeCompleteJoin(group);
        }, params.sessionTimeoutMs);
        expiry.unref();
        group.pendingMembers.set(memberId, expiry);
        return fail(KafkaErrorCode.MEMBER_ID_REQUIRED, memberId);
      }
      member = this.addMember(group, memberId, params);
    } else {
      member = group.members.get(params.memberId);
      const pending = group.pendingMembers.get(params.memberId);
      if (!member && pending) {
        clearTimeout(pending);
        group.pendingMembers.delete(params.memberId);
        member = this.addMember(group, params.memberId, params);
      } else if (!member) {
        return fail(KafkaErrorCode.UNKNOWN_MEMBER_ID);
      } else {
        const unchanged = sameProtocols(member.protocols, params.protocols);
        member.protocols = params.protocols;
        member.sessionTimeoutMs = params.sessionTimeoutMs;
        member.rebalanceTimeoutMs = params.rebalanceTimeoutMs;
        member.clientHost = params.clientHost;
        // A follower re-joining a settled group with nothing changed just learns the current
        // generation again; anything else is a reason to rebalance.
        if (
          unchanged &&
          group.leaderId !== member.memberId &&
          (group.state === 'Stable' || group.state === 'CompletingRebalance')
        ) {
          this.touch(group, member);
          return Promise.resolve(this.joinResultFor(group, member));
        }
      }
    }

    const joined = member;
    return new Promise<JoinResult>((resolve) => {
      if (joined.joinWaiter)
        joined.joinWaiter(joinError(KafkaErrorCode.UNKNOWN_MEMBER_ID, joined.memberId));
      joined.joinWaiter = resolve;
      this.touch(group, joined);
      if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
      else this.prepareRebalance(group, `member ${joined.memberId} joined`);
    });
  }

  sync(params: {
    groupId: string;
    memberId: string;
    generationId: number;
    assignments: { memberId: string; assignment: Buffer }[];
  }): Promise<SyncResult> {
    const group = this.groups.get(params.groupId);
    const fail = (errorCode: number): Promise<SyncResult> =>
      Promise.resolve({
        errorCode,
        protocolType: group?.protocolType ?? null,
        protocolName: group?.protocolName ?? null,
        assignment: EMPTY,
      });
    if (this.closed) return fail(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
    const member = group?.members.get(params.memberId);
    if (!group || !member) return fail(KafkaErrorCode.UNKNOWN_MEMBER_ID);
    if (params.generationId !== group.generationId) return fail(KafkaErrorCode.ILLEGAL_GENERATION);
    if (group.state === 'PreparingRebalance') return fail(KafkaErrorCode.REBALANCE_IN_PROGRESS);
    this.touch(group, member);
    if (group.state === 'Stable') {
      return Promise.resolve({
        errorCode: 0,
        protocolType: group.protocolType,
        protocolName: group.protocolName,
        assignment: member.assignment,
      });
    }
    return new Promise<SyncResult>((resolve) => {
      member.syncWaiter = resolve;
      if (group.leaderId !== member.memberId) return;
      const byMember = new Map(params.assignments.map((a) => [a.memberId, a.assignment]));
      for (const m of group.members.values()) m.assignment = byMember.get(m.memberId) ?? EMPTY;
      group.state = 'Stable';
      this.log.info('group stable', {
        groupId: group.groupId,
        generationId: group.generationId,
        members: group.members.size,
      });
      for (const m of group.members.values()) {
        const waiter = m.syncWaiter;
        m.syncWaiter = undefined;
        waiter?.({
          errorCode: 0,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          assignment: m.assignment,
        });
      }
    });
  }

  heartbeat(groupId: string, memberId: string, generationId: number): number {
    if (this.closed) return KafkaErrorCode.COORDINATOR_NOT_AVAILABLE;
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return KafkaErrorCode.UNKNOWN_MEMBER_ID;
    this.touch(group, member);
    if (generationId !== group.generationId) return KafkaErrorCode.ILLEGAL_GENERATION;
    if (group.state === 'PreparingRebalance') return KafkaErrorCode.REBALANCE_IN_PROGRESS;
    return KafkaErrorCode.NONE;
  }

  /** Removes members; returns an error code per member id. */
  leave(groupId: string, memberIds: string[]): { memberId: string; errorCode: number }[] {
    const group = this.groups.get(groupId);
    const results = memberIds.map((memberId) => {
      const member = group?.members.get(memberId);
      if (!group || !member) return { memberId, errorCode: KafkaErrorCode.UNKNOWN_MEMBER_ID };
      this.removeMember(group, member, 'left the group');
      return { memberId, errorCode: KafkaErrorCode.NONE };
    });
    return results;
  }

  commitOffsets(params: {
    groupId: string;
    memberId: string;
    generationId: number;
    offsets: { topic: string; partition: number; value: CommittedOffset }[];
  }): number {
    if (this.closed) return KafkaErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (params.groupId === '') return KafkaErrorCode.INVALID_GROUP_ID;
    const group = this.groups.get(params.groupId);
    const simple = params.generationId < 0 && params.memberId === '';
    if (simple) {
      // Commits from outside any generation (admin tools, manual consumers) only go to groups
      // nobody is consuming in.
      if (group && group.members.size > 0) return KafkaErrorCode.ILLEGAL_GENERATION;
    } else {
      const member = group?.members.get(params.memberId);
      if (!group || !member) return KafkaErrorCode.UNKNOWN_MEMBER_ID;
      if (params.generationId !== group.generationId) return KafkaErrorCode.ILLEGAL_GENERATION;
      if (group.state === 'CompletingRebalance') return KafkaErrorCode.REBALANCE_IN_PROGRESS;
      this.touch(group, member);
    }
    this.storage.commitOffsets(params.groupId, params.offsets);
    return KafkaErrorCode.NONE;
  }

  committedOffset(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.storage.committedOffset(groupId, topic, partition);
  }

  committedOffsetsOf(
    groupId: string,
  ): { topic: string; partition: number; value: CommittedOffset }[] {
    return this.storage.committedOffsetsOf(groupId);
  }

  describe(groupId: string): GroupDescription {
    const group = this.groups.get(groupId);
    if (!group || (group.members.size === 0 && group.state !== 'Empty')) {
      const known = this.storage.committedGroups().includes(groupId);
      return {
        groupId,
        state: known ? 'Empty' : 'Dead',
        protocolType: group?.protocolType ?? '',
        protocolName: '',
        members: [],
      };
    }
    const stable = group.state === 'Stable';
    return {
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolName: stable ? (group.protocolName ?? '') : '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable
          ? (m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? EMPTY)
          : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  list(): { groupId: string; protocolType: string; state: GroupState }[] {
    const seen = new Map<string, { groupId: string; protocolType: string; state: GroupState }>();
    for (const groupId of this.storage.committedGroups())
      seen.set(groupId, { groupId, protocolType: 'consumer', state: 'Empty' });
    for (const group of this.groups.values()) {
      if (group.members.size === 0 && !seen.has(group.groupId)) continue;
      seen.set(group.groupId, {
        groupId: group.groupId,
        protocolType: group.protocolType ?? 'consumer',
        state: group.members.size === 0 ? 'Empty' : group.state,
      });
    }
    return [...seen.values()];
  }

  delete(groupId: string): number {
    const group = this.groups.get(groupId);
    if (group && group.members.size > 0) return KafkaErrorCode.NON_EMPTY_GROUP;
    const known = this.storage.committedGroups().includes(groupId);
    if (!group && !known) return KafkaErrorCode.GROUP_ID_NOT_FOUND;
    if (group) this.dropGroup(group);
    this.storage.deleteGroupOffsets(groupId);
    return KafkaErrorCode.NONE;
  }

  /** Answers every waiting member with COORDINATOR_NOT_AVAILABLE and stops all timers. */
  close(): void {
    this.closed = true;
    for (const group of this.groups.values()) {
      for (const member of group.members.values()) {
        clearTimeout(member.sessionTimer);
        member.joinWaiter?.(joinError(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE, member.memberId));
        member.syncWaiter?.({
          errorCode: KafkaErrorCode.COORDINATOR_NOT_AVAILABLE,
          protocolType: null,
          protocolName: null,
          assignment: EMPTY,
        });
      }
      this.dropGroup(group);
    }
    this.groups.clear();
  }

  private groupFor(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (!group || group.state === 'Dead') {
      group = {
        groupId,
        state: 'Empty',
        generationId: 0,
        protocolType: null,
        protocolName: null,
        leaderId: null,
        members: new Map(),
        pendingMembers: new Map(),
        rebalanceTimer: undefined,
        inInitialDelay: false,
      };
      this.groups.set(groupId, group);
    }
    return group;
  }

  private dropGroup(group: Group): void {
    clearTimeout(group.rebalanceTimer);
    for (const timer of group.pendingMembers.values()) clearTimeout(timer);
    for (const member of group.members.values()) clearTimeout(member.sessionTimer);
    group.state = 'Dead';
    this.groups.delete(group.groupId);
  }

  private addMember(group: Group, memberId: string, params: JoinParams): Member {
    const member: Member = {
      memberId,
      groupInstanceId: params.groupInstanceId,
      clientId: params.clientId,
      clientHost: params.clientHost,
      sessionTimeoutMs: params.sessionTimeoutMs,
      rebalanceTimeoutMs: params.rebalanceTimeoutMs,
      protocolType: params.protocolType,
      protocols: params.protocols,
      assignment: EMPTY,
      joinWaiter: undefined,
      syncWaiter: undefined,
      sessionTimer: undefined,
    };
    group.members.set(memberId, member);
    if (group.members.size === 1) group.protocolType = params.protocolType;
    return member;
  }

  /** Restarts the member's session clock. */
  private touch(group: Group, member: Member): void {
    clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(
      () => this.sessionExpired(group, member),
      member.sessionTimeoutMs,
    );
    member.sessionTimer.unref();
  }

  private sessionExpired(group: Group, member: Member): void {
    if (group.members.get(member.memberId) !== member) return;
    // A member parked in JoinGroup or SyncGroup is waiting on us, not gone.
    if (member.joinWaiter || member.syncWaiter) {
      this.touch(group, member);
      return;
    }
    this.removeMember(group, member, 'session timed out');
  }

  private removeMember(group: Group, member: Member, reason: string): void {
    clearTimeout(member.sessionTimer);
    group.members.delete(member.memberId);
    member.joinWaiter?.(joinError(KafkaErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    member.syncWaiter?.({
      errorCode: KafkaErrorCode.UNKNOWN_MEMBER_ID,
      protocolType: null,
      protocolName: null,
      assignment: EMPTY,
    });
    member.joinWaiter = undefined;
    member.syncWaiter = undefined;
    this.log.info('group member removed', {
      groupId: group.groupId,
      memberId: member.memberId,
      reason,
    });
    if (group.leaderId === member.memberId) group.leaderId = null;
    if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
    else if (group.state === 'Stable' || group.state === 'CompletingRebalance')
      this.prepareRebalance(group, reason);
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === 'CompletingRebalance') {
      for (const m of group.members.values()) {
        const waiter = m.syncWaiter;
        m.syncWaiter = undefined;
        waiter?.({
          errorCode: KafkaErrorCode.REBALANCE_IN_PROGRESS,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          assignment: EMPTY,
        });
      }
    }
    const wasEmpty = group.state === 'Empty';
    group.state = 'PreparingRebalance';
    this.log.info('group rebalancing', {
      groupId: group.groupId,
      generationId: group.generationId,
      reason,
    });
    const rebalanceTimeoutMs = Math.max(
      0,
      ...[...group.members.values()].map((m) => m.rebalanceTimeoutMs),
    );
    clearTimeout(group.rebalanceTimer);
    // A fresh group waits a moment for the other members starting alongside the first one, so
    // they land in one generation instead of a rebalance each (group.initial.rebalance.delay.ms).
    group.inInitialDelay = wasEmpty && this.options.initialRebalanceDelayMs > 0;
    const delay = group.inInitialDelay ? this.options.initialRebalanceDelayMs : rebalanceTimeoutMs;
    group.rebalanceTimer = setTimeout(() => this.completeJoin(group), delay);
    group.rebalanceTimer.unref();
    this.maybeCompleteJoin(group);
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || group.inInitialDelay) return;
    if (group.pendingMembers.size > 0) return;
    for (const member of group.members.values()) if (!member.joinWaiter) return;
    this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = undefined;
    group.inInitialDelay = false;
    for (const member of [...group.members.values()]) {
      if (!member.joinWaiter) {
        group.members.delete(member.memberId);
        clearTimeout(member.sessionTimer);
        this.log.info('group member removed', {
          groupId: group.groupId,
          memberId: member.memberId,
          reason: 'did not rejoin in time',
        });
      }
    }
    group.generationId += 1;
    if (group.members.size === 0) {
      group.state = 'Empty';
      group.leaderId = null;
      group.protocolName = null;
      return;
    }
    const members = [...group.members.values()];
    group.protocolName = chooseProtocol(members);
    if (group.leaderId === null || !group.members.has(group.leaderId))
      group.leaderId = (members[0] as Member).memberId;
    group.state = 'CompletingRebalance';
    this.log.info('group joined', {
      groupId: group.groupId,
      generationId: group.generationId,
      members: members.length,
      protocol: group.protocolName,
    });
    for (const member of members) {
      const waiter = member.joinWaiter;
      member.joinWaiter = undefined;
      this.touch(group, member);
      waiter?.(this.joinResultFor(group, member));
    }
  }

  private joinResultFor(group: Group, member: Member): JoinResult {
    const isLeader = group.leaderId === member.memberId;
    return {
      errorCode: 0,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leaderId: group.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader
        ? [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? EMPTY,
          }))
        : [],
    };
  }
}

function joinError(errorCode: number, memberId: string): JoinResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leaderId: '',
    memberId,
    members: [],
  };
}

function sameProtocols(a: GroupProtocol[], b: GroupProtocol[]): boolean {
  return (
    a.length === b.length &&
    a.every((p, i) => p.name === b[i]?.name && p.metadata.equals(b[i]?.metadata ?? EMPTY))
  );
}

/** The protocol most members list, ties broken by the members' own order of preference. */
function chooseProtocol(members: Member[]): string {
  const candidates = (members[0] as Member).protocols
    .map((p) => p.name)
    .filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
  const votes = new Map<string, number>();
  for (const member of members) {
    const preferred = member.protocols.find((p) => candidates.includes(p.name));
    if (preferred) votes.set(preferred.name, (votes.get(preferred.name) ?? 0) + 1);
  }
  let best = candidates[0] ?? '';
  for (const name of candidates) if ((votes.get(name) ?? 0) > (votes.get(best) ?? 0)) best = name;
  return best;
}
