import { parseRegistryPrefix, type RegistryPrefix } from '../../../src/image/registry-prefix.ts';
import type { MutationPolicy } from '../../../src/admission/mutate-pod.ts';

export function prefixes(...entries: string[]): RegistryPrefix[] {
  return entries.map((entry) => {
    const parsed = parseRegistryPrefix(entry);
    if (!parsed.ok) throw new Error(`bad fixture entry ${entry}: ${parsed.problems.join('; ')}`);
    return parsed.prefix;
  });
}

/** The policy of CONTRACT.md's example configuration. */
export const POLICY: MutationPolicy = {
  rewrite: { proxyDomain: 'proxy.example.com', appSlug: 'my-app', privateRegistries: prefixes('quay.io/acme', 'docker.io/acme', '123456789012.dkr.ecr.us-east-1.amazonaws.com') },
  registryDomain: 'registry.example.com',
  pullSecretName: 'my-app-registry',
};
