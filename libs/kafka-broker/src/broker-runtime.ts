import type { BrokerLogger } from './broker.logger';
import type { ResolvedBrokerOptions } from './broker.options';
import type { AppendSignal } from './fetch/append-signal';
import type { GroupCoordinator } from './group/group-coordinator';
import type { ServedApi } from './network/api-handler';
import type { PartitionAppender } from './produce/partition-appender';
import type { BrokerStorage } from './storage/storage.types';
import type { TopicCatalog } from './topics/topic-catalog';

/** Everything a request handler may use; one per running broker. */
export interface BrokerRuntime {
  readonly options: ResolvedBrokerOptions;
  readonly log: BrokerLogger;
  readonly storage: BrokerStorage;
  readonly topics: TopicCatalog;
  readonly groups: GroupCoordinator;
  readonly appender: PartitionAppender;
  readonly appendSignal: AppendSignal;
  readonly servedApis: ReadonlyMap<number, ServedApi>;
  /** Where clients should connect: the advertised host and the bound port. */
  readonly endpoint: { host: string; port: number };
}
