import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

// Each overlay is rendered with `kubectl kustomize` (as `kubectl apply -k` would), then every
// object is validated against the Kubernetes API schemas (kubernetes-models, and the
// prometheus-operator models for the ServiceMonitor) and checked for what Herald needs.
//
// Debian ships no current kubectl (its kubernetes-client is 1.20, whose kustomize predates the
// `labels` and `patches` fields used here), so .ci/run cannot install one: without kubectl on
// the PATH these tests are skipped with a message rather than failed.

const ROOT = path.resolve(__dirname, '../../..');
const OVERLAYS = ['dev', 'production'];
const APPS = { 'subscription-api': 3000, 'ingest-bridge': 3001, fanout: 3002 } as const;

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const haveKubectl = !kubectl.error && kubectl.status === 0;
if (!haveKubectl)
  console.warn('deploy-checks: kubectl not found; skipping the Kubernetes manifest tests');
const describeWithKubectl = haveKubectl ? describe : describe.skip;

type Labels = Record<string, string>;
interface Container {
  image: string;
  imagePullPolicy: string;
  ports: unknown[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom: { configMapRef: { name: string } }[];
  livenessProbe: { httpGet: unknown };
  readinessProbe: { httpGet: unknown };
  securityContext: unknown;
  resources: Record<string, Record<string, string> | undefined>;
}
interface PodSpec {
  containers: Container[];
  securityContext: unknown;
  terminationGracePeriodSeconds: number;
  volumes: { name: string; configMap?: { name: string; items: { key: string; path: string }[] } }[];
}
/** The fields of the rendered kinds these tests read; the schemas validate everything else. */
interface Spec {
  replicas?: number;
  template: { metadata: { labels: Labels }; spec: PodSpec };
  selector: Labels & { matchLabels: Labels };
  ports: { name: string; port: number; targetPort: string }[];
  scaleTargetRef: unknown;
  minReplicas: number;
  maxReplicas: number;
  endpoints: unknown[];
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Labels };
  spec: Spec;
  data?: Labels;
}

