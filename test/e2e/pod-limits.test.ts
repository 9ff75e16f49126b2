// pullgate never pushes a Pod past a size limit of the real API server: the annotations' total
// (256 KiB) and the largest object etcd stores (1.5 MiB). Each limit is first shown to be what
// api-server-limits.ts says, then Pods at it are created through pullgate.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ANNOTATIONS_SIZE_LIMIT, ETCD_REQUEST_LIMIT, storedSizeEstimate } from '../../src/admission/api-server-limits.ts';
import { e2e, getJson, unavailable } from './support/env.ts';
import { SECRET_NAME, proxied } from './support/scenario.ts';
import { createServedNamespace } from './support/scope.ts';

const NS = 'pod-limits';
const ANNOTATION = 'pullgate.dev/original-images';
const PRIVATE = 'quay.io/acme/app:1.0';

interface Container {
  name: string;
  image: string;
}

function pod(name: string, containers: Container[], metadata: { annotations?: Record<string, string>; labels?: Record<string, string> } = {}, imagePullSecrets?: { name: string }[]) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, ...metadata }, spec: { automountServiceAccountToken: false, containers, ...(imagePullSecrets ? { imagePullSecrets } : {}) } };
}

const many = (n: number, image: string): Container[] => Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image }));

/** `kubectl create`, returning its stderr (where kubectl prints admission warnings). */
async function create(manifest: object): Promise<{ code: number | null; stderr: string }> {
  const { code, stderr } = await e2e().client.kubectl(['create', '-f', '-'], { input: JSON.stringify(manifest), allowFailure: true, timeoutMs: 90_000 });
  return { code, stderr };
}

/** ValidateAnnotationsSize's count, written out here on its own. */
function annotationBytes(annotations: Record<string, string> = {}): number {
  return Object.entries(annotations).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value), 0);
}

/**
 * The Pod as etcd holds it: protobuf, read back from the API server after clearing managedFields
 * (which it drops anyway before refusing an object as too large).
 */
