// What an identity may do, as the API server answers `kubectl auth can-i --list`, as a set of
// `resource|resourceName|verb` and `url:URL|verb` entries that tests compare exactly.
import type { ClusterClient } from '../../cluster/client.ts';

/** Columns are found from the header: a cell's lists hold spaces (`[get list watch]`). */
export function parseCanIList(stdout: string): Set<string> {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift() ?? '';
  const starts = ['Resources', 'Non-Resource URLs', 'Resource Names', 'Verbs'].map((title) => header.indexOf(title));
  if (starts.some((s) => s < 0)) throw new Error(`unexpected kubectl auth can-i --list header: ${header}`);
  const cell = (line: string, i: number) => line.slice(starts[i], i + 1 < starts.length ? starts[i + 1] : undefined).trim();
  const list = (text: string) => text.replace(/^\[|\]$/g, '').split(' ').filter((s) => s !== '');
  const entries = new Set<string>();
  for (const line of lines) {
    const [resource, urls, names, verbs] = [0, 1, 2, 3].map((i) => cell(line, i)) as [string, string, string, string];
    for (const verb of list(verbs)) {
      if (resource === '') for (const url of list(urls)) entries.add(`url:${url}|${verb}`);
      else for (const name of list(names).length > 0 ? list(names) : ['']) entries.add(`${resource}|${name}|${verb}`);
    }
  }
  return entries;
}

export async function rights(client: ClusterClient, user: string, namespace: string): Promise<Set<string>> {
  return parseCanIList((await client.kubectl(['auth', 'can-i', '--list', `--as=${user}`, '-n', namespace])).stdout);
}

/** The entries for `verbs` on `resource`, by name when `names` holds any. */
export const expand = (resource: string, names: string[], verbs: string[]): string[] => (names.length ? names : ['']).flatMap((n) => verbs.map((v) => `${resource}|${n}|${v}`));

/** Rights `user` has in `namespace` beyond what a ServiceAccount bound to nothing has, sorted; throws if it lacks any of those. */
export async function rightsBeyondBaseline(client: ClusterClient, user: string, nobody: string, namespace: string): Promise<string[]> {
  const baseline = await rights(client, nobody, namespace);
  const granted = await rights(client, user, namespace);
  const missing = [...baseline].filter((r) => !granted.has(r));
  if (missing.length > 0) throw new Error(`${user} lacks what every ServiceAccount may do in ${namespace}: ${missing.join(', ')}`);
  return [...granted].filter((r) => !baseline.has(r)).sort();
}
