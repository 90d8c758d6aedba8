import path from 'node:path';
import { ContractError } from './contract.errors';
import { loadContract } from './contract.loader';

const FIXTURES = path.resolve(__dirname, '../test/fixtures');

async function loadError(fixture: string): Promise<ContractError> {
  const error: unknown = await loadContract(path.join(FIXTURES, fixture)).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ContractError)) throw new Error(`expected a ContractError, got ${String(error)}`);
  expect(error.code).toBe('contract.invalid');
  return error;
}

describe('loadContract failures', () => {
  it('refuses one event type in two channels, naming both files and channels', async () => {
    const error = await loadError('duplicate-type');
    expect(error.problems).toEqual([
      {
        file: path.join(FIXTURES, 'duplicate-type', 'beta.yaml'),
        path: '/channels/gadgets/messages/gadgetMade/name',
        line: 10,
        message: expect.stringContaining('"widget.created" of channel "gadgets" is already declared by channel "widgets"'),
      },
    ]);
    expect(error.problems[0]?.message).toContain(path.join(FIXTURES, 'duplicate-type', 'alpha.yaml'));
    expect(error.message).toContain('beta.yaml:10 /channels/gadgets/messages/gadgetMade/name');
  });

  it('reports a document that does not parse with file, line and the parser message', async () => {
    const error = await loadError('broken-yaml');
    const file = path.join(FIXTURES, 'broken-yaml', 'orders.yaml');
    expect(error.problems).toContainEqual({
      file,
      path: '',
      line: expect.any(Number),
      message: expect.stringMatching(/Unexpected end of the stream/),
    });
    expect(error.message).toMatch(/broken-yaml\/orders\.yaml:\d+: Unexpected end of the stream/);
  });

  it('reports parser diagnostics of a valid YAML but invalid AsyncAPI document with their path', async () => {
    const error = await loadError('invalid-document');
    expect(error.problems).toContainEqual({
      file: path.join(FIXTURES, 'invalid-document', 'orders.yaml'),
      path: '/channels/orders/address',
      line: 7,
      message: expect.stringContaining('"address" property type must be string'),
    });
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
      [`${base}/messages/malformedKey/x-herald-key`, expect.stringContaining('must be a JSON pointer')],
      [`${base}/messages/objectKey/x-herald-key`, expect.stringContaining('string or a number')],
      [`${base}/messages/badExample/examples/0/payload`, 'example "wrong-count" does not match the payload schema: /count must be integer'],
      [`${base}/messages/strictSchema/payload`, expect.stringContaining('required property "missing" is not defined')],
      [`${base}/messages/reserved/name`, expect.stringContaining('reserved')],
    ]);
    expect(error.problems.every((p) => p.file.endsWith('things.yaml') && typeof p.line === 'number')).toBe(true);
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
    expect((await loadError('no-such-folder')).message).toContain('cannot read the contract folder');
  });
});
