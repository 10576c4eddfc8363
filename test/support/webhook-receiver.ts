import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A real webhook receiver on 127.0.0.1 for tests: it records every request (headers and raw
 * body) per path, and answers as the test scripts it, call by call (fail twice then succeed,
 * 410, Retry-After, redirect, answer slowly). Unscripted calls get 200.
 */
export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** When the request's body was fully received (ms since epoch). */
  receivedAt: number;
}

export interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (a slow or hung receiver). */
  delayMs?: number;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  /** A URL on this receiver; each test uses a path of its own. */
  url(path: string): string;
  /** Every request so far, in arrival order; only those to `path` when given. */
  received(path?: string): ReceivedWebhook[];
  /** The answers for the next calls to `path`, in order; later calls get `fallback` (200 by default). */
  script(path: string, answers: Answer[], fallback?: Answer): void;
  /** Resolves once `path` has received `count` requests (or rejects after `timeoutMs`). */
  waitFor(path: string, count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  /** Stops listening (connections refused) and resolves once closed; `start` listens again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(port = 0): Promise<WebhookReceiver> {
  const requests: ReceivedWebhook[] = [];
  const scripts = new Map<string, { answers: Answer[]; fallback: Answer }>();
  const waiters = new Set<() => void>();
  const sockets = new Set<Socket>();

  const respond = (res: ServerResponse, answer: Answer) => {
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(answer.status ?? 200, { 'content-type': 'text/plain', ...answer.headers });
      res.end(answer.body ?? 'ok');
    };
    if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
    else send();
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?', 1)[0]!;
      requests.push({
        path,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      });
      for (const wake of waiters) wake();
      const script = scripts.get(path);
      respond(res, script?.answers.shift() ?? script?.fallback ?? {});
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  let boundPort = port;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(boundPort, '127.0.0.1', () => {
        server.off('error', reject);
        boundPort = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  await listen();

  const received = (path?: string) => (path ? requests.filter((r) => r.path === path) : [...requests]);
  return {
    get origin() {
      return `http://127.0.0.1:${boundPort}`;
    },
    get port() {
      return boundPort;
    },
    url: (path) => `http://127.0.0.1:${boundPort}${path}`,
    received,
    script(path, answers, fallback = {}) {
      scripts.set(path, { answers: [...answers], fallback });
    },
    waitFor(path, count, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const got = received(path);
          if (got.length < count) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(got);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`${path} received ${received(path).length} of ${count} webhooks in ${timeoutMs} ms`),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    stop,
    start: listen,
    close: stop,
  };
}