function render(overlay: string): K8sObject[] {
  const result = spawnSync('kubectl', ['kustomize', `deploy/k8s/overlays/${overlay}`], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0)
    throw new Error(`kubectl kustomize ${overlay} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => doc.toJSON() as K8sObject);
}

function validateAgainstSchemas(objects: K8sObject[]) {
  const result = spawnSync(
    process.execPath,
    [path.join(__dirname, '../src/validate-k8s-objects.js')],
    { input: JSON.stringify(objects), encoding: 'utf8', cwd: ROOT },
  );
  if (result.status !== 0) throw new Error(`schema validation crashed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as { kind: string; name: string; error: string | null }[];
}

const find = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

describeWithKubectl.each(OVERLAYS)('overlay %s', (overlay) => {
  const objects = render(overlay);
  const deployments = objects.filter((o) => o.kind === 'Deployment');

  it('renders and every object validates against the Kubernetes schemas', () => {
    const results = validateAgainstSchemas(objects);
    expect(results.filter((r) => r.error !== null)).toEqual([]);
    expect(results).toHaveLength(objects.length);
  });

  it('catches a schema violation (the validator is really applied)', () => {
    const broken = structuredClone(deployments[0]!);
    (
      broken.spec.template.spec.containers[0]!.ports[0] as { containerPort: unknown }
    ).containerPort = 'three thousand';
    expect(validateAgainstSchemas([broken])[0]!.error).toMatch(/containerPort/);
  });

  it('puts everything in the overlay namespace, and defines no Secret', () => {
    const namespaces = new Set(objects.map((o) => o.metadata.namespace));
    expect(namespaces).toEqual(new Set([overlay === 'dev' ? 'herald-dev' : 'herald']));
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  describe.each(Object.entries(APPS))('%s', (app, port) => {
    const name = `herald-${app}`;
    const deployment = find(objects, 'Deployment', name)!;
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0]!;

    it('probes /health/live for liveness and /health/ready for readiness on its port', () => {
      expect(container.ports).toEqual([{ name: 'http', containerPort: port, protocol: 'TCP' }]);
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
      expect(container.env).toContainEqual({
        name: `${app.replace(/-/g, '_').toUpperCase()}_PORT`,
        value: String(port),
      });
    });

    it('runs non-root on a read-only root filesystem with no extra privileges', () => {
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      // The grace period outlasts the preStop pause plus the app's own shutdown timeout (10 s).
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(20);
    });

    it('has resource requests and limits, and a pinned image', () => {
      for (const part of ['requests', 'limits'])
        for (const resource of ['cpu', 'memory'])
          expect([part, resource, container.resources[part]?.[resource]]).not.toContainEqual(
            undefined,
          );
      expect(container.image).toBe(`herald/${app}:${overlay === 'dev' ? 'dev' : '0.1.0'}`);
    });

    it('pulls the moving dev tag on every start, and a pinned release only once', () => {
      // With IfNotPresent, a node that once pulled `dev` would keep that build for good.
      expect(container.imagePullPolicy).toBe(overlay === 'dev' ? 'Always' : 'IfNotPresent');
    });

    it('reads config from the ConfigMap and secrets only by reference', () => {
      const configName = container.envFrom[0]!.configMapRef.name;
      expect(find(objects, 'ConfigMap', configName)).toBeDefined();
      for (const variable of ['HERALD_ADMIN_KEY', 'REDIS_URL']) {
        const env = container.env.find((e) => e.name === variable);
        expect(env).toEqual({ name: variable, valueFrom: { secretKeyRef: expect.any(Object) } });
      }
    });

    it('has a Service, a PodDisruptionBudget and a HorizontalPodAutoscaler selecting it', () => {
      const labels = deployment.spec.template.metadata.labels;
      const selects = (selector: Labels) =>
        Object.entries(selector).every(([k, v]) => labels[k] === v);
      const service = find(objects, 'Service', name)!;
      expect(selects(service.spec.selector)).toBe(true);
      expect(service.spec.ports[0]).toMatchObject({ name: 'http', port, targetPort: 'http' });
      expect(selects(find(objects, 'PodDisruptionBudget', name)!.spec.selector.matchLabels)).toBe(
        true,
      );
      const hpa = find(objects, 'HorizontalPodAutoscaler', name)!;
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
      // The autoscaler owns the replica count; a fixed one would fight it on every apply.
      expect(deployment.spec.replicas).toBeUndefined();
    });
  });

  it('has a ServiceMonitor that selects every Service on its http port', () => {
    const monitor = find(objects, 'ServiceMonitor', 'herald')!;
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.spec.endpoints).toContainEqual(
      expect.objectContaining({ port: 'http', path: '/metrics' }),
    );
    const selector = monitor.spec.selector.matchLabels;
    for (const service of objects.filter((o) => o.kind === 'Service'))
      for (const [key, value] of Object.entries(selector))
        expect(service.metadata.labels?.[key]).toBe(value);
  });

  it('mounts a contract ConfigMap identical to asyncapi/, every file of it', () => {
    const contractDir = path.join(ROOT, 'asyncapi');
    const expected = new Map<string, string>();
    for (const file of readdirSync(contractDir, { recursive: true }) as string[])
      if (/\.ya?ml$/.test(file))
        expected.set(file, readFileSync(path.join(contractDir, file), 'utf8'));
    for (const deployment of deployments) {
      const volume = deployment.spec.template.spec.volumes.find((v) => v.name === 'contract')!;
      const configMap = find(objects, 'ConfigMap', volume.configMap!.name)!;
      const mounted = new Map(
        volume.configMap!.items.map((item) => [item.path, configMap.data![item.key]]),
      );
      // On a mismatch: cp asyncapi/*.yaml deploy/k8s/base/contract/ && cp asyncapi/schemas/* deploy/k8s/base/contract/schemas/
      // and list any new file in base/kustomization.yaml and the Deployments' volume items.
      expect(mounted).toEqual(expected);
    }
  });
});
