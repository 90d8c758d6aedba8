import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_TOPIC_CONFIG, openStorage } from './broker-storage';
import { readBatchHeader } from './record-batch';
import { FIXTURE_BASE_TIMESTAMP, batchOf, decodeRecords } from './record-batch.fixture';
import {
  DataDirLockedError,
  InvalidPartitionsError,
  InvalidStorageOptionError,
  StorageClosedError,
  TopicExistsError,
  UnknownTopicError,
} from './storage.errors';
import { makeTempDir, storageHarness, type StorageMode } from './storage.fixture';
import type { CommittedOffset } from './storage.types';

function committed(offset: bigint, metadata: string | null = null): CommittedOffset {
  return { offset, leaderEpoch: 0, metadata, commitTimestampMs: 1_700_000_000_000 };
}

describe.each<StorageMode>(['memory', 'file'])('broker storage (%s)', (mode) => {
  const harness = storageHarness(mode);
  afterEach(() => harness.cleanup());

  it('creates topics with a 16-byte id, default config and one log per partition', async () => {
    const storage = await harness.open();
    const topic = storage.createTopic('orders', 3, {
      retentionMs: 60_000,
      extra: { 'cleanup.policy': 'delete' },
    });
    expect(topic.topicId).toHaveLength(16);
    expect(topic.config).toEqual({
      retentionMs: 60_000,
      retentionBytes: -1,
      extra: { 'cleanup.policy': 'delete' },
    });
    expect(storage.createTopic('audit', 1).config).toEqual(DEFAULT_TOPIC_CONFIG);
    expect(
      storage
        .topics()
        .map((t) => t.name)
        .sort(),
    ).toEqual(['audit', 'orders']);
    expect(storage.partition('orders', 2)).toBeDefined();
    expect(storage.partition('orders', 3)).toBeUndefined();
    expect(() => storage.createTopic('orders', 1)).toThrow(TopicExistsError);
    expect(() => storage.createTopic('bad', 0)).toThrow(InvalidPartitionsError);
  });

  it('grows a topic, never shrinks it', async () => {
    const storage = await harness.open();
    storage.createTopic('orders', 1);
    await storage.partition('orders', 0)!.append(batchOf(2));
    expect(storage.addPartitions('orders', 3).partitions).toBe(3);
    expect(storage.topic('orders')!.partitions).toBe(3);
    expect(storage.partition('orders', 0)!.nextOffset()).toBe(2n);
    expect(storage.partition('orders', 2)!.nextOffset()).toBe(0n);
    expect(() => storage.addPartitions('orders', 2)).toThrow(InvalidPartitionsError);
    expect(() => storage.addPartitions('orders', 3)).toThrow(InvalidPartitionsError);
    expect(() => storage.addPartitions('missing', 3)).toThrow(UnknownTopicError);
  });

  it('deletes a topic with its data and its committed offsets; the name can be reused', async () => {
    const storage = await harness.open();
    const first = storage.createTopic('orders', 2);
    const log = storage.partition('orders', 0)!;
    await log.append(batchOf(5));
    storage.commitOffsets('g', [
      { topic: 'orders', partition: 0, value: committed(5n) },
      { topic: 'other', partition: 0, value: committed(1n) },
    ]);
    storage.deleteTopic('orders');
    expect(storage.topic('orders')).toBeUndefined();
    expect(storage.partition('orders', 0)).toBeUndefined();
    await expect(log.append(batchOf(1))).rejects.toBeInstanceOf(StorageClosedError);
    expect(storage.committedOffset('g', 'orders', 0)).toBeUndefined();
    expect(storage.committedOffset('g', 'other', 0)?.offset).toBe(1n);
    expect(() => storage.deleteTopic('orders')).toThrow(UnknownTopicError);
    if (mode === 'file') {
      expect(fs.existsSync(path.join(harness.dir(), 'topics', first.topicId.toString('hex')))).toBe(
        false,
      );
    }
    const second = storage.createTopic('orders', 1);
    expect(second.topicId.equals(first.topicId)).toBe(false);
    expect(storage.partition('orders', 0)!.nextOffset()).toBe(0n);
  });

  it('keeps committed offsets per group and deletes a group', async () => {
    const storage = await harness.open();
    storage.commitOffsets('g1', [
      { topic: 'a', partition: 0, value: committed(10n, 'meta') },
      { topic: 'a', partition: 1, value: committed(20n) },
    ]);
    storage.commitOffsets('g1', [{ topic: 'a', partition: 0, value: committed(11n) }]);
    storage.commitOffsets('g2', [{ topic: 'b', partition: 0, value: committed(5n) }]);
    expect(storage.committedOffset('g1', 'a', 0)).toEqual(committed(11n));
    expect(storage.committedOffset('g1', 'a', 2)).toBeUndefined();
    expect(storage.committedGroups().sort()).toEqual(['g1', 'g2']);
    expect(storage.committedOffsetsOf('g1')).toHaveLength(2);
    storage.deleteGroupOffsets('g1');
    expect(storage.committedGroups()).toEqual(['g2']);
    expect(storage.committedOffset('g1', 'a', 1)).toBeUndefined();
  });

  it('hands out distinct producer ids', async () => {
    const storage = await harness.open();
    const ids = new Set(Array.from({ length: 2500 }, () => storage.allocateProducerId()));
    expect(ids.size).toBe(2500);
  });

  it('applies each topic’s own retention across all partitions', async () => {
    const storage = await harness.open({ segmentBytes: 512 });
    storage.createTopic('short', 2, { retentionBytes: 600 });
    storage.createTopic('long', 1);
    for (let i = 0; i < 30; i++) {
      await storage.partition('short', i % 2)!.append(batchOf(3));
      await storage.partition('long', 0)!.append(batchOf(3));
    }
    // Records are stamped FIXTURE_BASE_TIMESTAMP: a second later, only retention.bytes applies.
    expect(storage.applyRetention(FIXTURE_BASE_TIMESTAMP + 1000)).toBeGreaterThan(0);
    expect(storage.partition('short', 0)!.logStartOffset()).toBeGreaterThan(0n);
    expect(storage.partition('short', 1)!.logStartOffset()).toBeGreaterThan(0n);
    expect(storage.partition('long', 0)!.logStartOffset()).toBe(0n);
  });

  it('refuses work after close', async () => {
    const storage = await harness.open();
    await storage.close();
    expect(() => storage.createTopic('x', 1)).toThrow(StorageClosedError);
  });
});

