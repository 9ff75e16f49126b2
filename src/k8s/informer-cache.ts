import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../logger.ts';

export interface InformerCacheOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** Collection path, e.g. `/api/v1/namespaces`. */
  path: string;
  /** What is cached, for logs ("namespaces", "pull secrets"). */
  what: string;
  /** The list call; it must honour `signal`, so a hung API server cannot hold it forever. */
  list(signal: AbortSignal): Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  /**
   * Called after the cache changed for this object (added, updated, or deleted). The first list's
   * objects arrive before the cache is synced; a user that reads the cache only once synced
   * reacts to onSynced as well.
   */
  onChange(object: T): void;
  /** Called once, when the first list has completed. */
  onSynced?(): void;
  logger: Logger;
  /** Longest a list call may take. */
  listDeadlineMs?: number;
  /** First and longest pause before a failed list or watch is started again. */
  retryMs?: { first: number; max: number };
}

export interface InformerCache<T> {
  /** The first list has completed; the cache has held every object since. */
  synced(): boolean;
  get(name: string, namespace?: string): T | undefined;
  list(): readonly T[];
  start(): void;
  stop(): Promise<void>;
}

/**
 * A list+watch cache (@kubernetes/client-node's ListWatch) that keeps itself running: the client
 * stops a ListWatch on any error and leaves the restart to its user, so a failed list or a broken
 * watch is started again after a growing pause. The watch itself ends after 30 s without data
 * and resumes from the last resourceVersion, so a hung connection is noticed on its own.
 */
export function informerCache<T extends KubernetesObject>(options: InformerCacheOptions<T>): InformerCache<T> {
  const { logger, what } = options;
  const retry = options.retryMs ?? { first: 1_000, max: 30_000 };
  const listDeadlineMs = options.listDeadlineMs ?? 30_000;
  let synced = false;
  let stopped = true;
  let listed = false;
  let delay = retry.first;
  let timer: NodeJS.Timeout | undefined;
  // Aborted by stop(): the client's ListWatch.stop() reaches only an open watch, not a list in flight.
  let stopping = new AbortController();

  const listFn = async (): Promise<KubernetesListObject<T>> => {
    const list = await options.list(AbortSignal.any([AbortSignal.timeout(listDeadlineMs), stopping.signal]));
    listed = true;
    return list;
  };
  const lw = new ListWatch<T>(options.path, new Watch(options.kubeConfig), listFn, false, undefined, options.fieldSelector);
  lw.on('change', (object) => options.onChange(object));
  lw.on('error', (err?: unknown) => {
    if (stopped) return;
    logger.warn({ cache: what, err: describe(err), retryInMs: delay }, 'watch failed; starting it again');
    schedule();
  });

  const run = () => {
    timer = undefined;
    if (stopped) return;
    listed = false;
    lw.start().then(
      () => {
        // Stopped while the watch was connecting: the client has just opened it; close it.
        if (stopped) return lw.stop();
        // start() resolves once the list is in and the watch connected, or after a failure that
        // the error handler has already scheduled a retry for.
        if (listed && !synced) {
          synced = true;
          logger.info({ cache: what, objects: lw.list().length }, 'cache synced');
          options.onSynced?.();
        }
        if (listed) delay = retry.first;
      },
      (err: unknown) => {
        logger.warn({ cache: what, err: describe(err) }, 'watch failed to start');
        schedule();
      },
    );
  };
  const schedule = () => {
    if (stopped || timer) return;
    timer = setTimeout(run, delay);
    timer.unref();
    delay = Math.min(delay * 2, retry.max);
  };

  return {
    synced: () => synced,
    get: (name, namespace) => lw.get(name, namespace),
    list: () => lw.list(),
    start() {
      if (!stopped) return;
      stopped = false;
      stopping = new AbortController();
      run();
    },
    async stop() {
      stopped = true;
      stopping.abort();
      clearTimeout(timer);
      timer = undefined;
      await lw.stop();
    },
  };
}

/** An error as a log field: its name and status only; the client's messages can embed response bodies. */
function describe(err: unknown): string {
  if (err === undefined || err === null) return 'closed';
  const e = err as { name?: string; code?: unknown; statusCode?: unknown };
  const status = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  return status !== undefined ? `HTTP ${status}` : (e.name ?? 'error');
}
