// Generates the broker's protocol codecs from Apache Kafka's message definitions.
//   node -r @swc-node/register tools/kafka-codegen/src/main.ts          write the codecs
//   node -r @swc-node/register tools/kafka-codegen/src/main.ts --check  exit 1 when they are stale
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import {
  emitItemErrorResponses,
  emitMessage,
  emitRegistry,
  type GeneratedFile,
} from './codec.emitter';
import { loadMessageSpecs } from './message-spec.loader';

const REPO_ROOT = resolve(__dirname, '../../..');
const MESSAGES_DIR = resolve(REPO_ROOT, '../shared/kafka-protocol/messages');
const OUTPUT_DIR = join(REPO_ROOT, 'libs/kafka-broker/src/protocol/generated');

export function generate(messagesDir: string): GeneratedFile[] {
  const specs = loadMessageSpecs(messagesDir);
  return [...specs.map(emitMessage), emitRegistry(specs), emitItemErrorResponses(specs)];
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  if (!existsSync(MESSAGES_DIR)) {
    process.stderr.write(`kafka-codegen: message definitions not found at ${MESSAGES_DIR}\n`);
    return 2;
  }
  const files = generate(MESSAGES_DIR);
  const wanted = new Set(files.map((f) => f.fileName));
  const existing = existsSync(OUTPUT_DIR) ? readdirSync(OUTPUT_DIR) : [];
  const stale = existing.filter((name) => !wanted.has(name));
  const changed = files.filter((f) => {
    const path = join(OUTPUT_DIR, f.fileName);
    return !existsSync(path) || readFileSync(path, 'utf8') !== f.source;
  });
  if (check) {
    if (changed.length === 0 && stale.length === 0) return 0;
    for (const f of changed) process.stderr.write(`kafka-codegen: out of date: ${f.fileName}\n`);
    for (const name of stale)
      process.stderr.write(`kafka-codegen: not generated any more: ${name}\n`);
    process.stderr.write(
      'kafka-codegen: run `node -r @swc-node/register tools/kafka-codegen/src/main.ts`\n',
    );
    return 1;
  }
  mkdirSync(OUTPUT_DIR, { recursive: true });
  for (const f of changed) writeFileSync(join(OUTPUT_DIR, f.fileName), f.source);
  for (const name of stale) unlinkSync(join(OUTPUT_DIR, name));
  process.stderr.write(
    `kafka-codegen: ${files.length} files, ${changed.length} written, ${stale.length} removed\n`,
  );
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