describe('broker storage persistence', () => {
  const harness = storageHarness('file', { segmentBytes: 1024 });
  afterEach(() => harness.cleanup());

  it('keeps topics, partitions, config and data across a restart', async () => {
    const storage = await harness.open();
    const created = storage.createTopic('orders', 2, {
      retentionBytes: 1 << 20,
      extra: { 'segment.ms': '1000' },
    });
    storage.addPartitions('orders', 3);
    for (let i = 0; i < 20; i++)
      await storage.partition('orders', i % 3)!.append(batchOf(2, `r${i}-`));
    storage.createTopic('gone', 1);
    storage.deleteTopic('gone');

    const reopened = await harness.reopen();
    expect(reopened.topics()).toEqual([{ ...created, partitions: 3 }]);
    const log = reopened.partition('orders', 1)!;
    expect(log.nextOffset()).toBe(14n);
    expect(decodeRecords(log.read(0n, 1 << 20))[0]!.value).toBe('r1-0');
  });

  it('keeps committed offsets and group deletions across a restart, compacting the file', async () => {
    const storage = await harness.open();
    for (let i = 0; i < 3000; i++) {
      storage.commitOffsets('busy', [
        { topic: 't', partition: i % 4, value: committed(BigInt(i)) },
      ]);
    }
    storage.commitOffsets('dropped', [{ topic: 't', partition: 0, value: committed(1n) }]);
    storage.deleteGroupOffsets('dropped');
    const reopened = await harness.reopen();
    expect(reopened.committedGroups()).toEqual(['busy']);
    expect(reopened.committedOffset('busy', 't', 3)?.offset).toBe(2999n);
    expect(reopened.committedOffset('busy', 't', 0)?.offset).toBe(2996n);
    const file = path.join(harness.dir(), 'committed-offsets.log');
    expect(fs.readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(4);
  });

  it('ignores a commit line torn by a crash', async () => {
    const storage = await harness.open();
    storage.commitOffsets('g', [{ topic: 't', partition: 0, value: committed(7n) }]);
    await storage.close();
    fs.appendFileSync(
      path.join(harness.dir(), 'committed-offsets.log'),
      '{"g":"g","t":"t","p":0,"o":"9',
    );
    const reopened = await harness.reopen();
    expect(reopened.committedOffset('g', 't', 0)?.offset).toBe(7n);
    reopened.commitOffsets('g', [{ topic: 't', partition: 0, value: committed(8n) }]);
    expect((await harness.reopen()).committedOffset('g', 't', 0)?.offset).toBe(8n);
  });

  it('never hands out a producer id twice across restarts', async () => {
    const seen = new Set<bigint>();
    for (let round = 0; round < 3; round++) {
      const storage = round === 0 ? await harness.open() : await harness.reopen();
      for (let i = 0; i < 1500; i++) {
        const id = storage.allocateProducerId();
        expect(seen.has(id)).toBe(false);
        seen.add(id);
      }
    }
  });

  it('removes folders the catalog does not know (an interrupted delete)', async () => {
    const storage = await harness.open();
    storage.createTopic('kept', 1);
    const orphan = path.join(harness.dir(), 'topics', 'ab'.repeat(16), '0');
    fs.mkdirSync(orphan, { recursive: true });
    fs.writeFileSync(path.join(orphan, '00000000000000000000.log'), 'x');
    await harness.reopen();
    expect(fs.existsSync(path.dirname(orphan))).toBe(false);
  });

  it.each([
    { mode: 'always' as const },
    { mode: 'interval' as const, intervalMs: 5 },
    { mode: 'never' as const },
  ])('acknowledges appends and commits under fsync policy %j', async (fsync) => {
    const errors: Error[] = [];
    const storage = await harness.open({ fsync, onBackgroundError: (error) => errors.push(error) });
    storage.createTopic('t', 1);
    const appends = Array.from({ length: 20 }, () => storage.partition('t', 0)!.append(batchOf(2)));
    const results = await Promise.all(appends);
    expect(results.map((r) => r.baseOffset)).toEqual(
      Array.from({ length: 20 }, (_, i) => BigInt(2 * i)),
    );
    storage.commitOffsets('g', [{ topic: 't', partition: 0, value: committed(40n) }]);
    const reopened = await harness.reopen({ fsync });
    expect(reopened.partition('t', 0)!.nextOffset()).toBe(40n);
    expect(reopened.committedOffset('g', 't', 0)?.offset).toBe(40n);
    expect(errors).toEqual([]);
  });
});

describe('openStorage', () => {
  it('refuses a data folder another open storage holds, and takes over a dead owner’s lock', async () => {
    const temp = makeTempDir('lock');
    try {
      const first = await openStorage({ dataDir: temp.dir });
      await expect(openStorage({ dataDir: temp.dir })).rejects.toBeInstanceOf(DataDirLockedError);
      await first.close();
      const exited = spawnSync(process.execPath, ['-e', '']);
      fs.writeFileSync(path.join(temp.dir, '.lock'), String(exited.pid));
      const second = await openStorage({ dataDir: temp.dir });
      await second.close();
    } finally {
      temp.remove();
    }
  });

  it('rejects option values it cannot honour', async () => {
    await expect(openStorage({ segmentBytes: 0 })).rejects.toBeInstanceOf(
      InvalidStorageOptionError,
    );
    await expect(openStorage({ segmentBytes: 2 ** 31 })).rejects.toBeInstanceOf(
      InvalidStorageOptionError,
    );
    await expect(openStorage({ indexIntervalBytes: -1 })).rejects.toBeInstanceOf(
      InvalidStorageOptionError,
    );
    await expect(openStorage({ leaderEpoch: 1.5 })).rejects.toBeInstanceOf(
      InvalidStorageOptionError,
    );
  });

  it('stamps the configured leader epoch into appended batches', async () => {
    const storage = await openStorage({ leaderEpoch: 7 });
    storage.createTopic('t', 1);
    await storage.partition('t', 0)!.append(Buffer.concat([batchOf(1), batchOf(2)]));
    const data = storage.partition('t', 0)!.read(0n, 1 << 20);
    expect(readBatchHeader(data, 0).partitionLeaderEpoch).toBe(7);
    expect(readBatchHeader(data, data.readInt32BE(8) + 12).partitionLeaderEpoch).toBe(7);
    await storage.close();
  });

  it('creates a missing data folder', async () => {
    const temp = makeTempDir('create');
    try {
      const dataDir = path.join(temp.dir, 'nested', 'data');
      const storage = await openStorage({ dataDir });
      storage.createTopic('t', 1);
      await storage.close();
      expect(fs.existsSync(path.join(dataDir, 'topics.json'))).toBe(true);
    } finally {
      temp.remove();
    }
  });
});
