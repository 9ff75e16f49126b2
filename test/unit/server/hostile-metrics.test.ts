// Metric labels a request could choose: every label comes from a fixed set, so thousands of reviews
// with made-up operations and subresources add no series and the metrics page does not grow.
import { Agent } from 'node:https';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../src/errors.ts';
import { locationLabel, operationLabel, OTHER } from '../../../src/server/metrics.ts';
import { send } from '../../support/http.ts';
import { pod, review } from '../../support/reviews.ts';
import { hostileServer, seriesOf, type Hostile } from './hostile-harness.ts';

const REVIEWS = 3_000;

let h: Hostile;
let agent: Agent;
beforeAll(async () => {
  h = await hostileServer();
  agent = new Agent({ keepAlive: true, maxSockets: 8, ca: h.ca });
});
afterAll(async () => {
  agent.destroy();
  await h.close();
});

/** `length` random printable ASCII characters. */
function randomText(length: number): string {
  return Array.from(randomBytes(length), (b) => String.fromCharCode(0x21 + (b % 94))).join('');
}

/** POSTs every body, eight at a time over kept-alive connections, and returns the statuses seen. */
async function postAll(bodies: Array<() => unknown>): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = JSON.stringify(bodies[next++]!());
      const answer = await send(h.port, { method: 'POST', path: '/mutate', ca: h.ca, agent, headers: { 'content-type': 'application/json' }, body });
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return statuses;
}

/** The label values of one label across the page's series. */
function labelValues(page: string, label: string): Set<string> {
  return new Set([...page.matchAll(new RegExp(`${label}="([^"]*)"`, 'g'))].map((m) => m[1]!));
}

const privatePod = () => pod('p', [{ name: 'a', image: 'quay.io/acme/a:1' }]);

describe('metric labels under made-up operations', () => {
  it(`${REVIEWS} reviews with random 1,000-character operations are refused and add no series`, { timeout: 120_000 }, async () => {
    const body = () => ({ ...review(privatePod()), request: { ...review(privatePod()).request, operation: randomText(1000) } });
    // One first, so that its refusal's series exists; then the page must not change shape.
    await postAll([body]);
    const before = await h.scrape();
    const statuses = await postAll(Array.from({ length: REVIEWS }, () => body));
    expect(Object.fromEntries(statuses)).toEqual({ 400: REVIEWS });
    const after = await h.scrape();
    expect(seriesOf(after)).toHaveLength(seriesOf(before).length);
    expect(after.length).toBeLessThan(before.length + 64);
    expect(after).toMatch(new RegExp(`^pullgate_rejected_requests_total\\{code="INVALID_FIELD"\\} ${REVIEWS + 1}$`, 'm'));
  });

  it(`${REVIEWS} reviews with random operations and subresources the fields allow are answered, counted as "other"`, { timeout: 120_000 }, async () => {
    const body = () => {
      const r = review(privatePod(), { subResource: Math.random() < 0.5 ? randomText(1 + (randomBytes(1)[0]! % 200)) : 'ephemeralcontainers' });
      return { ...r, request: { ...r.request, operation: randomText(1 + (randomBytes(1)[0]! % 250)) } };
    };
    await postAll([body]);
    const before = await h.scrape();
    const statuses = await postAll(Array.from({ length: REVIEWS }, () => body));
    expect(Object.fromEntries(statuses)).toEqual({ 200: REVIEWS });
    const after = await h.scrape();
    expect(seriesOf(after)).toHaveLength(seriesOf(before).length);
    expect(after.length).toBeLessThan(before.length + 64);
    expect(after).toMatch(new RegExp(`^pullgate_admission_requests_total\\{operation="other",decision="ignored"\\} ${REVIEWS + 1}$`, 'm'));
  });

  it('leaves only fixed label values on the page, however many reviews came', async () => {
    await postAll([
      () => review(privatePod(), { uid: 'u1' }),
      () => review(privatePod(), { operation: 'UPDATE', oldObject: privatePod() }),
      () => review(privatePod(), { operation: 'UPDATE', subResource: 'ephemeralcontainers', oldObject: privatePod() }),
      () => review(privatePod(), { operation: 'CONNECT', subResource: 'exec' }),
    ]);
    const page = await h.scrape();
    for (const operation of labelValues(page, 'operation')) {
      expect(operation).toMatch(/^(CREATE|UPDATE|DELETE|CONNECT)(\/[a-z]+)?$|^other$/);
    }
    expect([...labelValues(page, 'operation')]).toEqual(expect.arrayContaining(['CREATE', 'UPDATE', 'UPDATE/ephemeralcontainers', 'CONNECT/exec', 'other']));
    for (const code of labelValues(page, 'code')) expect(ERROR_CODES).toContain(code);
    for (const location of labelValues(page, 'location')) expect(['containers', 'initContainers', 'ephemeralContainers', 'volumes']).toContain(location);
    for (const decision of labelValues(page, 'decision')) expect(['ignored', 'out-of-scope', 'opted-out', 'unchanged', 'mutated', 'error']).toContain(decision);
    // Every series there is: a bounded page, whatever the traffic was.
    expect(seriesOf(page).length).toBeLessThan(200);
  });
});

describe('label functions', () => {
  it('map what is known and nothing else', () => {
    expect(operationLabel('CREATE', undefined)).toBe('CREATE');
    expect(operationLabel('UPDATE', 'ephemeralcontainers')).toBe('UPDATE/ephemeralcontainers');
    expect(operationLabel('UPDATE', '')).toBe('UPDATE');
    expect(operationLabel('create', undefined)).toBe(OTHER);
    expect(operationLabel('CREATE', 'anything')).toBe(OTHER);
    expect(operationLabel('constructor', undefined)).toBe(OTHER);
    expect(operationLabel('UPDATE', 'constructor')).toBe(OTHER);
    expect(locationLabel('containers/web')).toBe('containers');
    expect(locationLabel('volumes/v/x')).toBe('volumes');
    expect(locationLabel('__proto__/x')).toBe(OTHER);
    expect(locationLabel('containers')).toBe('containers');
  });
});
