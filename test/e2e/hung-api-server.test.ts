// An API server that accepts connections and never answers: pullgate must keep answering every
// admission within its budget, with a warning, while the calls it has waiting on the API server
// stay bounded and its memory stays flat. Four minutes at ten Pods a second.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHangProxy, type HangProxy } from '../support/hang-proxy.ts';
import { pod, review } from '../support/reviews.ts';
import { postReview } from '../support/http.ts';
import { e2e, unavailable } from './support/env.ts';
import { sample, scrapeMetrics } from './support/metrics.ts';
import { startPullgateInCluster, type PullgateInstance } from './support/pullgate-in-cluster.ts';
import { configYaml } from './support/scenario.ts';

const DURATION_MS = Number(process.env.HUNG_API_SECONDS ?? 240) * 1000;
const RATE_PER_SECOND = 10;
// Distinct namespaces the Pods go to: more than pullgate may have calls in flight, so its bound is what holds.
const NAMESPACES = 60;
/** pullgate's admission budget for the pull secret is 5 s; allow scheduling slack on a busy machine. */
const ANSWER_WITHIN_MS = 6_500;
/** The bound pullgate sets on Kubernetes API calls in flight (src/server/start.ts). */
const MAX_IN_FLIGHT = 32;

describe.skipIf(unavailable)('a hung API server', () => {
  let proxy: HangProxy | undefined;
  let hung: PullgateInstance | undefined;

  beforeAll(async () => {
    const { client, env } = e2e();
    const server = new URL(env.cluster!.server);
    proxy = await startHangProxy({ host: server.hostname, port: Number(server.port) });
    // Every namespace by name ("*"), so each Pod's namespace needs its pull secret created by admission.
    hung = await startPullgateInCluster(env.cluster!, client, {
      name: 'hung-api',
      apiServerUrl: `https://127.0.0.1:${proxy.port}`,
      // The heap a 256 MiB container limit would give it: V8 sizes an unbounded heap from the
      // machine's memory and grows it long after the load is steady, which is not a leak.
      nodeArgs: ['--max-old-space-size=128'],
      configYaml: (license) => configYaml(license).replace(/additional: \[[^\]]*\]/, 'additional: ["*"]').replace(/\n  application: .*\n/, '\n'),
    });
  }, 120_000);

  afterAll(async () => {
    await hung?.stop();
    await proxy?.close();
  });

  it('answers every admission within its budget, with bounded pending calls and flat memory', async () => {
    proxy!.hang();
    const latencies: number[] = [];
    const unanswered: string[] = [];
    const samples: Array<{ at: number; inFlight: number; rss: number; heap: number; heapTotal: number; external: number; handles: number }> = [];
    const started = Date.now();
    let sent = 0;
    const inFlight = new Set<Promise<void>>();

    const sampler = setInterval(() => {
      void scrapeMetrics(hung!.metricsPort).then((text) =>
        samples.push({
          at: Date.now() - started,
          inFlight: sample(text, 'pullgate_api_calls_in_flight'),
          rss: sample(text, 'pullgate_process_resident_memory_bytes'),
          heap: sample(text, 'pullgate_nodejs_heap_size_used_bytes'),
          heapTotal: sample(text, 'pullgate_nodejs_heap_size_total_bytes'),
          external: sample(text, 'pullgate_nodejs_external_memory_bytes'),
          handles: sample(text, 'pullgate_nodejs_active_handles_total'),
        }),
      );
    }, 5_000);
    try {
      while (Date.now() - started < DURATION_MS) {
        const due = started + (sent * 1000) / RATE_PER_SECOND;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        const namespace = `hung-${sent % NAMESPACES}`;
        const body = review(pod(`p-${sent}`, [{ name: 'app', image: 'quay.io/acme/app:1' }], { namespace }), { namespace });
        sent += 1;
        const t0 = Date.now();
        const request = postReview(hung!.port, hung!.ca, body).then(
          (answer) => {
            latencies.push(Date.now() - t0);
            const response = answer.json().response;
            if (answer.status !== 200 || response.allowed !== true || response.patchType !== 'JSONPatch') unanswered.push(`${body.request.uid}: ${answer.status} ${answer.text.slice(0, 200)}`);
            else if (!response.warnings?.some((w: string) => w.includes('could not ensure pull secret'))) unanswered.push(`${body.request.uid}: no warning about the pull secret`);
          },
          (err: Error) => void unanswered.push(`${body.request.uid}: ${err.message}`),
        );
        const tracked = request.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
      }
      await Promise.all(inFlight);
    } finally {
      clearInterval(sampler);
      proxy!.resume();
    }

    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
    const maxInFlight = Math.max(...samples.map((s) => s.inFlight));
    const mib = (b: number) => Math.round(b / 1024 / 1024);
    const late = samples.filter((s) => s.at > DURATION_MS / 2);
    const early = samples.filter((s) => s.at > DURATION_MS / 8 && s.at <= DURATION_MS / 2);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    console.log(
      `[figure] hung API server, ${sent} admissions over ${DURATION_MS / 1000} s: latency p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${latencies.at(-1)} ms; ` +
        `API calls in flight max ${maxInFlight} (bound ${MAX_IN_FLIGHT}); RSS ${mib(early[0]?.rss ?? 0)} → ${mib(samples.at(-1)?.rss ?? 0)} MiB ` +
        `(mean ${mib(mean(early.map((s) => s.rss)))} MiB in the first half, ${mib(mean(late.map((s) => s.rss)))} MiB in the second), heap used mean ${mib(mean(early.map((s) => s.heap)))} → ${mib(mean(late.map((s) => s.heap)))} MiB`,
    );

    if (process.env.HUNG_API_SAMPLES) console.log(samples.map((s) => `${s.at} inflight=${s.inFlight} rss=${mib(s.rss)} heap=${mib(s.heap)}/${mib(s.heapTotal)} ext=${mib(s.external)} handles=${s.handles}`).join('\n'));
    expect(unanswered).toEqual([]);
    expect(latencies).toHaveLength(sent);
    expect(latencies.at(-1)!).toBeLessThan(ANSWER_WITHIN_MS);
    expect(samples.length).toBeGreaterThan(DURATION_MS / 5_000 / 2);
    expect(maxInFlight).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    // Flat: no growth from the first half to the second beyond noise (a leak of one call per
    // admission would add hundreds of MiB over this run); and the heap left after collections —
    // its lowest samples — holds steady.
    expect(mean(late.map((s) => s.rss)) - mean(early.map((s) => s.rss))).toBeLessThan(24 * 1024 * 1024);
    const floor = (xs: typeof samples) => Math.min(...xs.map((s) => s.heap));
    expect(floor(late) - floor(early)).toBeLessThan(8 * 1024 * 1024);
  }, DURATION_MS + 120_000);
});
