import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { camel, emitItemErrorResponses, kebab } from './codec.emitter';
import { generate } from './main';
import { parseMessageSpec, stripJsonComments } from './message-spec.loader';
import { parseVersionRange, versionCondition } from './version-range';

const REPO_ROOT = resolve(__dirname, '../../..');
const MESSAGES_DIR = resolve(REPO_ROOT, '../shared/kafka-protocol/messages');
const OUTPUT_DIR = join(REPO_ROOT, 'libs/kafka-broker/src/protocol/generated');

describe('kafka-codegen', () => {
  it('strips // comments but not // inside strings', () => {
    const text = '// licence\n{ "about": "see http://kafka.apache.org", // trailing\n "n": 1 }';
    expect(JSON.parse(stripJsonComments(text))).toEqual({
      about: 'see http://kafka.apache.org',
      n: 1,
    });
    expect(
      parseMessageSpec(
        '{"name":"X","type":"request","validVersions":"0","flexibleVersions":"none","fields":[]}',
        'X.json',
      ).sourceFile,
    ).toBe('X.json');
  });

  it('reads version ranges and turns them into the narrowest condition', () => {
    expect(parseVersionRange('3+')).toEqual({ min: 3, max: 0x7fff });
    expect(parseVersionRange('0-5')).toEqual({ min: 0, max: 5 });
    expect(parseVersionRange('none')).toEqual({ min: 1, max: 0 });
    const valid = parseVersionRange('0-12');
    expect(versionCondition(parseVersionRange('0+'), valid)).toBe('');
    expect(versionCondition(parseVersionRange('4+'), valid)).toBe('version >= 4');
    expect(versionCondition(parseVersionRange('1-3'), valid)).toBe('version >= 1 && version <= 3');
    expect(versionCondition(parseVersionRange('13+'), valid)).toBe('false');
  });

  it('names files and fields as the codebase does', () => {
    expect(kebab('OffsetFetchRequest')).toBe('offset-fetch-request');
    expect(kebab('DescribeAclsRequest')).toBe('describe-acls-request');
    expect(camel('ThrottleTimeMs')).toBe('throttleTimeMs');
  });

  it('matches the committed output (run the generator when this fails)', () => {
    for (const file of generate(MESSAGES_DIR)) {
      expect({
        file: file.fileName,
        source: readFileSync(join(OUTPUT_DIR, file.fileName), 'utf8'),
      }).toEqual({ file: file.fileName, source: file.source });
    }
  });

  it('answers each item of a request whose response has no top-level error code', () => {
    const request = parseMessageSpec(
      JSON.stringify({
        apiKey: 90,
        name: 'MakeThingsRequest',
        type: 'request',
        validVersions: '0',
        flexibleVersions: 'none',
        fields: [
          {
            name: 'Creations',
            type: '[]Creation',
            versions: '0+',
            fields: [{ name: 'Name', type: 'string', versions: '0+' }],
          },
        ],
      }),
      'MakeThingsRequest.json',
    );
    const response = parseMessageSpec(
      JSON.stringify({
        apiKey: 90,
        name: 'MakeThingsResponse',
        type: 'response',
        validVersions: '0',
        flexibleVersions: 'none',
        fields: [
          { name: 'ThrottleTimeMs', type: 'int32', versions: '0+' },
          {
            name: 'Results',
            type: '[]Result',
            versions: '0+',
            fields: [
              { name: 'Name', type: 'string', versions: '0+' },
              { name: 'ErrorCode', type: 'int16', versions: '0+' },
              { name: 'ErrorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      }),
      'MakeThingsResponse.json',
    );
    const { source } = emitItemErrorResponses([request, response]);
    // The only list of each pairs up; names are copied, errors and messages filled in.
    expect(source).toContain(
      'writeMakeThingsResponse(w, version, { throttleTimeMs: 0, results: (q.creations ?? []).map((e0: any) => ({ name: (e0.name ?? ""), errorCode: errorCode, errorMessage: message })) });',
    );
  });
});