async function storedPod(name: string): Promise<{ json: Record<string, any>; protobufBytes: number }> {
  const { client, env } = e2e();
  await client.kubectl(['patch', 'pod', name, '-n', NS, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/metadata/managedFields', value: [{}] }])]);
  const json = await getJson(client, ['pod', name, '-n', NS]);
  const user = (parse(readFileSync(env.cluster!.kubeconfigPath, 'utf8')) as { users: { user: Record<string, string> }[] }).users[0]!.user;
  const url = new URL(`${env.cluster!.server}/api/v1/namespaces/${NS}/pods/${name}`);
  const protobufBytes = await new Promise<number>((resolve, reject) => {
    const req = request(url, {
      ca: env.cluster!.caPem,
      cert: Buffer.from(user['client-certificate-data']!, 'base64'),
      key: Buffer.from(user['client-key-data']!, 'base64'),
      headers: { accept: 'application/vnd.kubernetes.protobuf' },
    }, (res) => {
      let size = 0;
      res.on('data', (chunk: Buffer) => (size += chunk.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(size) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  return { json, protobufBytes };
}

describe.skipIf(unavailable)('Pods at the API server size limits', () => {
  beforeAll(async () => {
    if (unavailable) return;
    await createServedNamespace(NS);
  });
  afterAll(async () => {
    if (unavailable) return;
    await e2e().client.kubectl(['delete', 'namespace', NS, '--wait=false'], { allowFailure: true });
  });

  describe('annotations: 256 KiB in all', () => {
    it('is the API server limit: a total of exactly 262144 bytes (UTF-8) is stored, one more refused', async () => {
      // Public images: pullgate changes nothing. Two-byte characters: the count is in bytes.
      const annotations = (total: number) => ({ a: `${'é'.repeat((total - 1) >> 1)}${(total - 1) % 2 ? 'x' : ''}` });
      expect(annotationBytes(annotations(ANNOTATIONS_SIZE_LIMIT))).toBe(262_144);
      const at = await create(pod('annotations-at-limit', [{ name: 'c', image: 'nginx:1.27' }], { annotations: annotations(ANNOTATIONS_SIZE_LIMIT) }));
      expect(at).toEqual({ code: 0, stderr: '' });
      const over = await create(pod('annotations-over-limit', [{ name: 'c', image: 'nginx:1.27' }], { annotations: annotations(ANNOTATIONS_SIZE_LIMIT + 1) }));
      expect(over.code).not.toBe(0);
      expect(over.stderr).toContain('metadata.annotations: Too long');
    });

    const record = JSON.stringify({ 'containers/app': PRIVATE });
    const padded = (name: string, total: number) =>
      pod(name, [{ name: 'app', image: PRIVATE }], { annotations: { pad: 'x'.repeat(total - Buffer.byteLength(ANNOTATION) - record.length - 'pad'.length) } });

    it('records the original images when that ends the total exactly at the limit', async () => {
      const { client } = e2e();
      expect(await create(padded('record-at-limit', ANNOTATIONS_SIZE_LIMIT))).toEqual({ code: 0, stderr: '' });
      const stored = await getJson(client, ['pod', 'record-at-limit', '-n', NS]);
      expect(stored.metadata.annotations[ANNOTATION]).toBe(record);
      expect(annotationBytes(stored.metadata.annotations)).toBe(ANNOTATIONS_SIZE_LIMIT);
      expect(stored.spec.containers[0].image).toBe(proxied(PRIVATE));
    });

    it('admits a Pod one byte over rewritten, without the annotation, with a warning', async () => {
      const { client } = e2e();
      const result = await create(padded('record-over-limit', ANNOTATIONS_SIZE_LIMIT + 1));
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(`Warning: pullgate: annotation "${ANNOTATION}" left out: it would take the Pod's annotations to ${ANNOTATIONS_SIZE_LIMIT + 1} bytes, past the API server's limit of ${ANNOTATIONS_SIZE_LIMIT}`);
      const stored = await getJson(client, ['pod', 'record-over-limit', '-n', NS]);
      expect(Object.keys(stored.metadata.annotations)).toEqual(['pad']);
      expect(stored.spec.containers[0].image).toBe(proxied(PRIVATE));
      expect(stored.spec.imagePullSecrets).toEqual([{ name: SECRET_NAME }]);
    });
  });

  describe('the stored object: etcd takes at most 1.5 MiB', () => {
    it('admits a 10,000-container Pod with every image proxied, leaving out the annotation its originals would take past 256 KiB', async () => {
      const { client } = e2e();
      const result = await create(pod('wide', many(10_000, PRIVATE)));
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/^Warning: pullgate: annotation "pullgate\.dev\/original-images" left out: it would take the Pod's annotations to \d+ bytes/);
      const images = (await client.kubectl(['get', 'pod', 'wide', '-n', NS, '-o', 'jsonpath={.spec.containers[*].image}'])).stdout.split(' ');
      expect(images).toHaveLength(10_000);
      expect(new Set(images)).toEqual(new Set([proxied(PRIVATE)]));

      const { json, protobufBytes } = await storedPod('wide');
      expect(json.metadata.annotations).toBeUndefined();
      // pullgate's estimate bounds the stored size from above, and not by much.
      const estimate = storedSizeEstimate(json);
      console.info(`10,000 containers, rewritten: ${protobufBytes} bytes stored, ${estimate} estimated`);
      expect(estimate).toBeGreaterThanOrEqual(protobufBytes);
      expect(estimate).toBeLessThan(protobufBytes * 1.2);
    });

    const NEAR = 17_500;

    it('admits a Pod near the limit with its images unchanged, and says why', async () => {
      const { client } = e2e();
      const result = await create(pod('near-limit', many(NEAR, PRIVATE)));
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(new RegExp(`^Warning: pullgate: proxying ${NEAR} images could take the Pod past the largest object the API server stores \\(1\\.5 MiB in etcd; \\d+ bytes estimated\\); left unchanged\\n$`));
      const images = (await client.kubectl(['get', 'pod', 'near-limit', '-n', NS, '-o', 'jsonpath={.spec.containers[*].image}'])).stdout.split(' ');
      expect(new Set(images)).toEqual(new Set([PRIVATE]));

      const { json, protobufBytes } = await storedPod('near-limit');
      expect(json.spec.imagePullSecrets).toBeUndefined();
      const estimate = storedSizeEstimate(json);
      console.info(`${NEAR} containers, unchanged: ${protobufBytes} bytes stored, ${estimate} estimated`);
      expect(protobufBytes).toBeGreaterThan(0.9 * ETCD_REQUEST_LIMIT);
      expect(protobufBytes).toBeLessThan(ETCD_REQUEST_LIMIT);
      expect(estimate).toBeGreaterThanOrEqual(protobufBytes);
    });

    it('rewritten, that Pod could not have been stored', async () => {
      // The Pod as pullgate would have made it, sent where pullgate does not see it (opted out).
      const rewritten = pod('near-limit-rewritten', many(NEAR, proxied(PRIVATE)), { labels: { 'pullgate.dev/inject': 'disabled' } }, [{ name: SECRET_NAME }]);
      const result = await create(rewritten);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('etcdserver: request is too large');
    });
  });
});
