// A TCP proxy that can play a hung server. Until hang() it forwards bytes both ways untouched (TLS
// included: clients verify the target's certificate as if they had connected to it directly).
// After hang() nothing is forwarded in either direction and nothing is closed: open connections go
// silent, new ones are accepted and never answered — what a client sees of a server whose process
// is stuck. resume() forwards everything held back, in order, and connects what arrived meanwhile.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface HangProxy {
  /** On 127.0.0.1. */
  port: number;
  hang(): void;
  resume(): void;
  /** Client connections currently open. */
  connections(): number;
  /** Closes every connection and the listener. */
  close(): Promise<void>;
}

/** Bytes, or the sender's end of the stream, or the loss of the whole connection. */
type Item = Buffer | 'end' | 'close';

interface Link {
  client: Socket;
  upstream: Socket | undefined;
  connected: boolean;
  toUpstream: Item[];
  toClient: Item[];
}

export async function startHangProxy(target: { host: string; port: number }): Promise<HangProxy> {
  let hung = false;
  const links = new Set<Link>();

  const forward = (queue: Item[], src: Socket | undefined, dst: Socket | undefined): void => {
    if (hung || dst === undefined) return;
    while (queue.length > 0) {
      const item = queue.shift()!;
      if (item === 'end') dst.end();
      // The other side is gone: hand over what was written, then close.
      else if (item === 'close') dst.destroySoon();
      else if (!dst.write(item) && src) {
        src.pause();
        dst.once('drain', () => {
          if (!hung) src.resume();
        });
      }
    }
  };
  const flush = (link: Link): void => {
    forward(link.toUpstream, link.client, link.connected ? link.upstream : undefined);
    forward(link.toClient, link.upstream, link.client);
  };

  const connectUpstream = (link: Link): void => {
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    link.upstream = upstream;
    upstream.on('connect', () => {
      link.connected = true;
      flush(link);
    });
    upstream.on('data', (chunk: Buffer) => {
      link.toClient.push(chunk);
      flush(link);
    });
    upstream.on('end', () => {
      link.toClient.push('end');
      flush(link);
    });
    // 'close' follows an error; the client learns of either only while not hung.
    upstream.on('error', () => {});
    upstream.on('close', () => {
      link.toClient.push('close');
      flush(link);
    });
    if (hung) upstream.pause();
  };

  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    const link: Link = { client, upstream: undefined, connected: false, toUpstream: [], toClient: [] };
    links.add(link);
    client.on('data', (chunk: Buffer) => {
      link.toUpstream.push(chunk);
      flush(link);
    });
    client.on('end', () => {
      link.toUpstream.push('end');
      flush(link);
    });
    client.on('error', () => {});
    // The client went away: nothing is left to answer, hung or not.
    client.on('close', () => {
      links.delete(link);
      link.upstream?.destroy();
    });
    // A hung server accepts (the kernel does) but never reads or answers.
    if (!hung) {
      connectUpstream(link);
      client.resume();
    }
  });
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    port: (server.address() as AddressInfo).port,
    hang() {
      hung = true;
      // Paused sockets leave further bytes in the kernel's buffers; bytes already read wait in the queues.
      for (const link of links) {
        link.client.pause();
        link.upstream?.pause();
      }
    },
    resume() {
      hung = false;
      for (const link of links) {
        if (link.upstream === undefined) connectUpstream(link);
        link.client.resume();
        link.upstream?.resume();
        flush(link);
      }
    },
    connections: () => links.size,
    close() {
      for (const link of links) {
        link.client.destroy();
        link.upstream?.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
