// Imported first by main.ts: libuv reads the size of its worker pool once, at its first use.
// Every webhook connection's DNS lookup (getaddrinfo) runs on that pool and cannot be cancelled,
// so with the default four threads a few receivers whose name servers never answer would stall
// every other lookup (and file and zlib work) behind theirs. Lookups of one name already share
// one thread (`sharingLookups`); more threads keep several such names from filling the pool.
// An operator's own UV_THREADPOOL_SIZE wins.
// eslint-disable-next-line no-restricted-syntax -- libuv reads it from the environment, before any config loads
process.env.UV_THREADPOOL_SIZE ??= '64';
