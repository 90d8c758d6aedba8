import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ContractError } from './contract.errors';
import { loadContract } from './contract.loader';

const FIXTURES = path.resolve(__dirname, '../test/fixtures');

async function loadError(fixture: string): Promise<ContractError> {
  const dir = path.isAbsolute(fixture) ? fixture : path.join(FIXTURES, fixture);
  const error: unknown = await loadContract(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ContractError))
    throw new Error(`expected a ContractError, got ${String(error)}`);
  expect(error.code).toBe('contract.invalid');
  return error;
}

describe('loadContract failures', () => {
  it('refuses one event type in two channels, naming both files and channels', async () => {
    const error = await loadError('duplicate-type');
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatchObject({
      file: path.join(FIXTURES, 'duplicate-type', 'beta.yaml'),
      path: '/channels/gadgets/messages/gadgetMade/name',
      line: 10,
    });
    expect(error.problems[0]?.message).toContain(
      '"widget.created" of channel "gadgets" is already declared by channel "widgets"',
    );
    expect(error.problems[0]?.message).toContain(
      path.join(FIXTURES, 'duplicate-type', 'alpha.yaml'),
    );
    expect(error.message).toContain('beta.yaml:10 /channels/gadgets/messages/gadgetMade/name');
  });

  it('reports a document that does not parse with file, line and the parser message', async () => {
    // Written at test time: a broken file in the repository would trip the formatter.
    const dir = await mkdtemp(path.join(tmpdir(), 'herald-contract-'));
    try {
      const file = path.join(dir, 'orders.yaml');
      await writeFile(
        file,
        'asyncapi: 3.0.0\ninfo:\n  title: Broken\n  version: 1.0.0\nchannels:\n  orders: [\n',
      );
      const error = await loadError(dir);
      const problem = error.problems.find((p) =>
        p.message.includes('Unexpected end of the stream'),
      );
      expect(problem).toMatchObject({ file, path: '' });
      expect(problem?.line).toBeGreaterThan(0);
      expect(error.message).toMatch(/orders\.yaml:\d+: Unexpected end of the stream/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports parser diagnostics of a valid YAML but invalid AsyncAPI document with their path', async () => {
    const error = await loadError('invalid-document');
    const problem = error.problems.find((p) => p.path === '/channels/orders/address');
    expect(problem).toMatchObject({
      file: path.join(FIXTURES, 'invalid-document', 'orders.yaml'),
      line: 7,
    });
    expect(problem?.message).toContain('"address" property type must be string');
  });

  it('reports every broken contract rule at once, each at its place', async () => {
    const error = await loadError('rule-violations');
    const found = error.problems.map((p) => [p.path, p.message]);
    const base = '/channels/things';
    expect(found).toEqual([
      [`${base}/x-herald-partitions`, expect.stringContaining('whole number from 1')],
      [`${base}/messages/noName`, expect.stringContaining('needs a name')],
      [`${base}/messages/noPayload`, expect.stringContaining('needs a payload schema')],
      [`${base}/messages/missingKey/x-herald-key`, expect.stringContaining('does not declare')],
      [`${base}/messages/optionalKey/x-herald-key`, expect.stringContaining('optional')],
      [
        `${base}/messages/malformedKey/x-herald-key`,
        expect.stringContaining('must be a JSON pointer'),
      ],
      [`${base}/messages/objectKey/x-herald-key`, expect.stringContaining('string or a number')],
      [
        `${base}/messages/badExample/examples/0/payload`,
        'example "wrong-count" does not match the payload schema: /count must be integer',
      ],
      [
        `${base}/messages/strictSchema/payload`,
        expect.stringContaining('required property "missing" is not defined'),
      ],
      [`${base}/messages/reserved/name`, expect.stringContaining('reserved')],
    ]);
    expect(
      error.problems.every((p) => p.file.endsWith('things.yaml') && typeof p.line === 'number'),
    ).toBe(true);
  });

  it('refuses a source topic shared by two channels or equal to a channel topic', async () => {
    const error = await loadError('source-clash');
    expect(error.problems.map((p) => p.message)).toEqual([
      expect.stringContaining('"shared.raw" is already the source of channel "first"'),
      expect.stringContaining('"first.v1" is the address of channel "first"'),
    ]);
  });

  it('refuses a folder without documents, and one that does not exist', async () => {
    expect((await loadError('empty')).message).toContain('no AsyncAPI documents');
    expect((await loadError('no-such-folder')).message).toContain(
      'cannot read the contract folder',
    );
  });
});
