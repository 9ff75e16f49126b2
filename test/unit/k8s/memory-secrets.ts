// An in-memory SecretsApi that answers as the API server does for the calls the reconciler makes:
// resourceVersion and uid assigned on every write, 409 for a stale resourceVersion, an existing
// name or a failed delete precondition, 404 for a missing object, 422 for a change to an immutable
// Secret or to a Secret's type. Failures are built from a real client ApiException whose Status
// message quotes the objects involved (credentials included, as an admission policy's message
// may), turned into ApiCallErrors by the same function kubeSecretsApi uses. A test can look at
// every call, and change the store or choose the answer just before a call is served.
import { ApiException, type V1Secret } from '@kubernetes/client-node';
import { ApiCallBudget } from '../../../src/k8s/api-call-budget.ts';
import { apiCallError } from '../../../src/k8s/api-error.ts';
import type { SecretsApi } from '../../../src/k8s/secrets-api.ts';

export type SecretOp = 'read' | 'create' | 'replace' | 'delete';

export interface SecretCall {
  op: SecretOp;
  namespace: string;
  name: string;
  body?: V1Secret;
  preconditions?: { resourceVersion?: string; uid?: string };
}

/** What a `before` hook can answer instead of the store: an error status, or no answer at all. */
export type Injected = { status: number; reason: string } | 'hang' | void;

const ACTIONS: Record<SecretOp, string> = { read: 'reading', create: 'creating', replace: 'replacing', delete: 'deleting' };

export class MemorySecrets implements SecretsApi {
  readonly calls: SecretCall[] = [];
  readonly #store = new Map<string, V1Secret>();
  /** Runs just before each call is served: change the store (another writer), or answer. */
  before?: (call: SecretCall) => Injected;
  #version = 100;
  #uids = 0;
  readonly #budget: ApiCallBudget;

  /** `hangMs`: the deadline of a call a hook answers with 'hang'. */
  constructor(options: { hangMs?: number } = {}) {
    this.#budget = new ApiCallBudget({ maxInFlight: 100, deadlineMs: options.hangMs ?? 50 });
  }

  ops(): string[] {
    return this.calls.map((c) => c.op);
  }

  get(namespace: string, name: string): V1Secret | undefined {
    const found = this.#store.get(`${namespace}/${name}`);
    return found && structuredClone(found);
  }

  /** Another writer stores `secret` (created or overwritten unconditionally); returns it as stored. */
  put(secret: V1Secret): V1Secret {
    const { namespace, name } = secret.metadata as { namespace: string; name: string };
    const existing = this.#store.get(`${namespace}/${name}`);
    return this.#save({ ...secret, metadata: { ...secret.metadata, uid: existing?.metadata?.uid ?? this.#uid() } });
  }

  /** Another writer deletes it. */
  remove(namespace: string, name: string): void {
    this.#store.delete(`${namespace}/${name}`);
  }

  read(namespace: string, name: string): Promise<V1Secret | undefined> {
    return this.#serve({ op: 'read', namespace, name }, () => this.get(namespace, name)).catch((err: unknown) => {
      if ((err as { status?: number }).status === 404) return undefined;
      throw err;
    });
  }

  create(namespace: string, body: V1Secret): Promise<V1Secret> {
    const name = body.metadata?.name ?? '';
    return this.#serve({ op: 'create', namespace, name, body: structuredClone(body) }, (fail) => {
      if (body.metadata?.resourceVersion) fail(400, 'BadRequest', 'resourceVersion should not be set on objects to be created');
      if (this.#store.has(`${namespace}/${name}`)) fail(409, 'AlreadyExists', `secrets "${name}" already exists`);
      return this.#save({ ...body, metadata: { ...body.metadata, namespace, uid: this.#uid() } });
    });
  }

  replace(namespace: string, name: string, body: V1Secret): Promise<V1Secret> {
    return this.#serve({ op: 'replace', namespace, name, body: structuredClone(body) }, (fail) => {
      const stored = this.#store.get(`${namespace}/${name}`);
      if (!stored) return fail(404, 'NotFound', `secrets "${name}" not found`);
      const expected = body.metadata?.resourceVersion;
      if (expected && expected !== stored.metadata?.resourceVersion) {
        fail(409, 'Conflict', `Operation cannot be fulfilled on secrets "${name}": the object has been modified`);
      }
      if (body.type !== stored.type) fail(422, 'Invalid', `Secret "${name}" is invalid: type: field is immutable`);
      if (stored.immutable === true && (JSON.stringify(body.data) !== JSON.stringify(stored.data) || body.immutable !== true)) {
        fail(422, 'Invalid', `Secret "${name}" is invalid: data: field is immutable when \`immutable\` is set`);
      }
      return this.#save({ ...body, metadata: { ...body.metadata, namespace, uid: stored.metadata?.uid } });
    });
  }

  async delete(namespace: string, name: string, preconditions: { resourceVersion?: string; uid?: string }): Promise<void> {
    await this.#serve({ op: 'delete', namespace, name, preconditions: { ...preconditions } }, (fail) => {
      const stored = this.#store.get(`${namespace}/${name}`);
      if (!stored) return fail(404, 'NotFound', `secrets "${name}" not found`);
      if (preconditions.uid !== undefined && preconditions.uid !== stored.metadata?.uid) {
        fail(409, 'Conflict', `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${stored.metadata?.uid}`);
      }
      if (preconditions.resourceVersion !== undefined && preconditions.resourceVersion !== stored.metadata?.resourceVersion) {
        fail(409, 'Conflict', `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${stored.metadata?.resourceVersion}`);
      }
      this.#store.delete(`${namespace}/${name}`);
    });
  }

  #uid(): string {
    return `uid-${++this.#uids}`;
  }

  #save(secret: V1Secret): V1Secret {
    const saved: V1Secret = structuredClone({ ...secret, metadata: { ...secret.metadata, resourceVersion: String(++this.#version) } });
    this.#store.set(`${saved.metadata!.namespace}/${saved.metadata!.name}`, saved);
    return structuredClone(saved);
  }

  async #serve<T>(call: SecretCall, act: (fail: (status: number, reason: string, message: string) => never) => T): Promise<T> {
    this.calls.push(call);
    const what = `${ACTIONS[call.op]} secret ${call.namespace}/${call.name}`;
    const fail = (status: number, reason: string, message: string): never => {
      // Like a policy's message, quotes what was sent and what is stored.
      const echo = JSON.stringify({ sent: call.body, stored: this.#store.get(`${call.namespace}/${call.name}`) });
      const body = JSON.stringify({ apiVersion: 'v1', kind: 'Status', status: 'Failure', code: status, reason, message: `${message}; ${echo}` });
      throw apiCallError(what, new ApiException(status, `HTTP ${status}: ${body}`, body, {}));
    };
    const injected = this.before?.(call);
    if (injected === 'hang') {
      try {
        return await this.#budget.run((signal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))));
      } catch (err) {
        throw apiCallError(what, err);
      }
    }
    if (injected) fail(injected.status, injected.reason, 'injected failure');
    return act(fail);
  }
}
