/** A map key naming one partition of one topic: `topic\0partition` (no topic name holds `\0`). */
export type TopicPartitionKey = `${string}\u0000${number}`;

/** The key of `partition` of `topic` in maps and sets of partitions. */
export function topicPartitionKey(topic: string, partition: number): TopicPartitionKey {
  return `${topic}\u0000${partition}`;
}

/** The topic and partition a `topicPartitionKey` names. */
export function splitTopicPartitionKey(key: string): { topic: string; partition: number } {
  const at = key.lastIndexOf('\u0000');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}
