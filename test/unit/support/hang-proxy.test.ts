// The hang proxy in front of a plain TCP echo server (and a TLS one): it forwards, goes silent
// without closing anything, forwards what it held back once resumed, and leaves nothing open.
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueServingCert } from '../../../src/tls/certificates.ts';
import { eventually } from '../../support/eventually.ts';
import { startHangProxy, type HangProxy } from '../../support/hang-proxy.ts';

// A negative (nothing arrives) can only be observed by waiting; this is the wait.
const SILENCE_MS = 400;
const quiet = () => new Promise((r) => setTimeout(r, SILENCE_MS));

interface Echo {
  port: number;
  /** Connections the echo server has accepted so far. */
  accepted: number;
  open: Set<Socket>;
  /** Bytes the echo server has received. */
  received: string;
  close(): Promise<void>;
}

async function startEcho(): Promise<Echo> {
  const echo: Echo = { port: 0, accepted: 0, open: new Set(), received: '', close: async () => {} };
  const server: Server = createServer((socket) => {
    echo.accepted++;
    echo.open.add(socket);
    socket.on('close', () => echo.open.delete(socket));
    socket.on('data', (chunk) => {
      echo.received += chunk.toString();
      socket.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  echo.port = (server.address() as AddressInfo).port;
  echo.close = () => new Promise((resolve) => {
    for (const s of echo.open) s.destroy();
    server.close(() => resolve());
  });
  return echo;
}

/** A client socket recording what it receives and whether it was ended or closed. */
interface Client {
  socket: Socket | TLSSocket;
  received: string;
  ended: boolean;
  closed: boolean;
}

function track(socket: Socket | TLSSocket): Client {
  const client: Client = { socket, received: '', ended: false, closed: false };
  socket.on('data', (c: Buffer) => (client.received += c.toString()));
  socket.on('end', () => (client.ended = true));
  socket.on('close', () => (client.closed = true));
  socket.on('error', () => {});
  return client;
}

async function connectTo(port: number): Promise<Client> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return track(socket);
}

const received = (client: Client, text: string) => eventually(`"${text}" back through the proxy`, () => client.received === text, { timeoutMs: 5_000, intervalMs: 20 });

describe('startHangProxy', () => {
  let echo: Echo | undefined;
  let proxy: HangProxy | undefined;
  const clients: Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    await proxy?.close();
    await echo?.close();
    proxy = undefined;
    echo = undefined;
  });

  it('forwards bytes both ways', async () => {
    echo = await startEcho();
    proxy = await startHangProxy({ host: '127.0.0.1', port: echo.port });
    const client = await connectTo(proxy.port);
    clients.push(client);
    client.socket.write('ping');
    await received(client, 'ping');
    expect(echo.received).toBe('ping');
    expect(proxy.connections()).toBe(1);
  });

  it('after hang(), forwards nothing and closes nothing; resume() delivers what was held back', async () => {
    echo = await startEcho();
    proxy = await startHangProxy({ host: '127.0.0.1', port: echo.port });
    const client = await connectTo(proxy.port);
    clients.push(client);
    client.socket.write('one');
    await received(client, 'one');

    proxy.hang();
    client.socket.write('two');
    await quiet();
    expect(echo.received, 'nothing reaches the server').toBe('one');
    expect(client.received, 'nothing comes back').toBe('one');
    expect(client.ended || client.closed, 'the connection stays open').toBe(false);
    expect(proxy.connections()).toBe(1);

    proxy.resume();
    await received(client, 'onetwo');
    client.socket.write('three');
    await received(client, 'onetwothree');
  });

  it('after hang(), accepts new connections and never answers them', async () => {
    echo = await startEcho();
    proxy = await startHangProxy({ host: '127.0.0.1', port: echo.port });
    proxy.hang();
    // connectTo resolves on 'connect': the proxy accepted.
    const client = await connectTo(proxy.port);
    clients.push(client);
    client.socket.write('hello?');
    await quiet();
    expect(echo.accepted, 'no connection reaches the server').toBe(0);
    expect(client.received).toBe('');
    expect(client.ended || client.closed).toBe(false);
    expect(proxy.connections()).toBe(1);

    proxy.resume();
    await received(client, 'hello?');
    expect(echo.accepted).toBe(1);
  });

  it('forwards the server closing a connection only once resumed', async () => {
    echo = await startEcho();
    proxy = await startHangProxy({ host: '127.0.0.1', port: echo.port });
    const client = await connectTo(proxy.port);
    clients.push(client);
    client.socket.write('x');
    await received(client, 'x');
    proxy.hang();
    for (const s of echo.open) s.end();
    await quiet();
    expect(client.ended || client.closed).toBe(false);
    proxy.resume();
    await eventually('the client to see the end', () => client.ended, 5_000);
  });

  it('close() leaves no connection open on either side and stops listening', async () => {
    echo = await startEcho();
    proxy = await startHangProxy({ host: '127.0.0.1', port: echo.port });
    const forwarded = await connectTo(proxy.port);
    forwarded.socket.write('a');
    await received(forwarded, 'a');
    proxy.hang();
    const held = await connectTo(proxy.port);
    clients.push(forwarded, held);
    expect(proxy.connections()).toBe(2);

    const port = proxy.port;
    await proxy.close();
    proxy = undefined;
    await eventually('both clients closed', () => forwarded.closed && held.closed, 5_000);
    await eventually('the server side closed', () => echo!.open.size === 0, 5_000);
    const refused = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('passes TLS through: the client verifies the server certificate, for 127.0.0.1', async () => {
    const ca = createCertificateAuthority('hang-proxy-test-ca');
    const serving = issueServingCert(ca, [], 'echo');
    const server = createTlsServer({ cert: serving.certPem, key: serving.keyPem }, (s) => s.pipe(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      proxy = await startHangProxy({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
      const socket = tlsConnect({ host: '127.0.0.1', port: proxy.port, ca: ca.certPem });
      const client = track(socket);
      clients.push(client);
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      expect(socket.authorized).toBe(true);
      socket.write('secret');
      await received(client, 'secret');
    } finally {
      for (const c of clients.splice(0)) c.socket.destroy();
      await proxy?.close();
      proxy = undefined;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
