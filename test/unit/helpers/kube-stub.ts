// An in-memory Kubernetes API server for unit tests: Namespaces, Secrets, Leases and
// MutatingWebhookConfigurations, with a global
// resourceVersion, conflicts, lists and watches — enough for pullgate's real client (the
// @kubernetes/client-node API classes and its ListWatch) to run against it. A test changes what
// the stub stores as the cluster's other clients would (every change is a watch event), sees
// every call pullgate made, and can answer any call with an error of its choice or not at all.
// The real API server is exercised by the e2e tests.
//
// Namespaces are read-only through the API (tests add, label and delete them); Secrets need no
// Namespace to exist.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { stringify } from 'yaml';
import type { TlsFixture } from './tls.ts';

export interface StubCall {
  method: string;
  path: string;
  /** The namespace the call is about: the path's, or the Namespace read; '' for a cluster-wide call. */
  namespace: string;
  query: Record<string, string>;
  /** A watch request (`?watch=true`). */
  watch: boolean;
  body?: unknown;
}

/** An answer chosen by a test instead of the stub's own: a status and body, or none at all. */
export type StubReply = { status: number; body: unknown } | 'hang';

export interface HungRequest {
  call: StubCall;
  /** Resolves when the request is over: the client closed its connection, or it was released and answered. */
  closed: Promise<void>;
  /** Lets the stub answer it after all, as it would have (a no-op once the client has gone). */
  release(): void;
}

export interface StubWatch {
  call: StubCall;
  /** Resolves when the watch connection has ended, whichever side ended it. */
  closed: Promise<void>;
  isOpen(): boolean;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** The stored objects of one resource, by `namespace/name` (by `name` for Namespaces). A change made here is a watch event. */
export class ObjectStore extends Map<string, KubeObject> {
  readonly #resource: Resource;
  readonly #changed: (resource: Resource, type: EventType, object: KubeObject) => KubeObject;

  constructor(resource: Resource, changed: (resource: Resource, type: EventType, object: KubeObject) => KubeObject) {
    super();
    this.#resource = resource;
    this.#changed = changed;
  }

