// The bare peer: node:https reading the body, JSON.parse, and a fixed AdmissionReview answer —
// the most a Node.js webhook could do per core with no admission logic at all.
// Usage: node bench/peers/bare-https.ts <port> <cert> <key>
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const [port, cert, key] = process.argv.slice(2);
createServer({ cert: readFileSync(cert!), key: readFileSync(key!) }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { request: { uid: string } };
    const text = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: body.request.uid, allowed: true } });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  });
}).listen(Number(port), '127.0.0.1');
