import { MetricsRegistry } from './metrics.registry';

describe('MetricsRegistry', () => {
  it('holds default process metrics and the HTTP histogram, labelled with the service', async () => {
    const metrics = new MetricsRegistry('unit');
    metrics.httpRequestDuration.observe({ route: '/x', method: 'GET', status_class: '2xx' }, 0.01);
    const text = await metrics.metrics();
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(text).toContain('# TYPE herald_http_request_duration_seconds histogram');
    expect(text).toContain(
      'herald_http_request_duration_seconds_count{service="unit",route="/x",method="GET",status_class="2xx"} 1',
    );
    expect(metrics.contentType()).toContain('text/plain');
  });

  it('keeps registries of two instances apart', async () => {
    const a = new MetricsRegistry('a');
    const b = new MetricsRegistry('b');
    a.httpRequestDuration.observe({ route: '/a', method: 'GET', status_class: '2xx' }, 1);
    expect(await b.metrics()).not.toContain('route="/a"');
  });
});
