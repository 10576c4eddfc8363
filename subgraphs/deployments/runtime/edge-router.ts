/**
 * The edge router: one HTTP port in front of every running deployment, routing by Host.
 * `<label>.<baseDomain>` is looked up on every request (and every WebSocket upgrade), so
 * pointing a label at another deployment takes effect for the next request while requests in
 * flight finish where they started: promotions and rollbacks drop nothing.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from '../../common/logger';
import { hostFromHeader, labelFromHost } from './hostnames';

/** Response header naming the deployment that answered. */
export const DEPLOYMENT_ID_HEADER = 'x-construct-deployment-id';

export interface EdgeRoute {
  /** Base URL of the instance, e.g. http://127.0.0.1:53817 (`Instance.target`). */
  target: string;
  deploymentId: string;
}

/**
 * Where a label points right now; null when it points nowhere. May take its time (a stopped
 * deployment being started again); it throws when the deployment cannot be served.
 */
export type RouteLookup = (label: string) => Promise<EdgeRoute | null> | EdgeRoute | null;

export interface EdgeRouterOptions {
  baseDomain: string;
  lookup: RouteLookup;
  logger: Logger;
  /** How long an upstream may stay silent (connecting, or between bytes) before the request fails; 60 s by default. */
  timeoutMs?: number;
}

export interface EdgeRouter {
  /** Resolves with the port listened on (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  /** Stops listening and ends every open connection, WebSockets included. */
  close(): Promise<void>;
  readonly server: http.Server;
}

const DEFAULT_TIMEOUT_MS = 60_000;

const MESSAGES = {
  badHost: 'No deployment at this address',
  unavailable: 'This deployment is not available right now',
  noAnswer: 'The deployment did not answer',
  notWebSocket: 'Only WebSocket upgrades are supported here',
} as const;

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, not the message. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection'];

interface Served {
  label: string;
  deploymentId: string;
  target: string;
  /** Set when the upstream stayed silent past the timeout, so the log says so. */
  timedOut?: boolean;
  /** WebSockets: set once the upstream switched protocols; the client socket is then a tunnel. */
  upgraded?: boolean;
}

