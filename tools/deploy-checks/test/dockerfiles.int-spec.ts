import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DockerfileParser, Healthcheck, type Instruction } from 'dockerfile-ast';

// No Docker engine runs where the tests do, so the images are checked by reading their
// Dockerfiles (parsed by dockerfile-ast, the parser of the VS Code Dockerfile language server).

const ROOT = path.resolve(__dirname, '../../..');

/** SPEC §1: each app, its default port and the variable that changes it. */
const APPS = [
  { app: 'subscription-api', port: 3000, portVariable: 'SUBSCRIPTION_API_PORT' },
  { app: 'ingest-bridge', port: 3001, portVariable: 'INGEST_BRIDGE_PORT' },
  { app: 'fanout', port: 3002, portVariable: 'FANOUT_PORT' },
];

interface Stage {
  image: string;
  name: string | null;
  instructions: Instruction[];
}

function parseDockerfile(app: string) {
  const file = path.join(ROOT, 'apps', app, 'Dockerfile');
  const dockerfile = DockerfileParser.parse(readFileSync(file, 'utf8'));
  // ARGs before the first FROM are the ones FROM lines may use.
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    if (keyword === 'FROM') {
      const from = dockerfile
        .getFROMs()
        .find((f) => f.getRange().start.line === instruction.getRange().start.line)!;
      const image = (from.getImage() ?? '').replace(
        /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
        (_, name: string) => args.get(name) ?? `<unset ${name}>`,
      );
      stages.push({ image, name: from.getBuildStage(), instructions: [] });
    } else if (stages.length === 0 && keyword === 'ARG') {
      const [name, value = ''] = instruction.getArgumentsContent()!.split('=');
      args.set(name!.trim(), value.trim());
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

const args = (instructions: Instruction[], keyword: string) =>
  instructions.filter((i) => i.getKeyword() === keyword).map((i) => i.getArgumentsContent() ?? '');

describe.each(APPS)('apps/$app/Dockerfile', ({ app, port, portVariable }) => {
  const stages = parseDockerfile(app);
  const runtime = stages.at(-1)!;

  it('is multi-stage: a build stage named "build" and a separate runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]!.name).toBe('build');
    expect(runtime.name).not.toBe('build');
  });

  it('pins every base image to a version tag, never latest or an untagged image', () => {
    for (const { image } of stages) {
      expect(image).not.toContain('<unset');
      expect(image).toMatch(/^[a-z0-9./-]+:[A-Za-z0-9._-]+$/);
      expect(image).not.toMatch(/:latest$/);
    }
    // The runtime copies the build stage's node_modules, so both need the same Node and libc.
    expect(new Set(stages.map((s) => s.image)).size).toBe(1);
  });

  it('installs with npm ci and compiles the app ahead of time in the build stage', () => {
    const runs = args(stages[0]!.instructions, 'RUN').join('\n');
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toContain(`compile-workspace.js ${app}`);
    expect(runs).toMatch(/npm prune --omit=dev/);
  });

  it('runs the compiled app as a non-root user', () => {
    const users = args(runtime.instructions, 'USER');
    expect(users).toHaveLength(1);
    const [user] = users[0]!.split(':');
    expect(['root', '0', '']).not.toContain(user);
    // Numeric, so Kubernetes' runAsNonRoot can verify it (deploy/k8s sets the same id).
    expect(user).toMatch(/^[1-9][0-9]*$/);
    expect(args(runtime.instructions, 'CMD')).toEqual([`["node", "apps/${app}/dist/main.js"]`]);
  });

  it(`exposes port ${port}, sets ${portVariable} to it and stops on SIGTERM`, () => {
    expect(args(runtime.instructions, 'EXPOSE')).toEqual([String(port)]);
    expect(args(runtime.instructions, 'ENV').join(' ')).toContain(`${portVariable}=${port}`);
    expect(args(runtime.instructions, 'STOPSIGNAL')).toEqual(['SIGTERM']);
  });

  it('has a HEALTHCHECK on /health/live of its own port', () => {
    const healthchecks = args(runtime.instructions, 'HEALTHCHECK');
    expect(healthchecks).toHaveLength(1);
    expect(healthchecks[0]).toContain('/health/live');
    expect(healthchecks[0]).toContain(`process.env.${portVariable} || ${port}`);
    const flags = runtime.instructions
      .filter((i): i is Healthcheck => i instanceof Healthcheck)
      .flatMap((i) => i.getFlags().map((flag) => flag.getName()));
    // Docker's defaults (30 s timeout) would leave a hung process marked healthy far too long.
    expect(flags).toEqual(expect.arrayContaining(['interval', 'timeout', 'retries']));
  });
});

describe('.dockerignore', () => {
  it('keeps local installs, data, history and build output out of the build context', () => {
    const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const pattern of [
      '.git',
      '**/node_modules',
      '**/dist',
      '.data',
      'deploy/compose/herald.env',
    ])
      expect(patterns).toContain(pattern);
    // The build stage needs these: a pattern that matched them would break every image.
    for (const needed of ['package-lock.json', 'deploy', 'asyncapi', 'libs', 'apps', 'tools'])
      expect(patterns).not.toContain(needed);
  });
});
