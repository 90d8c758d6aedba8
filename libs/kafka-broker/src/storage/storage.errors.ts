// Errors raised by the broker's storage. The protocol layer maps `code` to a Kafka error code; no
// storage error ever reaches a client as a dropped connection.
import { HeraldError } from '@herald/errors';

export const STORAGE_ERROR_CODES = {
  corruptRecord: 'broker_storage.corrupt_record',
  topicExists: 'broker_storage.topic_exists',
  unknownTopic: 'broker_storage.unknown_topic',
  invalidPartitions: 'broker_storage.invalid_partitions',
  closed: 'broker_storage.closed',
  corruptState: 'broker_storage.corrupt_state',
  dataDirLocked: 'broker_storage.data_dir_locked',
  invalidOption: 'broker_storage.invalid_option',
} as const;

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[keyof typeof STORAGE_ERROR_CODES];

/** Why a batch was refused; the protocol layer answers CORRUPT_MESSAGE or INVALID_RECORD from it. */
export type CorruptRecordReason = 'framing' | 'magic' | 'crc' | 'record-count';

export class CorruptRecordError extends HeraldError {
  constructor(
    readonly reason: CorruptRecordReason,
    message: string,
    /** Byte position of the offending batch within the buffer that was checked. */
    readonly position: number,
  ) {
    super(STORAGE_ERROR_CODES.corruptRecord, message);
  }
}

export class TopicExistsError extends HeraldError {
  constructor(readonly topic: string) {
    super(STORAGE_ERROR_CODES.topicExists, `topic '${topic}' already exists`);
  }
}

export class UnknownTopicError extends HeraldError {
  constructor(readonly topic: string) {
    super(STORAGE_ERROR_CODES.unknownTopic, `topic '${topic}' does not exist`);
  }
}

export class InvalidPartitionsError extends HeraldError {
  constructor(message: string) {
    super(STORAGE_ERROR_CODES.invalidPartitions, message);
  }
}

/** Raised when a partition is used after its topic was deleted or the storage closed. */
export class StorageClosedError extends HeraldError {
  constructor(what: string) {
    super(STORAGE_ERROR_CODES.closed, `${what} is closed`);
  }
}

/** A state file (topics, producer ids) that cannot be parsed; refusing to start beats guessing. */
export class CorruptStateError extends HeraldError {
  constructor(file: string, options: { cause?: unknown } = {}) {
    super(STORAGE_ERROR_CODES.corruptState, `cannot parse storage state file ${file}`, options);
  }
}

/** Another live broker (or this process, without closing) already has the data folder open. */
export class DataDirLockedError extends HeraldError {
  constructor(
    readonly dataDir: string,
    /** Pid of the owner, -1 when unknown. */
    readonly ownerPid: number,
  ) {
    super(
      STORAGE_ERROR_CODES.dataDirLocked,
      `data folder ${dataDir} is in use by process ${ownerPid} (delete its .lock file if no broker runs there)`,
    );
  }
}

export class InvalidStorageOptionError extends HeraldError {
  constructor(message: string) {
    super(STORAGE_ERROR_CODES.invalidOption, message);
  }
}
