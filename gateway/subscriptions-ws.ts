/**
 * The WebSocket transport of subscriptions: graphql-ws over `ws`, on the gateway's own HTTP server
 * and path (an HTTP upgrade of GET /graphql). Keep-alive pings, the frame size limit and socket
 * errors live here; the protocol (auth, admission, streams) is in subscriptions.ts.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocket } from 'ws';
import type { Logger } from '../core/log';
import { CappedCounter, ConnectionRefused } from './connection-limits';
import { replaceSharedPayload, sendSharedFrames } from './shared-frames';
import type { SubscriptionService } from './subscriptions';

/** The client address of a graphql-ws/`ws` connection (its `extra`). */
export function wsAddressOf(extra: unknown): string {
  const request = (extra as { request?: http.IncomingMessage } | undefined)?.request;
  return request?.socket.remoteAddress ?? 'unknown';
}

export interface WebSocketTransportOptions {
  /** Path served (the GraphQL path). Default '/graphql'. */
  path?: string;
  /** Ping interval; a client that does not answer within it is dropped, in ms. Default 12000. */
  keepAliveMs?: number;
  /** Largest incoming frame in bytes (a subscribe message). Default 64 KiB. */
  maxPayloadBytes?: number;
  /** Production: internal error details are not sent in close reasons. Default false. */
  production?: boolean;
  /** Open sockets one client address may hold (counted at the upgrade, before any token is read). Default 50. */
  maxConnectionsPerAddress?: number;
  logger: Logger;
}

export interface WebSocketTransport {
  /** Open sockets. */
  readonly clients: number;
  close(): Promise<void>;
}

export function attachWebSocketTransport(server: http.Server, service: SubscriptionService, options: WebSocketTransportOptions): WebSocketTransport {
  const { path = '/graphql', keepAliveMs = 12_000, maxPayloadBytes = 64 * 1024, production = false, maxConnectionsPerAddress = 50, logger } = options;
  const perAddress = new CappedCounter(maxConnectionsPerAddress);
  // perMessageDeflate off: it costs ~300 KB of zlib state per socket, and payloads are small.
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPayloadBytes, perMessageDeflate: false });
  // The protocol options know nothing of `ws` (their transport extra is opaque to them).
  const protocol = service.serverOptions;
  const serverOptions = {
    ...protocol,
    isProd: production,
    // A payload shared by many subscribers is serialised once (gateway/shared-frames.ts).
    jsonMessageReplacer: replaceSharedPayload,
    // A limit refusal closes with its own code (4429), not graphql-ws's generic 4403 or 4500.
    async onConnect(ctx: Parameters<NonNullable<typeof protocol.onConnect>>[0]) {
      try {
        return await protocol.onConnect!(ctx);
      } catch (error) {
        if (!(error instanceof ConnectionRefused)) throw error;
        (ctx.extra as { socket: WebSocket }).socket.close(error.closeCode, error.message);
        return false;
      }
    },
  } as Parameters<typeof useServer>[0];
  // Before useServer's own 'connection' listener, so that graphql-ws sends through the wrapped send.
  wss.on('connection', (ws: WebSocket) => sendSharedFrames(ws));
  const disposable = useServer(serverOptions, wss, keepAliveMs);
  wss.on('error', (error) => logger.error({ err: error }, 'websocket server error'));

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = new URL(req.url ?? '/', 'http://gateway').pathname;
    if (pathname !== path) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    // Counted and checked in one step, before the handshake: a burst from one address cannot overshoot.
    const address = req.socket.remoteAddress ?? 'unknown';
    if (!perAddress.acquire(address)) {
      socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    let released = false;
    const release = () => {
      if (!released) perAddress.release(address);
      released = true;
    };
    socket.once('close', release);
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  server.on('upgrade', onUpgrade);

  return {
    get clients() {
      return wss.clients.size;
    },
    async close() {
      server.off('upgrade', onUpgrade);
      await disposable.dispose();
    },
  };
}
