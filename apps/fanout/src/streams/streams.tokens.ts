/** Injection token of the parsed streams config. */
export const STREAMS_CONFIG = Symbol('STREAMS_CONFIG');
