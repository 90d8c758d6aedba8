#!/usr/bin/env node
// Ahead-of-time build for container images: compiles one app and every lib from TypeScript to
// CommonJS with @swc/core, next to their sources (`<project>/dist`), and points each lib's
// package.json at the compiled entry. The npm-workspace links (node_modules/@herald/<lib> ->
// libs/<lib>) then resolve exactly as in development, only to JavaScript, so the image needs
// neither swc nor the TypeScript sources at run time.
//
//   node deploy/docker/compile-workspace.js <app> [root]
//
// The swc options mirror what @swc-node/register and the Jest preset use (legacy decorators with
// metadata for NestJS's dependency injection, ES2022), so compiled code behaves as tested code.
const fs = require('node:fs');
const path = require('node:path');
const swc = require('@swc/core');

const SWC_OPTIONS = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
  sourceMaps: true,
  swcrc: false,
  configFile: false,
};

// Tests and test kits never run in an image; test kits also import the dev-only embedded broker.
const isRuntimeSource = (file) =>
  file.endsWith('.ts') &&
  !file.endsWith('.d.ts') &&
  !file.endsWith('.spec.ts') &&
  path.basename(file) !== 'testing.ts';

function sourcesOf(dir) {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).flatMap((entry) => {
    if (!entry.isFile()) return [];
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    return isRuntimeSource(file) ? [file] : [];
  });
}

function compileProject(projectDir) {
  const srcDir = path.join(projectDir, 'src');
  const distDir = path.join(projectDir, 'dist');
  fs.rmSync(distDir, { recursive: true, force: true });
  const files = sourcesOf(srcDir);
  for (const file of files) {
    const out = path.join(distDir, path.relative(srcDir, file)).replace(/\.ts$/, '.js');
    const { code, map } = swc.transformFileSync(file, { ...SWC_OPTIONS, filename: file });
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${code}\n//# sourceMappingURL=${path.basename(out)}.map\n`);
    if (map) fs.writeFileSync(`${out}.map`, map);
  }
  return files.length;
}

/** `./src/x.ts` -> `./dist/x.js`; entries whose source was not compiled (test kits) are dropped. */
function pointManifestAtDist(projectDir) {
  const manifestFile = path.join(projectDir, 'package.json');
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  const toDist = (target) => {
    const compiled = target.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '.js');
    return fs.existsSync(path.join(projectDir, compiled)) ? compiled : null;
  };
  if (typeof manifest.main === 'string') manifest.main = toDist(manifest.main) ?? undefined;
  if (manifest.exports && typeof manifest.exports === 'object') {
    const exports = {};
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      const compiled = typeof target === 'string' ? toDist(target) : null;
      if (compiled) exports[subpath] = compiled;
    }
    manifest.exports = exports;
  }
  fs.writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
}

function main() {
  const [app, root = process.cwd()] = process.argv.slice(2);
  const appDir = path.join(root, 'apps', app ?? '');
  if (!app || !fs.existsSync(path.join(appDir, 'src', 'main.ts'))) {
    console.error(
      'usage: compile-workspace.js <app> [root]  (an app under apps/ with src/main.ts)',
    );
    process.exit(64);
  }
  const libsDir = path.join(root, 'libs');
  const libs = fs
    .readdirSync(libsDir)
    .map((name) => path.join(libsDir, name))
    .filter((dir) => fs.existsSync(path.join(dir, 'src', 'index.ts')));
  let count = compileProject(appDir);
  pointManifestAtDist(appDir);
  for (const lib of libs) {
    count += compileProject(lib);
    pointManifestAtDist(lib);
  }
  console.log(`compiled ${count} files: apps/${app} and ${libs.length} libs`);
}

main();
