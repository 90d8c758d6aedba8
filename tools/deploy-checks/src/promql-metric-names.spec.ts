import { metricNamesIn } from './promql-metric-names';

describe('metricNamesIn', () => {
  it('finds the metrics under functions, aggregations and binary operators', () => {
    expect(
      metricNamesIn(
        'sum(rate(a_total{outcome="delivered"}[5m])) / sum by (le, transport) (rate(b_bucket[$__rate_interval]))',
      ),
    ).toEqual(['a_total', 'b_bucket']);
  });

  it('ignores label values, grouping labels, keywords, offsets and numbers', () => {
    expect(
      metricNamesIn(
        'sum(x{route="/health/ready", job=~"herald-.+"} offset 1d) > 1e3 and on (job) y unless max without (instance) (z) > 850 * 1024',
      ),
    ).toEqual(['x', 'y', 'z']);
  });

  it('treats a name followed by a parenthesis as a function, not a metric', () => {
    expect(metricNamesIn('time() - process_start_time_seconds')).toEqual([
      'process_start_time_seconds',
    ]);
    expect(metricNamesIn('histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))')).toEqual([
      'h_bucket',
    ]);
  });
});
