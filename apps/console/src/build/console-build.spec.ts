import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONSOLE_ROOT, consoleSourceHash } from './console-build';

describe('consoleSourceHash', () => {
  let root: string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'herald-console-src-'));
    for (const entry of ['index.html', 'vite.config.mjs', 'package.json', 'src'])
      cpSync(join(CONSOLE_ROOT, entry), join(root, entry), { recursive: true });
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('changes with the app’s sources, not with its tests or build code', () => {
    const before = consoleSourceHash(root);
    expect(consoleSourceHash(root)).toBe(before);

    writeFileSync(join(root, 'src', 'routes.spec.ts'), '// a test changed');
    writeFileSync(join(root, 'src', 'build', 'main.ts'), '// build code changed');
    expect(consoleSourceHash(root)).toBe(before);

    writeFileSync(join(root, 'src', 'styles.css'), 'body { color: red; }');
    expect(consoleSourceHash(root)).not.toBe(before);
  });
});
