// Validates Kubernetes objects against the API schemas shipped by kubernetes-models (and the
// prometheus-operator CRD models). Reads a JSON array of objects on stdin, prints a JSON array
// of {apiVersion, kind, name, error} on stdout (error null when valid).
//
// A separate process because those packages are ES modules only, which Jest's CommonJS runtime
// cannot import; plain Node loads them with import().
const MODELS = {
  'v1/ConfigMap': ['kubernetes-models/v1/ConfigMap', 'ConfigMap'],
  'v1/Secret': ['kubernetes-models/v1/Secret', 'Secret'],
  'v1/Service': ['kubernetes-models/v1/Service', 'Service'],
  'v1/ServiceAccount': ['kubernetes-models/v1/ServiceAccount', 'ServiceAccount'],
  'apps/v1/Deployment': ['kubernetes-models/apps/v1/Deployment', 'Deployment'],
  'policy/v1/PodDisruptionBudget': [
    'kubernetes-models/policy/v1/PodDisruptionBudget',
    'PodDisruptionBudget',
  ],
  'autoscaling/v2/HorizontalPodAutoscaler': [
    'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    'HorizontalPodAutoscaler',
  ],
  'monitoring.coreos.com/v1/ServiceMonitor': [
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
    'ServiceMonitor',
  ],
  'monitoring.coreos.com/v1/PrometheusRule': [
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule',
    'PrometheusRule',
  ],
};

async function validate(object) {
  const id = `${object.apiVersion}/${object.kind}`;
  const result = { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata?.name };
  const model = MODELS[id];
  // An object of a kind we have no model for is an error: it would otherwise pass unchecked.
  if (!model) return { ...result, error: `no schema known for ${id}` };
  const [specifier, exportName] = model;
  const Model = (await import(specifier))[exportName];
  try {
    new Model(object).validate();
    return { ...result, error: null };
  } catch (error) {
    return { ...result, error: error.message };
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const objects = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const results = [];
  for (const object of objects) results.push(await validate(object));
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
