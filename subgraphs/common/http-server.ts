import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { errorResponseBody } from './errors';
import { type Logger, requestScope } from './logger';

/**
 * The HTTP plumbing every Construct process shares (each subgraph and the gateway): the
 * operational endpoints, a request body limit, request ids, and a graceful shutdown.
 * The GraphQL handler (Yoga) plugs in behind it.
 */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface ServiceServerOptions {
  name: string;
  version: string;
  logger: Logger;
  /** The handler for everything but the operational endpoints; receives the buffered body as `req.body`. */
  handler: (req: IncomingMessage, res: ServerResponse) => unknown;
  /** What must answer for the process to take traffic; a function when the list can change (a reloaded supergraph). */
  readiness: ReadinessCheck[] | (() => ReadinessCheck[]);
  /** Larger request bodies get 413 before they are read whole. */
  maxBodyBytes: number;
  shutdownGraceMs: number;
  registry?: Registry;
  /**
   * Further public endpoints by exact path (a JWKS, a development mailbox), or by prefix when the
   * key ends in '/'. They answer any method and read their own request body.
   */
  routes?: Record<string, (req: IncomingMessage, res: ServerResponse) => unknown>;
}

export interface ServiceServer {
  server: Server;
  registry: Registry;
  listen(port: number, host?: string): Promise<number>;
  /** Runs as soon as a shutdown starts (end long-lived connections such as WebSockets here). */
  onDrain(hook: () => Promise<void> | void): void;
  /** Runs once the server drained, before the process exits (close pools here). */
  onClose(hook: () => Promise<void> | void): void;
  /** Stops taking requests, lets those in flight finish (up to the grace period), then runs the close hooks. */
  close(): Promise<void>;
  readonly draining: boolean;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;
const READY_TIMEOUT_MS = 2_000;

export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export function createServiceServer(options: ServiceServerOptions): ServiceServer {
  const registry = options.registry ?? new Registry();
  registry.setDefaultLabels({ service: options.name });
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const drainHooks: (() => Promise<void> | void)[] = [];
  const closeHooks: (() => Promise<void> | void)[] = [];
  let draining = false;
  let closing: Promise<void> | undefined;

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  async function readiness(res: ServerResponse) {
    if (draining) return sendJson(res, 503, { status: 'draining' });
    const results = await Promise.all(
      (typeof options.readiness === 'function' ? options.readiness() : options.readiness).map(
        async ({ name, check }) => {
          try {
            await withTimeout(check(), READY_TIMEOUT_MS);
            return { name, ok: true };
          } catch (error) {
            options.logger.warn({ check: name, err: error }, 'readiness check failed');
            // The reason stays in the logs: readiness is often public, addresses must not be.
            return { name, ok: false };
          }
        },
      ),
    );
    const ok = results.every((r) => r.ok);
    sendJson(res, ok ? 200 : 503, {
      status: ok ? 'ready' : 'unavailable',
      checks: Object.fromEntries(results.map((r) => [r.name, r.ok ? 'ok' : 'failing'])),
    });
  }

  /** A route by exact path, or by prefix for keys ending in '/' (`/uploads/` serves `/uploads/upl_…`). */
  function routeFor(path: string) {
    const routes = options.routes ?? {};
    if (Object.hasOwn(routes, path)) return routes[path];
    const prefix = Object.keys(routes).find((key) => key.endsWith('/') && path.startsWith(key));
    return prefix ? routes[prefix] : undefined;
  }

  async function operational(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // Routes take any method and read their own body (an upload streams to disk, unbuffered).
      const route = routeFor(path);
      if (!route || draining) return false;
      await route(req, res);
      return true;
    }
    switch (path) {
      case '/health':
        sendJson(res, 200, { status: 'ok' });
        return true;
      case '/health/ready':
        await readiness(res);
        return true;
      case '/metrics':
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(await registry.metrics());
        return true;
      case '/version':
        sendJson(res, 200, { service: options.name, version: options.version, node: process.version });
        return true;
      default: {
        const route = routeFor(path);
        if (!route) return false;
        await route(req, res);
        return true;
      }
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const started = performance.now();
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const requestId = requestScope.getStore()!.requestId;
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    res.on('finish', () => {
      const route = path === '/graphql' || path.startsWith('/health') || path === '/metrics' ? path : 'other';
      httpDuration.observe(
        { method: req.method ?? 'GET', route, status: String(res.statusCode) },
        (performance.now() - started) / 1000,
      );
      // A keep-alive connection whose last request ends during a drain is idle now: close it,
      // or it holds the shutdown open until the grace period runs out.
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
    try {
      if (await operational(req, res, path)) return;
      if (draining) {
        res.setHeader('connection', 'close');
        return sendJson(
          res,
          503,
          errorResponseBody('SHUTTING_DOWN', 'The server is shutting down; retry on another instance.'),
        );
      }
      const body = await readBody(req, options.maxBodyBytes);
      if (body === 'too-large') {
        res.setHeader('connection', 'close');
        return sendJson(
          res,
          413,
          errorResponseBody(
            'PAYLOAD_TOO_LARGE',
            `The request body is larger than ${options.maxBodyBytes} bytes.`,
          ),
        );
      }
      if (body.length > 0) (req as IncomingMessage & { body?: Buffer }).body = body;
      await options.handler(req, res);
    } catch (error) {
      options.logger.error({ err: error, requestId }, 'request failed outside GraphQL');
      if (!res.headersSent)
        sendJson(res, 500, errorResponseBody('INTERNAL_SERVER_ERROR', 'Internal server error.'));
      else res.destroy();
    }
  }

  const server = createServer((req, res) => {
    requestScope.run({ requestId: requestIdOf(req) }, () => handle(req, res));
  });
  // Longer than the usual 60 s idle timeout of load balancers, so they close first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 60_000;
  server.on('clientError', (error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    options.logger.debug({ err: error }, 'client error');
  });

  async function runHooks(hooks: (() => Promise<void> | void)[], stage: string) {
    for (const hook of hooks) {
      try {
        await hook();
      } catch (error) {
        options.logger.error({ err: error }, `${stage} hook failed`);
      }
    }
  }

  return {
    server,
    registry,
    get draining() {
      return draining;
    },
    listen(port, host = '0.0.0.0') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    onDrain(hook) {
      drainHooks.push(hook);
    },
    onClose(hook) {
      closeHooks.push(hook);
    },
    close() {
      closing ??= (async () => {
        draining = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await runHooks(drainHooks, 'drain');
        const grace = setTimeout(() => server.closeAllConnections(), options.shutdownGraceMs);
        grace.unref();
        await closed;
        clearTimeout(grace);
        await runHooks(closeHooks.reverse(), 'close');
      })();
      return closing;
    },
  };
}

/** Reads the body whole, or stops at the limit (a chunked upload declares no length up front). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    req.resume();
    return Promise.resolve('too-large');
  }
  if (req.method === 'GET' || req.method === 'HEAD') return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
