/** One event as a producer sent it, before the contract has looked at it. */
export interface IncomingEvent {
  /** The event id; `idGiven` says whether the producer chose it (only then is it deduplicated). */
  id: string;
  idGiven: boolean;
  type: string;
  /** CloudEvents `source`; the contract's default when the producer gave none. */
  source: string | undefined;
  /** RFC 3339; the time of receipt when the producer gave none. */
  time: string;
  subject: string | undefined;
  data: unknown;
  /** `data` already serialized, when parsing had to serialize it anyway (batch members). */
  dataJson?: string;
  traceparent: string | undefined;
  /** Partition key override (`herald-key`); otherwise the contract's key pointer decides. */
  key: string | undefined;
  extensions: Record<string, string>;
  /** CloudEvents `dataschema`, when the producer gave one. */
  dataschema?: string;
  /**
   * CloudEvents `datacontenttype` as the producer gave it (a JSON media type, parameters
   * included): the `datacontenttype` member, or the request's content type in binary mode.
   */
  datacontenttype?: string;
  /** JSON pointer to this event's payload within the request body ('' when the body is the payload). */
  dataPointer: string;
}

/** What the producer is told about one written event (SPEC §4). */
export interface IngestResult {
  id: string;
  type: string;
  topic: string;
  partition: number;
  offset: string;
}
