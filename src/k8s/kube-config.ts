import { KubeConfig } from '@kubernetes/client-node';
import type { RequestContext } from '@kubernetes/client-node';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * A KubeConfig whose requests share one connection pool. The client builds a new undici Agent for
 * every request (every API call, every watch): each call then opens its own TLS connection with a
 * fresh secure context, whose native memory V8 does not count and so collects late. Against an API
 * server that hangs, that is a connection and a context per attempt, and RSS climbs while the heap
 * stays flat. Here the first dispatcher built is kept and given to every later request: its TLS
 * options come from this one configuration, so they are the same for every request.
 */
export class PooledKubeConfig extends KubeConfig {
  #dispatcher: Dispatcher | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const built = context.getDispatcher();
    if (built === undefined) return;
    this.#dispatcher ??= built;
    context.setDispatcher(this.#dispatcher);
  }
}

/** The API server's address and credentials: a kubeconfig file, or the in-cluster service account. */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new PooledKubeConfig();
  if (file) {
    kc.loadFromFile(file);
    return kc;
  }
  kc.loadFromCluster();
  // Outside a cluster the service host is unset and the client would call https://undefined:undefined;
  // every Pod would then carry a warning. Refuse to start instead.
  if (kc.getCurrentCluster()?.server.includes('undefined')) {
    throw new Error('not running in a cluster: pass --kubeconfig FILE (or set KUBECONFIG) so pullgate can manage pull secrets');
  }
  return kc;
}