  /** Stores `object` under `key` as the API server would: name and namespace from the key, a uid, the next resourceVersion. */
  override set(key: string, object: KubeObject): this {
    const previous = super.get(key);
    const [namespace, name] = this.#resource.namespaced ? splitKey(key) : [undefined, key];
    const stored = structuredClone({
      apiVersion: this.#resource.apiVersion,
      kind: this.#resource.kind,
      ...(this.#resource.kind === 'Namespace' ? { status: { phase: 'Active' } } : {}),
      ...object,
      metadata: {
        creationTimestamp: (previous?.metadata?.creationTimestamp as string | undefined) ?? new Date().toISOString(),
        ...object.metadata,
        name,
        ...(namespace !== undefined ? { namespace } : {}),
        uid: object.metadata?.uid ?? previous?.metadata?.uid ?? randomUUID(),
      },
    });
    super.set(key, this.#changed(this.#resource, previous ? 'MODIFIED' : 'ADDED', stored));
    return this;
  }

  override delete(key: string): boolean {
    const previous = super.get(key);
    if (!previous) return false;
    super.delete(key);
    this.#changed(this.#resource, 'DELETED', structuredClone(previous));
    return true;
  }

  override clear(): void {
    for (const key of [...this.keys()]) this.delete(key);
  }
}

export interface KubeStub {
  url: string;
  /** Every request, in order of arrival. */
  calls: StubCall[];
  /** Consulted for every call before the stub answers; undefined lets the stub answer. */
  intercept?: (call: StubCall) => StubReply | undefined;
  /** Requests answered with 'hang', in order. */
  hung: HungRequest[];
  /** Every watch request the stub answered, in order. */
  watches: StubWatch[];
  namespaces: ObjectStore;
  secrets: ObjectStore;
  leases: ObjectStore;
  /** MutatingWebhookConfigurations, by name. */
  webhookConfigurations: ObjectStore;
  /** The latest resourceVersion handed out. */
  resourceVersion(): number;
  callsFor(namespace: string): StubCall[];
  openWatches(): StubWatch[];
  /** TCP connections open to the stub now, from any client. */
  connections(): number;
  addNamespace(name: string, labels?: Record<string, string>): KubeObject;
  /** Sets (a string) or removes (null) labels of an existing Namespace. */
  labelNamespace(name: string, labels: Record<string, string | null>): KubeObject;
  /** Deletes a Namespace and everything stored in it. */
  deleteNamespace(name: string): void;
  writeKubeconfig(path: string): string;
  /** Ends every watch and closes the server. */
  close(): Promise<void>;
}

interface Resource {
  /** As in URLs and Status details: namespaces, secrets, leases. */
  plural: string;
  kind: string;
  apiVersion: string;
  namespaced: boolean;
  /** Only tests change these. */
  readOnly?: boolean;
}

const NAMESPACES: Resource = { plural: 'namespaces', kind: 'Namespace', apiVersion: 'v1', namespaced: false, readOnly: true };
const SECRETS: Resource = { plural: 'secrets', kind: 'Secret', apiVersion: 'v1', namespaced: true };
const LEASES: Resource = { plural: 'leases', kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', namespaced: true };
const WEBHOOK_CONFIGURATIONS: Resource = { plural: 'mutatingwebhookconfigurations', kind: 'MutatingWebhookConfiguration', apiVersion: 'admissionregistration.k8s.io/v1', namespaced: false };

/** A request's target: one object (name), or a collection in a namespace or across all of them. */
interface Target {
  resource: Resource;
  namespace?: string;
  name?: string;
}

function routeOf(path: string): Target | undefined {
  const d = (s: string | undefined) => (s === undefined ? undefined : decodeURIComponent(s));
  let m: RegExpExecArray | null;
  if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(path))) return { resource: SECRETS, namespace: d(m[1]), name: d(m[2]) };
  if (path === '/api/v1/secrets') return { resource: SECRETS };
  if ((m = /^\/api\/v1\/namespaces(?:\/([^/]+))?$/.exec(path))) return { resource: NAMESPACES, name: d(m[1]) };
  if ((m = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(path))) return { resource: LEASES, namespace: d(m[1]), name: d(m[2]) };
  if ((m = /^\/apis\/admissionregistration\.k8s\.io\/v1\/mutatingwebhookconfigurations(?:\/([^/]+))?$/.exec(path))) return { resource: WEBHOOK_CONFIGURATIONS, name: d(m[1]) };
  return undefined;
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  if (slash < 0) throw new Error(`a namespaced object's key is namespace/name, got "${key}"`);
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** A Kubernetes Status body, as the API server sends with an error. */
export function kubeStatus(code: number, reason: string, message: string) {
  return { apiVersion: 'v1', kind: 'Status', metadata: {}, status: 'Failure', code, reason, message };
}

/**
 * A field selector as a predicate, or the reason it is not supported: `metadata.name` and
 * `metadata.namespace` with `=`, `==` or `!=`, joined by commas.
 */
function fieldSelector(selector: string | undefined): ((o: KubeObject) => boolean) | string {
  const tests: Array<(o: KubeObject) => boolean> = [];
  for (const term of (selector ?? '').split(',').filter(Boolean)) {
    const m = /^metadata\.(name|namespace)(==|=|!=)(.*)$/.exec(term);
    if (!m) return `field selector "${term}" is not supported by the stub`;
    const [, field, op, value] = m as unknown as [string, 'name' | 'namespace', string, string];
    tests.push((o) => ((o.metadata?.[field] ?? '') === value) === (op !== '!='));
  }
  return (o) => tests.every((t) => t(o));
}

export async function startKubeStub(tls: TlsFixture): Promise<KubeStub> {
  const calls: StubCall[] = [];
  const hung: HungRequest[] = [];
  const watches: StubWatch[] = [];
  const history: Array<{ resourceVersion: number; resource: Resource; type: EventType; object: KubeObject }> = [];
  const watchers = new Set<{ resource: Resource; matches: (o: KubeObject) => boolean; res: ServerResponse }>();
  let resourceVersion = 0;

  const writeEvent = (res: ServerResponse, type: EventType, object: KubeObject) => void res.write(`${JSON.stringify({ type, object })}\n`);
  /** Every change goes through here: the next resourceVersion, a history entry, and an event to each matching watch. */
  const changed = (resource: Resource, type: EventType, object: KubeObject): KubeObject => {
    object.metadata = { ...object.metadata, resourceVersion: String(++resourceVersion) };
    history.push({ resourceVersion, resource, type, object });
    for (const w of watchers) if (w.resource === resource && w.matches(object)) writeEvent(w.res, type, object);
    return object;
  };
  const stores = new Map<Resource, ObjectStore>([NAMESPACES, SECRETS, LEASES, WEBHOOK_CONFIGURATIONS].map((r) => [r, new ObjectStore(r, changed)]));
  const storeOf = (resource: Resource) => stores.get(resource)!;

  const send = (res: ServerResponse, code: number, value: unknown) => {
    if (res.destroyed || res.headersSent) return;
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  };
  const notFound = (t: Target) => kubeStatus(404, 'NotFound', `${t.resource.plural} "${t.name}" not found`);
  const conflict = (t: Target, why: string) => kubeStatus(409, 'Conflict', `Operation cannot be fulfilled on ${t.resource.plural} "${t.name}": ${why}`);

  function watch(target: Target, call: StubCall, matches: (o: KubeObject) => boolean, res: ServerResponse): void {
    if (res.destroyed) return; // released after the client had gone
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    const watcher = { resource: target.resource, matches, res };
    let open = true;
    const closed = new Promise<void>((resolve) =>
      res.once('close', () => {
        open = false;
        watchers.delete(watcher);
        resolve();
      }),
    );
    watches.push({ call, closed, isOpen: () => open });
    // From a resourceVersion: what changed since. Without one: every current object, as ADDED.
    const since = Number(call.query.resourceVersion || 0);
    if (since > 0) {
      for (const e of history) if (e.resourceVersion > since && e.resource === target.resource && matches(e.object)) writeEvent(res, e.type, e.object);
    } else {
      for (const object of storeOf(target.resource).values()) if (matches(object)) writeEvent(res, 'ADDED', object);
    }
    watchers.add(watcher);
  }

  /** The stub's own answer to a call on `target`. */
  function answer(target: Target | undefined, call: StubCall, res: ServerResponse): void {
    if (!target) return send(res, 404, kubeStatus(404, 'NotFound', `the stub does not serve ${call.path}`));
    const { resource, namespace, name } = target;
    const store = storeOf(resource);
    const body = call.body as KubeObject | undefined;
    const key = (n: string) => (resource.namespaced ? `${namespace}/${n}` : n);
    if (resource.readOnly && call.method !== 'GET') return send(res, 405, kubeStatus(405, 'MethodNotAllowed', `the stub's ${resource.plural} are changed by tests only`));

    if (name === undefined && call.method === 'GET') {
      const selected = fieldSelector(call.query.fieldSelector);
      if (typeof selected === 'string') return send(res, 400, kubeStatus(400, 'BadRequest', selected));
      if (call.query.labelSelector) return send(res, 400, kubeStatus(400, 'BadRequest', 'label selectors are not supported by the stub'));
      const matches = (o: KubeObject) => (namespace === undefined || o.metadata?.namespace === namespace) && selected(o);
      if (call.watch) return watch(target, call, matches, res);
      const items = [...store.values()].filter(matches);
      return send(res, 200, { apiVersion: resource.apiVersion, kind: `${resource.kind}List`, metadata: { resourceVersion: String(resourceVersion) }, items });
    }
    if (resource.namespaced && namespace === undefined && call.method !== 'GET') return send(res, 405, kubeStatus(405, 'MethodNotAllowed', `${call.method} needs a namespace`));
    if (name === undefined && call.method === 'POST') {
      const created = body?.metadata?.name;
      if (!created) return send(res, 422, kubeStatus(422, 'Invalid', 'metadata.name: Required value'));
      if (body.metadata?.namespace !== undefined && body.metadata.namespace !== namespace) {
        return send(res, 400, kubeStatus(400, 'BadRequest', 'the namespace of the object does not match the namespace on the request'));
      }
      if (store.has(key(created))) return send(res, 409, kubeStatus(409, 'AlreadyExists', `${resource.plural} "${created}" already exists`));
      const { resourceVersion: _ignored, ...metadata } = body.metadata ?? {};
      store.set(key(created), { ...body, metadata });
      return send(res, 201, store.get(key(created)));
    }
    if (name === undefined) return send(res, 405, kubeStatus(405, 'MethodNotAllowed', `${call.method} on a collection`));

    const current = store.get(key(name));
    if (!current) return send(res, 404, notFound(target));
    switch (call.method) {
      case 'GET':
        return send(res, 200, current);
      case 'PUT': {
        if (!body || body.metadata?.name !== name) return send(res, 400, kubeStatus(400, 'BadRequest', 'the name of the object does not match the name on the URL'));
        const expected = body.metadata?.resourceVersion;
        if (expected !== undefined && expected !== current.metadata?.resourceVersion) {
          return send(res, 409, conflict(target, 'the object has been modified; please apply your changes to the latest version and try again'));
        }
        if (resource === SECRETS) {
          // As the API server: a Secret's type never changes, nor an immutable Secret's data.
          if ((body.type ?? 'Opaque') !== (current.type ?? 'Opaque')) return send(res, 422, kubeStatus(422, 'Invalid', `Secret "${name}" is invalid: type: Invalid value: field is immutable`));
          if (current.immutable === true && (JSON.stringify(body.data ?? {}) !== JSON.stringify(current.data ?? {}) || body.immutable !== true)) {
            return send(res, 422, kubeStatus(422, 'Invalid', `Secret "${name}" is invalid: data: Forbidden: field is immutable when \`immutable\` is set`));
          }
        }
        store.set(key(name), body);
        return send(res, 200, store.get(key(name)));
      }
      case 'DELETE': {
        const preconditions = (body as { preconditions?: { uid?: string; resourceVersion?: string } } | undefined)?.preconditions ?? {};
        if (preconditions.uid !== undefined && preconditions.uid !== current.metadata?.uid) {
          return send(res, 409, conflict(target, `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${current.metadata?.uid}`));
        }
        if (preconditions.resourceVersion !== undefined && preconditions.resourceVersion !== current.metadata?.resourceVersion) {
          return send(res, 409, conflict(target, `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${current.metadata?.resourceVersion}`));
        }
        store.delete(key(name));
        return send(res, 200, { apiVersion: 'v1', kind: 'Status', metadata: {}, status: 'Success', details: { name, kind: resource.plural, uid: current.metadata?.uid } });
      }
      default:
        return send(res, 405, kubeStatus(405, 'MethodNotAllowed', `${call.method} is not supported by the stub`));
    }
  }

  let stub: KubeStub;
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://stub');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        return send(res, 400, kubeStatus(400, 'BadRequest', 'the body is not JSON'));
      }
      const target = routeOf(url.pathname);
      const query = Object.fromEntries(url.searchParams);
      const call: StubCall = {
        method: req.method ?? '',
        path: url.pathname,
        namespace: target?.namespace ?? (target?.resource === NAMESPACES ? (target.name ?? '') : ''),
        query,
        watch: query.watch === 'true' || query.watch === '1',
        ...(body !== undefined ? { body } : {}),
      };
      calls.push(call);
      const reply = stub.intercept?.(call);
      if (reply === 'hang') {
        const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
        hung.push({ call, closed, release: () => answer(target, call, res) });
        return;
      }
      if (reply) return send(res, reply.status, reply.body);
      answer(target, call, res);
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const namespaces = storeOf(NAMESPACES);
  stub = {
    url,
    calls,
    hung,
    watches,
    namespaces,
    secrets: storeOf(SECRETS),
    leases: storeOf(LEASES),
    webhookConfigurations: storeOf(WEBHOOK_CONFIGURATIONS),
    resourceVersion: () => resourceVersion,
    callsFor: (namespace) => calls.filter((c) => c.namespace === namespace),
    openWatches: () => watches.filter((w) => w.isOpen()),
    connections: () => sockets.size,
    addNamespace(name, labels = {}) {
      namespaces.set(name, { metadata: { name, labels } });
      return namespaces.get(name)!;
    },
    labelNamespace(name, labels) {
      const ns = namespaces.get(name);
      if (!ns) throw new Error(`no namespace ${name} in the stub`);
      const next: Record<string, string> = { ...ns.metadata?.labels };
      for (const [k, v] of Object.entries(labels)) {
        if (v === null) delete next[k];
        else next[k] = v;
      }
      namespaces.set(name, { ...ns, metadata: { ...ns.metadata, labels: next } });
      return namespaces.get(name)!;
    },
    deleteNamespace(name) {
      for (const store of [storeOf(SECRETS), storeOf(LEASES)]) {
        for (const key of [...store.keys()]) if (key.startsWith(`${name}/`)) store.delete(key);
      }
      namespaces.delete(name);
    },
    writeKubeconfig(path) {
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      writeFileSync(
        path,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'stub', cluster: { server: url, 'certificate-authority-data': b64(tls.caPem) } }],
          users: [{ name: 'stub', user: { token: 'stub-token' } }],
          contexts: [{ name: 'stub', context: { cluster: 'stub', user: 'stub' } }],
          'current-context': 'stub',
        }),
        { mode: 0o600 },
      );
      return path;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const w of watchers) w.res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return stub;
}
