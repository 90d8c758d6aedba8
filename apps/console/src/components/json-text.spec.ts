import { TOO_DEEP_TO_SHOW, jsonText } from './json-text';

describe('jsonText', () => {
  it('writes values as indented JSON', () => {
    expect(jsonText({ a: [1, '<b>'] })).toBe('{\n  "a": [\n    1,\n    "<b>"\n  ]\n}');
    expect(jsonText(undefined)).toBe('undefined');
  });

  it('says so, rather than throwing, for a value nested deeper than it can write', () => {
    const depth = 100_000;
    const deep: unknown = JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`);
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(jsonText({ id: 'e1', data: deep })).toBe(TOO_DEEP_TO_SHOW);
  });
});
