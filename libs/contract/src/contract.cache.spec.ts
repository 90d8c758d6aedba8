import {
  chmod,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ContractCache, forgetParsesInMemory } from './contract.cache';
import { ContractError } from './contract.errors';
import { contractLoadReport, loadContract } from './contract.loader';
import type { ContractRegistry } from './contract.registry';

const SHIPPED = path.resolve(__dirname, '../../../asyncapi');

// The parser is slow (it is what the cache saves), so these tests get room.
jest.setTimeout(60_000);

describe('the contract parse cache', () => {
  let work: string;
  let contract: string;
  let cacheDir: string;

  beforeEach(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'herald-contract-cache-test-'));
    contract = path.join(work, 'asyncapi');
    cacheDir = path.join(work, 'cache');
    // Two documents (one with a fragment in a sub-folder) keep the parses affordable.
    for (const part of ['kitchen.yaml', 'orders.yaml', 'schemas'])
      await cp(path.join(SHIPPED, part), path.join(contract, part), { recursive: true });
    forgetParsesInMemory();
  });

  afterEach(async () => {
    forgetParsesInMemory();
    await rm(work, { recursive: true, force: true });
  });

  function summary(registry: ContractRegistry) {
    return {
      types: registry.eventTypes().map((type) => registry.get(type)),
      topics: registry.topics(),
      documents: registry.documents(),
      warnings: registry.warnings(),
    };
  }

  it('gives a later process the same registry without parsing, and the same process from memory', async () => {
    const parsed = await loadContract(contract, { cacheDir });
    expect(contractLoadReport(parsed)).toMatchObject({
      documents: 2,
      parsed: 2,
      fromMemory: 0,
      fromDisk: 0,
      cacheDir,
    });
    expect(await readdir(cacheDir)).toHaveLength(2);

    const again = await loadContract(contract, { cacheDir });
    expect(contractLoadReport(again)).toMatchObject({ parsed: 0, fromMemory: 2 });

    forgetParsesInMemory(); // as a new process would start
    const fromDisk = await loadContract(contract, { cacheDir });
    expect(contractLoadReport(fromDisk)).toMatchObject({ parsed: 0, fromDisk: 2 });
    expect(summary(fromDisk)).toEqual(summary(parsed));
    expect(fromDisk.validate('order.created', { orderId: 'x' }).ok).toBe(false);
  });

  it('parses again when a shared fragment in a sub-folder changes', async () => {
    await loadContract(contract, { cacheDir });
    const common = path.join(contract, 'schemas', 'common.yaml');
    const text = await readFile(common, 'utf8');
    await writeFile(
      common,
      text.replace('Identifies the order across every domain.', 'The order, changed.'),
    );

    const changed = await loadContract(contract, { cacheDir });
    expect(contractLoadReport(changed)).toMatchObject({ parsed: 2, fromMemory: 0, fromDisk: 0 });
    const schema = changed.get('kitchen.order.received')?.schema as
      { properties: { orderId: { description?: string } } } | undefined;
    expect(schema?.properties.orderId.description).toBe('The order, changed.');
  });

  async function replaceIn(file: string, from: string, to: string): Promise<void> {
    const text = await readFile(file, 'utf8');
    if (!text.includes(from)) throw new Error(`${from} is not in ${file}`);
    await writeFile(file, text.replace(from, to));
  }

  it('follows symbolic links: a linked document or folder whose target changes is parsed again', async () => {
    const elsewhere = path.join(work, 'elsewhere');
    await mkdir(elsewhere);
    for (const part of ['kitchen.yaml', 'schemas']) {
      await rename(path.join(contract, part), path.join(elsewhere, part));
      await symlink(path.join(elsewhere, part), path.join(contract, part));
    }
    await loadContract(contract, { cacheDir });
    expect(contractLoadReport(await loadContract(contract, { cacheDir }))).toMatchObject({
      parsed: 0,
      fromMemory: 2,
    });

    await replaceIn(
      path.join(elsewhere, 'schemas', 'common.yaml'),
      'Identifies the order across every domain.',
      'The order, changed.',
    );
    const fragmentChanged = await loadContract(contract, { cacheDir });
    expect(contractLoadReport(fragmentChanged)).toMatchObject({ parsed: 2, fromMemory: 0 });
    const schema = fragmentChanged.get('kitchen.order.received')?.schema as
      { properties: { orderId: { description?: string } } } | undefined;
    expect(schema?.properties.orderId.description).toBe('The order, changed.');

    await replaceIn(
      path.join(elsewhere, 'kitchen.yaml'),
      'The ticket appeared on the kitchen screen.',
      'The ticket, changed.',
    );
    const documentChanged = await loadContract(contract, { cacheDir });
    expect(contractLoadReport(documentChanged)).toMatchObject({ parsed: 2, fromMemory: 0 });
    expect(documentChanged.get('kitchen.order.received')?.summary).toBe('The ticket, changed.');
  });

  it('parses again when a fragment of another extension changes', async () => {
    const fragment = path.join(contract, 'schemas', 'order-id.schema');
    await writeFile(fragment, 'type: string\ndescription: first\n');
    await replaceIn(
      path.join(contract, 'kitchen.yaml'),
      "$ref: './schemas/common.yaml#/orderId'",
      "$ref: './schemas/order-id.schema'",
    );
    await loadContract(contract, { cacheDir });
    await writeFile(fragment, 'type: string\ndescription: second\n');

    const changed = await loadContract(contract, { cacheDir });
    expect(contractLoadReport(changed)).toMatchObject({ parsed: 2, fromMemory: 0 });
    const schema = changed.get('kitchen.order.received')?.schema as
      { properties: { orderId: { description?: string } } } | undefined;
    expect(schema?.properties.orderId.description).toBe('second');
  });

  it('reads a $ref as the parser does, without percent-decoding, and lets the parser name a missing file', async () => {
    await cp(
      path.join(contract, 'schemas', 'common.yaml'),
      path.join(contract, 'schemas', '100%.yaml'),
    );
    const kitchen = path.join(contract, 'kitchen.yaml');
    await replaceIn(
      kitchen,
      "$ref: './schemas/common.yaml#/orderId'",
      "$ref: './schemas/100%.yaml#/orderId'",
    );
    const registry = await loadContract(contract, { cacheDir });
    expect(contractLoadReport(registry)).toMatchObject({ parsed: 2, cacheDir });
    expect(registry.has('kitchen.order.received')).toBe(true);

    await rm(path.join(contract, 'schemas', '100%.yaml'));
    const error: unknown = await loadContract(contract, { cacheDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractError);
    expect((error as ContractError).problems).toContainEqual(
      expect.objectContaining({
        file: kitchen,
        path: '/components/messages/orderReceived/payload/properties/orderId/$ref',
        message: expect.stringContaining('100%.yaml') as unknown,
      }),
    );
  });

  it('parses again over a damaged or foreign cache file, and mends it', async () => {
    const first = await loadContract(contract, { cacheDir });
    const [damaged, foreign] = (await readdir(cacheDir)).map((name) => path.join(cacheDir, name));
    await writeFile(damaged!, '{"format":1,"key":');
    const other = JSON.parse(await readFile(foreign!, 'utf8')) as Record<string, unknown>;
    await writeFile(foreign!, JSON.stringify({ ...other, key: 'someone else' }));
    forgetParsesInMemory();

    const mended = await loadContract(contract, { cacheDir });
    expect(contractLoadReport(mended)).toMatchObject({ parsed: 2, fromDisk: 0 });
    expect(summary(mended)).toEqual(summary(first));
    forgetParsesInMemory();
    expect(contractLoadReport(await loadContract(contract, { cacheDir }))).toMatchObject({
      fromDisk: 2,
    });
  });

  it('keeps nothing for a document the parser refuses', async () => {
    await writeFile(
      path.join(contract, 'broken.yaml'),
      'asyncapi: 3.0.0\ninfo:\n  title: Broken\nchannels: {}\n',
    );
    for (let load = 0; load < 2; load++) {
      const error: unknown = await loadContract(contract, { cacheDir }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ContractError);
      expect((error as ContractError).problems.some((p) => p.file.endsWith('broken.yaml'))).toBe(
        true,
      );
    }
    // The two good documents are kept; the broken one is parsed (and refused) every time.
    expect(await readdir(cacheDir)).toHaveLength(2);
  });

  it('does not cache a contract that refers outside its folder', async () => {
    const outside = path.join(work, 'outside.yaml');
    await writeFile(outside, 'type: string\nformat: uuid\n');
    const kitchen = path.join(contract, 'kitchen.yaml');
    const text = await readFile(kitchen, 'utf8');
    await writeFile(
      kitchen,
      text.replace("$ref: './schemas/common.yaml#/orderId'", "$ref: '../outside.yaml'"),
    );

    const first = await loadContract(contract, { cacheDir });
    const second = await loadContract(contract, { cacheDir });
    expect(contractLoadReport(second)).toMatchObject({ parsed: 2, fromMemory: 0, cacheDir: null });
    expect(contractLoadReport(first)?.cacheProblem).toContain('../outside.yaml');
    await expect(readdir(cacheDir)).rejects.toThrow();
  });

  it('uses no disk cache in a folder other users may write to, and says why', async () => {
    const shared = path.join(work, 'shared');
    await loadContract(contract, { cacheDir: shared }); // creates it, private
    await chmod(shared, 0o777);
    forgetParsesInMemory();

    const registry = await loadContract(contract, { cacheDir: shared });
    expect(contractLoadReport(registry)).toMatchObject({ parsed: 2, fromDisk: 0, cacheDir: null });
    expect(contractLoadReport(registry)?.cacheProblem).toContain('may be written by other users');
  });

  it('keeps what the parser warned about, with its file relative to the folder', async () => {
    const { cache } = await ContractCache.open(cacheDir);
    const parse = {
      version: '3.0.0',
      json: { asyncapi: '3.0.0' },
      warnings: [{ file: 'schemas/common.yaml', path: '/orderId', message: 'a warning', line: 4 }],
    };
    await cache.put('k'.repeat(64), parse);
    forgetParsesInMemory();
    expect(await cache.get('k'.repeat(64))).toEqual({ parse, source: 'disk' });
  });

  it('can be turned off', async () => {
    const registry = await loadContract(contract, { cacheDir: false });
    expect(contractLoadReport(registry)).toMatchObject({ parsed: 2, cacheDir: null });
    expect(contractLoadReport(await loadContract(contract, { cacheDir: false }))).toMatchObject({
      fromMemory: 2,
    });
  });
});
