import { silentLogger } from '../broker.logger';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import { openStorage } from '../storage/broker-storage';
import type { BrokerStorage } from '../storage/storage.types';
import { GroupCoordinator, type JoinParams } from './group-coordinator';

let storage: BrokerStorage;
let groups: GroupCoordinator;

beforeEach(async () => {
  jest.useFakeTimers();
  storage = await openStorage({});
  storage.createTopic('t', 2);
  groups = new GroupCoordinator(
    storage,
    { minSessionTimeoutMs: 1000, maxSessionTimeoutMs: 60_000, initialRebalanceDelayMs: 0 },
    silentLogger,
  );
});

afterEach(async () => {
  groups.close();
  jest.useRealTimers();
  await storage.close();
});

function joinParams(memberId: string, clientId = 'c'): JoinParams {
  return {
    groupId: 'g',
    memberId,
    groupInstanceId: null,
    clientId,
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: 5000,
    rebalanceTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from(clientId) }],
    requireKnownMemberId: true,
  };
}

/** MEMBER_ID_REQUIRED first, then the real join with the id handed out. */
async function joinNew(clientId: string) {
  const first = await groups.join(joinParams('', clientId));
  expect(first.errorCode).toBe(KafkaErrorCode.MEMBER_ID_REQUIRED);
  return groups.join(joinParams(first.memberId, clientId));
}

describe('GroupCoordinator', () => {
  it('forms a generation, hands out the leader assignment and accepts commits from it', async () => {
    const a = await joinNew('a');
    expect(a).toMatchObject({
      errorCode: 0,
      generationId: 1,
      leaderId: a.memberId,
      protocolName: 'range',
    });
    expect(a.members).toHaveLength(1);
    const sync = await groups.sync({
      groupId: 'g',
      memberId: a.memberId,
      generationId: 1,
      assignments: [{ memberId: a.memberId, assignment: Buffer.from('all') }],
    });
    expect(sync).toMatchObject({ errorCode: 0, assignment: Buffer.from('all') });
    expect(groups.describe('g').state).toBe('Stable');
    const offsets = [
      {
        topic: 't',
        partition: 0,
        value: { offset: 5n, leaderEpoch: -1, metadata: null, commitTimestampMs: 0 },
      },
    ];
    expect(
      groups.commitOffsets({ groupId: 'g', memberId: a.memberId, generationId: 1, offsets }),
    ).toBe(0);
    expect(
      groups.commitOffsets({ groupId: 'g', memberId: a.memberId, generationId: 0, offsets }),
    ).toBe(KafkaErrorCode.ILLEGAL_GENERATION);
    expect(groups.commitOffsets({ groupId: 'g', memberId: '', generationId: -1, offsets })).toBe(
      KafkaErrorCode.ILLEGAL_GENERATION,
    );
    expect(storage.committedOffset('g', 't', 0)?.offset).toBe(5n);
  });

  it('rebalances when a second member joins: the first learns it from its heartbeat', async () => {
    const a = await joinNew('a');
    await groups.sync({ groupId: 'g', memberId: a.memberId, generationId: 1, assignments: [] });
    const bJoining = joinNew('b');
    await Promise.resolve();
    expect(groups.heartbeat('g', a.memberId, 1)).toBe(KafkaErrorCode.REBALANCE_IN_PROGRESS);
    const aAgain = await groups.join(joinParams(a.memberId, 'a'));
    const b = await bJoining;
    expect(aAgain.generationId).toBe(2);
    expect(b.generationId).toBe(2);
    expect(aAgain.members.map((m) => m.memberId).sort()).toEqual([a.memberId, b.memberId].sort());
    expect(b.members).toEqual([]);
    const bSync = groups.sync({
      groupId: 'g',
      memberId: b.memberId,
      generationId: 2,
      assignments: [],
    });
    await groups.sync({
      groupId: 'g',
      memberId: a.memberId,
      generationId: 2,
      assignments: [{ memberId: b.memberId, assignment: Buffer.from('p1') }],
    });
    expect((await bSync).assignment).toEqual(Buffer.from('p1'));
  });

  it('drops a member whose session runs out and rebalances the rest', async () => {
    const a = await joinNew('a');
    await groups.sync({ groupId: 'g', memberId: a.memberId, generationId: 1, assignments: [] });
    jest.advanceTimersByTime(5001);
    expect(groups.describe('g').members).toHaveLength(0);
    expect(groups.heartbeat('g', a.memberId, 1)).toBe(KafkaErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('removes members that leave and refuses to delete a group in use', async () => {
    const a = await joinNew('a');
    expect(groups.delete('g')).toBe(KafkaErrorCode.NON_EMPTY_GROUP);
    expect(groups.leave('g', [a.memberId, 'ghost'])).toEqual([
      { memberId: a.memberId, errorCode: 0 },
      { memberId: 'ghost', errorCode: KafkaErrorCode.UNKNOWN_MEMBER_ID },
    ]);
    expect(groups.delete('g')).toBe(0);
    expect(groups.delete('g')).toBe(KafkaErrorCode.GROUP_ID_NOT_FOUND);
  });

  it('refuses session timeouts outside the configured bounds', async () => {
    expect((await groups.join({ ...joinParams(''), sessionTimeoutMs: 10 })).errorCode).toBe(
      KafkaErrorCode.INVALID_SESSION_TIMEOUT,
    );
  });
});
