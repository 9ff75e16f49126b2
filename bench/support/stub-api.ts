// The cluster pullgate talks to during the benchmark, as a process of its own: the in-memory API
// server of the unit tests (watches, lists, Secrets, Leases) behind a proxy that can play a hung or
// unreachable API server. Controlled over plain HTTP on 127.0.0.1 (POST /hang, /resume, /refuse;
// GET /calls counts what pullgate asked, watches and the leader Lease aside).
// Usage: node bench/support/stub-api.ts <dir>; writes <dir>/kubeconfig and <dir>/stub.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startHangProxy } from '../../test/support/hang-proxy.ts';
import { startKubeStub } from '../../test/unit/helpers/kube-stub.ts';
import { generateTls } from '../../test/unit/helpers/tls.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: stub-api.ts <dir>');
const namespaces = process.argv.slice(3);

const stub = await startKubeStub(generateTls(dir));
for (const ns of namespaces) stub.addNamespace(ns);
const proxy = await startHangProxy({ host: '127.0.0.1', port: Number(new URL(stub.url).port) });
const kubeconfig = stub.writeKubeconfig(join(dir, 'kubeconfig'));
// pullgate reaches the stub through the proxy.
writeFileSync(kubeconfig, readFileSync(kubeconfig, 'utf8').replace(stub.url, `https://127.0.0.1:${proxy.port}`), { mode: 0o600 });

// While refusing, the proxy's port has a listener that drops every connection at once.
let refusing: Server | undefined;
const control = createHttpServer((req, res) => {
  void (async () => {
    if (req.method === 'POST' && req.url === '/hang') proxy.hang();
    else if (req.method === 'POST' && req.url === '/resume') proxy.resume();
    else if (req.method === 'POST' && req.url === '/refuse') {
      if (!refusing) {
        const port = proxy.port;
        await proxy.close();
        refusing = createServer((socket) => socket.destroy());
        await new Promise<void>((resolve) => refusing!.listen(port, '127.0.0.1', resolve));
      }
    } else if (req.method === 'GET' && req.url === '/calls') {
      const requests = stub.calls.filter((c) => !c.watch && !c.path.startsWith('/apis/coordination.k8s.io/'));
      res.end(JSON.stringify({ requests: requests.map((c) => `${c.method} ${c.path}`), secrets: [...stub.secrets.keys()] }));
      return;
    } else {
      res.statusCode = 404;
    }
    res.end('{}');
  })();
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
writeFileSync(join(dir, 'stub.json'), JSON.stringify({ kubeconfig, control: (control.address() as AddressInfo).port }));