export function createEdgeRouter(options: EdgeRouterOptions): EdgeRouter {
  const { baseDomain, lookup, logger } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  // Free sockets are closed a second before the upstream's announced keep-alive timeout (Node
  // only honours the hint when the agent has a timeout of its own), so a request rarely lands
  // on a socket the upstream is closing.
  const agent = new http.Agent({ keepAlive: true, timeout: 30_000, maxFreeSockets: 64, scheduling: 'lifo' });
  const proxy = createProxyServer({ xfwd: true });
  const served = new WeakMap<http.IncomingMessage, Served>();
  /** Upgraded client sockets and their upstream tunnels, which `server.closeAllConnections` does not know. */
  const tunnels = new Set<Duplex>();
  let closing = false;

  const server = http.createServer((req, res) => {
    handleRequest(req, res).catch((error: unknown) => {
      logger.warn({ err: error, host: req.headers.host }, 'edge request failed');
      sendPage(req, res, 502, MESSAGES.noAnswer);
    });
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    handleUpgrade(req, socket, head).catch((error: unknown) => {
      logger.warn({ err: error, host: req.headers.host }, 'edge upgrade failed');
      rejectUpgrade(socket, 502, MESSAGES.noAnswer);
    });
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`);
  });

  async function handleRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const host = hostFromHeader(req.headers.host);
    // Client sockets that die early must not take the process with them.
    req.on('error', () => {});
    res.on('error', () => {});
    res.once('close', () => {
      logger.debug(
        {
          method: req.method,
          host,
          path: pathOf(req.url),
          status: res.statusCode,
          ms: Math.round(performance.now() - started),
          deploymentId: served.get(req)?.deploymentId,
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'edge request',
      );
    });

    const label = host === null ? null : labelFromHost(host, baseDomain);
    if (label === null) return sendPage(req, res, 404, MESSAGES.badHost);

    const route = await resolve(label, host!);
    if (route === 'unavailable') return sendPage(req, res, 503, MESSAGES.unavailable);
    if (route === null) return sendPage(req, res, 404, `No deployment at ${host}`);
    // The client may have given up while a cold start kept it waiting.
    if (res.destroyed || closing) return;

    served.set(req, { label, deploymentId: route.deploymentId, target: route.target.href });
    res.setHeader(DEPLOYMENT_ID_HEADER, route.deploymentId);
    proxy.web(req, res, { target: route.target, agent, proxyTimeout: timeoutMs });
  }

  async function handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const started = performance.now();
    const host = hostFromHeader(req.headers.host);
    socket.on('error', () => {});
    tunnels.add(socket);
    socket.once('close', () => {
      tunnels.delete(socket);
      const state = served.get(req);
      logger.debug(
        {
          method: req.method,
          host,
          path: pathOf(req.url),
          upgrade: true,
          status: state?.upgraded ? 101 : undefined,
          ms: Math.round(performance.now() - started),
          deploymentId: state?.deploymentId,
        },
        'edge websocket',
      );
    });
    if (closing) return void socket.destroy();

    const label = host === null ? null : labelFromHost(host, baseDomain);
    if (label === null) return rejectUpgrade(socket, 404, MESSAGES.badHost);
    // Node hands every Upgrade request here, h2c included; only WebSockets are proxied.
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      return rejectUpgrade(socket, 400, MESSAGES.notWebSocket);
    }

    const route = await resolve(label, host!);
    if (route === 'unavailable') return rejectUpgrade(socket, 503, MESSAGES.unavailable);
    if (route === null) return rejectUpgrade(socket, 404, `No deployment at ${host}`);
    if (socket.destroyed || closing) return void socket.destroy();

    served.set(req, { label, deploymentId: route.deploymentId, target: route.target.href });
    // http-proxy-3 sets X-Forwarded-For/Port/Proto on upgrades but not Host.
    req.headers['x-forwarded-host'] ??= req.headers.host;
    // A tunnel is its own connection; it never goes back to a pool.
    proxy.ws(req, socket, head, { target: route.target, agent: false });
  }

  /** The route, null for none, or 'unavailable' when the lookup failed (logged). */
  async function resolve(
    label: string,
    host: string,
  ): Promise<{ target: URL; deploymentId: string } | null | 'unavailable'> {
    let route: EdgeRoute | null;
    try {
      route = await lookup(label);
    } catch (error) {
      logger.warn({ err: error, host, label }, 'edge lookup failed');
      return 'unavailable';
    }
    if (route === null) return null;
    const target = URL.canParse(route.target) ? new URL(route.target) : null;
    if (!target || (target.protocol !== 'http:' && target.protocol !== 'https:')) {
      logger.warn(
        { host, label, deploymentId: route.deploymentId, target: route.target },
        'edge route has no usable target',
      );
      return 'unavailable';
    }
    return { target, deploymentId: route.deploymentId };
  }

  proxy.on('proxyReq', (proxyReq, req) => {
    // The client's connection preferences are not the upstream connection's: a client sending
    // `Connection: close` must not cost a pooled upstream socket. Checked because this event
    // can in principle come after the headers went out, and setting them then would throw.
    if (!proxyReq.headersSent) {
      for (const name of [...HOP_BY_HOP, ...connectionTokens(req.headers.connection)])
        proxyReq.removeHeader(name);
    }
    proxyReq.once('timeout', () => {
      const state = served.get(req);
      if (state) state.timedOut = true;
    });
  });

  proxy.on('proxyRes', (proxyRes, req, res) => {
    // http-proxy-3 stops piping when the upstream dies mid-body but leaves the client waiting
    // for the rest forever; cutting the client's connection is how HTTP says "truncated".
    proxyRes.on('error', () => {});
    proxyRes.once('close', () => {
      if (proxyRes.complete || res.destroyed) return;
      const state = served.get(req);
      logger.warn(
        {
          host: req.headers.host,
          deploymentId: state?.deploymentId,
          target: state?.target,
          timedOut: state?.timedOut,
        },
        'edge upstream response cut short',
      );
      res.destroy();
    });

    // Dropped so that http-proxy-3 answers the client with the client's own connection
    // preference, and so a deployment cannot claim to be another.
    for (const name of [
      ...HOP_BY_HOP,
      ...connectionTokens(proxyRes.headers.connection),
      DEPLOYMENT_ID_HEADER,
    ]) {
      delete proxyRes.headers[name];
    }
  });

  proxy.on('proxyReqWs', (proxyReq, req, socket) => {
    // A client that leaves during the handshake takes the upstream request (or tunnel) with it.
    socket.once('close', () => proxyReq.destroy());
    proxyReq.setTimeout(timeoutMs, () => {
      const state = served.get(req);
      if (state) state.timedOut = true;
      proxyReq.destroy();
    });
    // Registered before http-proxy-3's own listener, so the 101 it writes carries the header.
    proxyReq.once('upgrade', (proxyRes: http.IncomingMessage) => {
      const state = served.get(req);
      if (state) {
        state.upgraded = true;
        proxyRes.headers[DEPLOYMENT_ID_HEADER] = state.deploymentId;
      }
    });
  });

  proxy.on('open', (proxySocket) => {
    proxySocket.on('error', () => {});
    tunnels.add(proxySocket);
    proxySocket.once('close', () => tunnels.delete(proxySocket));
  });

  // The client went away mid-request; http-proxy-3 already tore the upstream request down.
  proxy.on('econnreset', () => {});

  proxy.on('error', (error, req, resOrSocket) => {
    const state = served.get(req);
    const code = (error as NodeJS.ErrnoException).code;
    const failure = () => ({
      host: req.headers.host,
      label: state?.label,
      deploymentId: state?.deploymentId,
      target: state?.target,
      code,
      timedOut: state?.timedOut,
      err: error,
    });
    if (resOrSocket instanceof http.ServerResponse) {
      const res = resOrSocket;
      if (res.destroyed) return; // the client left first; nothing to tell it
      logger.warn(failure(), 'edge upstream failed');
      sendPage(req, res, 502, MESSAGES.noAnswer);
      return;
    }
    const socket = resOrSocket as Socket;
    if (state?.upgraded) {
      // One end of an established tunnel failed; the other end is all that is left to close.
      logger.debug(
        { host: req.headers.host, deploymentId: state.deploymentId, code },
        'edge websocket ended with an error',
      );
      socket.destroy();
      return;
    }
    logger.warn(failure(), 'edge websocket upstream failed');
    rejectUpgrade(socket, 502, MESSAGES.noAnswer);
  });

  return {
    server,
    listen(port, host) {
      return new Promise((resolvePort, reject) => {
        const onError = (error: Error) => reject(error);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          const address = server.address();
          resolvePort(typeof address === 'object' && address ? address.port : port);
        });
      });
    },
    close() {
      closing = true;
      const closed = new Promise<void>((resolveClose) => {
        // Not listening (never was, or closed twice) is as closed as it gets.
        server.close(() => resolveClose());
      });
      server.closeAllConnections();
      for (const socket of tunnels) socket.destroy();
      tunnels.clear();
      agent.destroy();
      return closed;
    },
  };
}

/** Header names a Connection header lists as hop-by-hop (besides the usual `close`/`keep-alive`). */
function connectionTokens(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const tokens = (Array.isArray(value) ? value.join(',') : value)
    .split(',')
    .map((token) => token.trim().toLowerCase());
  // Never strip what http-proxy-3 relies on or what describes the body.
  return tokens.filter(
    (token) =>
      token !== '' &&
      token !== 'close' &&
      token !== 'host' &&
      !token.startsWith('content-') &&
      token !== 'transfer-encoding' &&
      token !== 'upgrade',
  );
}

/** Query strings carry tokens often enough that they stay out of the logs. */
function pathOf(url: string | undefined): string | undefined {
  return url?.split('?', 1)[0];
}

/** A short page: HTML for browsers, plain text for everything else (curl, fetch, health checkers). */
function sendPage(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  message: string,
): void {
  if (res.headersSent) {
    // Part of the upstream's answer already went out; cutting it short is the only honest signal.
    res.destroy();
    return;
  }
  const html = /\btext\/html\b/.test(req.headers.accept ?? '');
  const body = html ? htmlPage(status, message) : `${message}\n`;
  // A deployment's own headers (cookies, caching) must not ride on the router's error page.
  for (const name of res.getHeaderNames()) if (name !== DEPLOYMENT_ID_HEADER) res.removeHeader(name);
  res.writeHead(status, {
    'content-type': html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    // An address that has no deployment now may have one a moment later.
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Cache-Control: no-store\r\n' +
      'Connection: close\r\n\r\n' +
      body,
  );
}

function htmlPage(status: number, message: string): string {
  const text = escapeHtml(message);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${status} · ${text}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:20vh auto;padding:0 1rem;color:#222}h1{font-size:1.25rem}p{color:#666}</style>
</head><body><h1>${text}</h1><p>${status} ${escapeHtml(http.STATUS_CODES[status] ?? '')}</p></body></html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
