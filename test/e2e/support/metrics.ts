// pullgate's Prometheus metrics, read the way a scraper does.
import { get } from 'node:http';

/** The text of `GET /metrics` on pullgate's metrics port. */
export function scrapeMetrics(metricsPort: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get(`http://127.0.0.1:${metricsPort}/metrics`, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** The value of one sample in Prometheus text format; 0 when the series does not exist yet. */
export function sample(metrics: string, series: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
