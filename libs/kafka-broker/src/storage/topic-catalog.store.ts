// The topics the broker holds, persisted as one JSON file replaced atomically on every change.
// Topic changes are rare (admin requests), so rewriting the whole file is the simple right answer.
import * as path from 'node:path';
import { readFileIfExists, writeFileAtomic } from './atomic-file';
import { CorruptStateError } from './storage.errors';
import type { TopicConfig, TopicMetadata } from './storage.types';

const FILE_NAME = 'topics.json';

interface StoredTopic {
  name: string;
  topicId: string;
  partitions: number;
  config: TopicConfig;
}

export class TopicCatalogStore {
  private readonly file: string | null;

  /** `dataDir` undefined keeps the catalog in memory only. */
  constructor(dataDir: string | undefined) {
    this.file = dataDir === undefined ? null : path.join(dataDir, FILE_NAME);
  }

  load(): TopicMetadata[] {
    if (this.file === null) return [];
    const data = readFileIfExists(this.file);
    if (data === null) return [];
    try {
      const parsed = JSON.parse(data.toString('utf8')) as { topics: StoredTopic[] };
      return parsed.topics.map((topic) => ({
        name: topic.name,
        topicId: Buffer.from(topic.topicId, 'hex'),
        partitions: topic.partitions,
        config: topic.config,
      }));
    } catch (error) {
      throw new CorruptStateError(this.file, { cause: error });
    }
  }

  save(topics: Iterable<TopicMetadata>): void {
    if (this.file === null) return;
    const stored: StoredTopic[] = [...topics].map((topic) => ({
      name: topic.name,
      topicId: topic.topicId.toString('hex'),
      partitions: topic.partitions,
      config: topic.config,
    }));
    writeFileAtomic(this.file, JSON.stringify({ version: 1, topics: stored }, null, 2), true);
  }
}
