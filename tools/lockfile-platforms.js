#!/usr/bin/env node
// The npm registry mirror here serves only this platform's builds of native packages, so `npm
// install` leaves other platforms' optional packages (@swc/core-darwin-arm64, …) out of
// package-lock.json, and `npm ci` then refuses the lock as out of sync. This adds an entry for
// each such package — version from its parent's optionalDependencies, os/cpu/libc from its name —
// which `npm ci` skips on a non-matching platform. Run it after `npm install`; dependency-free.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const OS = [
  'darwin',
  'win32',
  'linux',
  'android',
  'freebsd',
  'openharmony',
  'sunos',
  'aix',
  'netbsd',
  'openbsd',
];
const CPU = ['arm64', 'x64', 'ia32', 'ppc64', 's390x', 'riscv64', 'loong64', 'arm', 'wasm32'];

let added = 0;
for (const [location, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const os = OS.find((candidate) => name.includes(`-${candidate}`));
    const cpu = CPU.find((candidate) => new RegExp(`[-_]${candidate}([-_]|$)`).test(name));
    if (!os || !cpu) continue; // not a platform build
    const base = location === '' ? 'node_modules/' : `${location}/node_modules/`;
    if (lock.packages[`${base}${name}`] || lock.packages[`node_modules/${name}`]) continue;
    const added_entry = { version, cpu: [cpu], os: [os], optional: true };
    if (name.includes('musl')) added_entry.libc = ['musl'];
    else if (name.includes('gnu')) added_entry.libc = ['glibc'];
    lock.packages[`node_modules/${name}`] = added_entry;
    added += 1;
  }
}
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(
  `lockfile-platforms: added ${added} platform entr${added === 1 ? 'y' : 'ies'}\n`,
);
