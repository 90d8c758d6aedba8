/** A map key naming one partition of one topic: `topic\0partition` (no topic name holds `\0`). */
export type TopicPartitionKey = `${string}\u0000${number}`;

/** The key of `partition` of `topic` in maps and sets of partitions. */
export function topicPartitionKey(topic: string, partition: number): TopicPartitionKey {
  return `${topic}\u0000${partition}`;
}
