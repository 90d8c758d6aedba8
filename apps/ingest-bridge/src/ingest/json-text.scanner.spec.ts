import { jsonTextAt, scanJsonText } from './json-text.scanner';

const texts = (text: string, wanted: (path: readonly string[]) => boolean) => {
  const { spans } = scanJsonText(text, wanted);
  return Object.fromEntries(
    [...spans].map(([pointer, s]) => [pointer, text.slice(s.start, s.end)]),
  );
};

describe('scanJsonText', () => {
  it('finds the text of the values asked for, as written', () => {
    const text =
      ' [ {"id":"a","data": {"n":12345678901234567890, "z":-0.0}} ,{"data":"\\u00e9"},{"data":[]} ,{"data":{}}] ';
    expect(texts(text, (path) => path.length === 2 && path[1] === 'data')).toEqual({
      '/0/data': '{"n":12345678901234567890, "z":-0.0}',
      '/1/data': '"\\u00e9"',
      '/2/data': '[]',
      '/3/data': '{}',
    });
    expect(texts('\n{"a":[1,{"b":true}]}\n', (path) => path.length === 0)).toEqual({
      '': '{"a":[1,{"b":true}]}',
    });
    expect(texts(' -0 ', (path) => path.length === 0)).toEqual({ '': '-0' });
  });

  it('names the first repeated member name by pointer, as JSON.parse reads names', () => {
    expect(scanJsonText('{"a":1,"b":{"c":[{"x":1,"y":2,"x":3}]}}').duplicate).toBe('/b/c/0/x');
    expect(scanJsonText('{"a\\/b":1,"a/b":2}').duplicate).toBe('/a~1b');
    expect(scanJsonText('{"a":1,"\\u0061":2}').duplicate).toBe('/a');
    expect(scanJsonText('[{"a":1},{"a":1}]').duplicate).toBeUndefined();
    // Strings ending in escaped backslashes or holding escaped quotes end where JSON says.
    expect(scanJsonText('{"a":"x\\\\","b\\"":"q\\"}","a":1}').duplicate).toBe('/a');
    expect(scanJsonText('{"a":"x\\\\","b\\"":"q\\"}","b\\"":1}').duplicate).toBe('/b"');
    expect(scanJsonText('{"a":{"a":{"a":"a"}}}').duplicate).toBeUndefined();
  });

  it('reads nesting deeper than a recursive reader could', () => {
    const deep = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
    expect(scanJsonText(deep).duplicate).toBeUndefined();
  });
});

describe('jsonTextAt', () => {
  const text = ` {"n": 12345678901234567890, "neg":-12345678901234567891 ,"f":1.0,"e":1e2,"z":-0,
    "deep":{"a":[{"id":1},{"id":2.50, "s":"1.0"}]}, "a/b":{"c~d":100000000000000000001},
    "esc\\/aped":7E-1, "obj":{"x":[]}, "t":true} `;

  it('is given JSON text', () => {
    expect(() => JSON.parse(text) as unknown).not.toThrow();
  });

  it.each([
    [['n'], '12345678901234567890'],
    [['neg'], '-12345678901234567891'],
    [['f'], '1.0'],
    [['e'], '1e2'],
    [['z'], '-0'],
    [['deep', 'a', '1', 'id'], '2.50'],
    [['deep', 'a', '1', 's'], '"1.0"'],
    [['a/b', 'c~d'], '100000000000000000001'],
    // The name as JSON.parse reads it: `"esc\/aped"` is `esc/aped`.
    [['esc/aped'], '7E-1'],
    [['obj'], '{"x":[]}'],
    [['t'], 'true'],
    [[], text.trim()],
  ])('gives the text of the value at %j as written', (path, expected) => {
    expect(jsonTextAt(text, path)).toBe(expected);
  });

  it('gives nothing where there is no value', () => {
    expect(jsonTextAt(text, ['missing'])).toBeUndefined();
    expect(jsonTextAt(text, ['deep', 'a', '2', 'id'])).toBeUndefined();
    expect(jsonTextAt(text, ['deep', 'a', '01', 'id'])).toBeUndefined();
    expect(jsonTextAt(text, ['n', 'x'])).toBeUndefined();
    expect(jsonTextAt('[1,2]', ['length'])).toBeUndefined();
  });

  it('stops at the value: text after it is not read', () => {
    // Not JSON past the value, to show the scan never got there.
    expect(jsonTextAt('{"id":12345678901234567890,"rest":[[[[', ['id'])).toBe(
      '12345678901234567890',
    );
  });
});
