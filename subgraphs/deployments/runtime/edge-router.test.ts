import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createEdgeRouter, DEPLOYMENT_ID_HEADER, type EdgeRoute, type EdgeRouter } from './edge-router';

const BASE = 'localhost';

/** Everything the router logs, parsed, so tests can look for lines. */
const logLines: Array<Record<string, unknown>> = [];
const logger = pino({ level: 'debug' }, { write: (line: string) => logLines.push(JSON.parse(line)) });

interface Upstream {
  name: string;
  /** TCP connections accepted so far: the router's keep-alive pool keeps this low. */
  connections(): number;
  server: http.Server;
  target: string;
  port: number;
  close(): Promise<void>;
}

/**
 * An app that says who it is and echoes what it got; `/stream` answers in two parts, the
 * second when the test calls `release`.
 */
async function startUpstream(name: string): Promise<Upstream & { releaseStream(): void }> {
  let release = () => {};
  const server = http.createServer((req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      release = () => res.end('second');
      return;
    }
    if (req.url === '/hang') return; // never answers
    if (req.url === '/die') {
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 10);
      return;
    }
    if (req.url === '/jitter') {
      // A little overlap between requests, so flips land while some are in flight.
      setTimeout(() => res.end(name), Math.random() * 3);
      return;
    }
    const hash = createHash('sha256');
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-upstream', name);
      // A deployment must not be able to pass for another.
      res.setHeader(DEPLOYMENT_ID_HEADER, 'dpl_FORGED');
      res.end(
        JSON.stringify({
          name,
          method: req.method,
          url: req.url,
          headers: req.headers,
          length,
          sha256: hash.digest('hex'),
        }),
      );
    });
  });
  let connections = 0;
  server.on('connection', () => connections++);
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket, req) => {
    socket.send(`hello from ${name} ${req.url}`);
    socket.on('message', (data) => socket.send(`${name} echo: ${data.toString()}`));
  });
  const port = await listen(server);
  return {
    name,
    server,
    port,
    target: `http://127.0.0.1:${port}`,
    connections: () => connections,
    releaseStream: () => release(),
    close: async () => {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function listen(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = http.createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const clientAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
afterAll(() => clientAgent.destroy());

/** fetch may not set Host, so requests go through node:http. */
function send(
  port: number,
  host: string,
  options: {
    method?: string;
    path?: string;
    headers?: http.OutgoingHttpHeaders;
    body?: Buffer | string;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: { host, ...options.headers },
        agent: clientAgent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function json(reply: Reply): {
  name: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
} & {
  length: number;
  sha256: string;
} {
  return JSON.parse(reply.body);
}

describe('edge router', () => {
  let a: Awaited<ReturnType<typeof startUpstream>>;
  let b: Awaited<ReturnType<typeof startUpstream>>;
  let router: EdgeRouter;
  let port: number;
  /** What each label points at; tests change it as the pipeline would. */
  const routes = new Map<string, EdgeRoute | (() => Promise<EdgeRoute | null>) | Error>();

  beforeAll(async () => {
    [a, b] = await Promise.all([startUpstream('A'), startUpstream('B')]);
    router = createEdgeRouter({
      baseDomain: BASE,
      logger,
      timeoutMs: 2_000,
      lookup: (label) => {
        const route = routes.get(label);
        if (route === undefined) return null;
        if (route instanceof Error) throw route;
        return typeof route === 'function' ? route() : route;
      },
    });
    port = await router.listen(0, '127.0.0.1');
  });

  afterEach(() => {
    routes.clear();
  });

  afterAll(async () => {
    await router.close();
    await Promise.all([a.close(), b.close()]);
  });

  it('routes by label and says which deployment answered', async () => {
    routes.set('one', { target: a.target, deploymentId: 'dpl_A' });
    routes.set('two', { target: b.target, deploymentId: 'dpl_B' });

    const [one, two] = await Promise.all([send(port, `one.${BASE}:${port}`), send(port, `two.${BASE}`)]);
    expect(one.status).toBe(200);
    expect(json(one).name).toBe('A');
    expect(one.headers[DEPLOYMENT_ID_HEADER]).toBe('dpl_A');
    expect(two.status).toBe(200);
    expect(json(two).name).toBe('B');
    expect(two.headers[DEPLOYMENT_ID_HEADER]).toBe('dpl_B');
    // The upstream's own headers come through; the upstream keeps the public host.
    expect(one.headers['x-upstream']).toBe('A');
    expect(json(one).headers.host).toBe(`one.${BASE}:${port}`);
  });

  it('reads the host case-insensitively, with or without port and trailing dot', async () => {
    routes.set('one', { target: a.target, deploymentId: 'dpl_A' });
    for (const host of ['ONE.LocalHost', 'one.localhost.', `one.localhost.:${port}`]) {
      const reply = await send(port, host);
      expect(reply.status, host).toBe(200);
      expect(json(reply).name).toBe('A');
    }
  });

  it('answers 404 for hosts that name no deployment', async () => {
    routes.set('one', { target: a.target, deploymentId: 'dpl_A' });
    for (const host of [
      'localhost',
      '127.0.0.1',
      `127.0.0.1:${port}`,
      '[::1]',
      'one.example.com',
      'a.one.localhost',
      'my_app.localhost',
    ]) {
      const reply = await send(port, host);
      expect(reply.status, host).toBe(404);
      expect(reply.body).toBe('No deployment at this address\n');
      expect(reply.headers[DEPLOYMENT_ID_HEADER]).toBeUndefined();
    }
    const unknown = await send(port, `nope.${BASE}:${port}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toBe('No deployment at nope.localhost\n');
    expect(unknown.headers['cache-control']).toBe('no-store');
  });

  it('serves browsers an HTML page', async () => {
    const reply = await send(port, `nope.${BASE}`, {
      headers: { accept: 'text/html,application/xhtml+xml' },
    });
    expect(reply.status).toBe(404);
    expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(reply.body).toContain('<h1>No deployment at nope.localhost</h1>');
  });

  it('waits for an async lookup (a cold start)', async () => {
    routes.set('cold', async () => {
      await sleep(50);
      return { target: b.target, deploymentId: 'dpl_B' };
    });
    const started = performance.now();
    const reply = await send(port, `cold.${BASE}`, { method: 'POST', body: 'sent while it starts' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(reply.status).toBe(200);
    expect(json(reply)).toMatchObject({ name: 'B', length: 'sent while it starts'.length });

    routes.set('gone', async () => null);
    expect((await send(port, `gone.${BASE}`)).status).toBe(404);
  });

  it('answers 503 when the lookup throws, and logs it', async () => {
    routes.set('broken', new Error('database is down'));
    const reply = await send(port, `broken.${BASE}`);
    expect(reply.status).toBe(503);
    expect(reply.body).toBe('This deployment is not available right now\n');
    expect(reply.body).not.toContain('database');
    expect(logLines.some((line) => line.msg === 'edge lookup failed' && line.level === 40)).toBe(true);

    routes.set('rejects', () => Promise.reject(new Error('no capacity')));
    expect((await send(port, `rejects.${BASE}`)).status).toBe(503);
    routes.set('nonsense', { target: 'not a url', deploymentId: 'dpl_X' });
    expect((await send(port, `nonsense.${BASE}`)).status).toBe(503);
  });

  it('answers 502 when the upstream is down, without saying where it was', async () => {
    const dead = await deadPort();
    routes.set('down', { target: `http://127.0.0.1:${dead}`, deploymentId: 'dpl_DOWN' });
    const reply = await send(port, `down.${BASE}`);
    expect(reply.status).toBe(502);
    expect(reply.body).toBe('The deployment did not answer\n');
    expect(reply.headers[DEPLOYMENT_ID_HEADER]).toBe('dpl_DOWN');
    const html = await send(port, `down.${BASE}`, { headers: { accept: 'text/html' } });
    for (const text of [reply.body, html.body, JSON.stringify(reply.headers), JSON.stringify(html.headers)]) {
      expect(text).not.toContain('127.0.0.1');
      expect(text).not.toContain(String(dead));
      expect(text).not.toContain('ECONNREFUSED');
    }
    expect(logLines.some((line) => line.msg === 'edge upstream failed' && line.code === 'ECONNREFUSED')).toBe(
      true,
    );
  });

  it('cuts the client off when the upstream dies halfway through an answer', async () => {
    routes.set('one', { target: a.target, deploymentId: 'dpl_A' });
    await expect(send(port, `one.${BASE}`, { path: '/die' })).rejects.toThrow();
    // The router is none the worse for it.
    expect((await send(port, `one.${BASE}`)).status).toBe(200);
  });

  it('answers 502 when the upstream stays silent past the timeout', async () => {
    const quick = createEdgeRouter({
      baseDomain: BASE,
      logger,
      timeoutMs: 150,
      lookup: () => ({ target: a.target, deploymentId: 'dpl_A' }),
    });
    const quickPort = await quick.listen(0, '127.0.0.1');
    try {
      const started = performance.now();
      const reply = await send(quickPort, `slow.${BASE}`, { path: '/hang' });
      expect(reply.status).toBe(502);
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(logLines.some((line) => line.msg === 'edge upstream failed' && line.timedOut === true)).toBe(
        true,
      );
    } finally {
      await quick.close();
    }
  });

  it('streams request and response bodies through', async () => {
    routes.set('one', { target: a.target, deploymentId: 'dpl_A' });
    // 4 MiB sent in chunks, hashed by the upstream as it arrives.
    const chunk = Buffer.alloc(64 * 1024, 7);
    const expected = createHash('sha256');
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, method: 'PUT', path: '/upload?x=1', headers: { host: `one.${BASE}` } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              headers: res.headers,
              body: Buffer.concat(chunks).toString(),
            }),
          );
        },
      );
      req.on('error', reject);
      let sent = 0;
      const write = () => {
        while (sent < 64) {
          sent++;
          expected.update(chunk);
          if (!req.write(chunk)) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    });
    expect(reply.status).toBe(200);
    expect(json(reply)).toMatchObject({
      method: 'PUT',
      url: '/upload?x=1',
      length: 64 * chunk.length,
      sha256: expected.digest('hex'),
    });

    // The first part of a response reaches the client before the upstream has finished it.
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/stream', headers: { host: `one.${BASE}` } }, resolve)
        .on('error', reject);
    });
    const [first] = (await once(res, 'data')) as [Buffer];
    expect(first.toString()).toBe('first;');
    a.releaseStream();
    const [rest] = (await once(res, 'data')) as [Buffer];
    expect(rest.toString()).toBe('second');
  });

  it('tells the upstream who asked (X-Forwarded-*)', async () => {
    routes.set('one', { target: a.target, deploymentId: 'dpl_A' });
    const { headers } = json(await send(port, `one.${BASE}:${port}`));
    expect(headers['x-forwarded-for']).toMatch(/127\.0\.0\.1$/);
    expect(headers['x-forwarded-host']).toBe(`one.${BASE}:${port}`);
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-port']).toBe(String(port));
  });

  it('keeps hop-by-hop headers to one hop', async () => {
    routes.set('one', { target: a.target, deploymentId: 'dpl_A' });
    const reply = await send(port, `one.${BASE}`, {
      headers: { connection: 'keep-alive, x-hop', 'x-hop': 'secret', 'x-end': 'kept' },
    });
    const { headers } = json(reply);
    expect(headers['x-hop']).toBeUndefined();
    expect(headers['x-end']).toBe('kept');
    // The upstream's forged header is replaced by the router's.
    expect(reply.headers[DEPLOYMENT_ID_HEADER]).toBe('dpl_A');
  });

  it('proxies WebSocket upgrades', async () => {
    routes.set('live', { target: b.target, deploymentId: 'dpl_B' });
    const socket = new WebSocket(`ws://127.0.0.1:${port}/chat?room=1`, { headers: { host: `live.${BASE}` } });
    const upgrade = once(socket, 'upgrade') as Promise<[http.IncomingMessage]>;
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(data.toString()));
    await once(socket, 'open');
    const [response] = await upgrade;
    expect(response.headers[DEPLOYMENT_ID_HEADER]).toBe('dpl_B');
    socket.send('ping');
    await expect.poll(() => messages).toEqual(['hello from B /chat?room=1', 'B echo: ping']);
    socket.close();
    await once(socket, 'close');

    const nowhere = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: `nope.${BASE}` } });
    const [, refused] = (await once(nowhere, 'unexpected-response')) as [
      http.ClientRequest,
      http.IncomingMessage,
    ];
    expect(refused.statusCode).toBe(404);
    nowhere.on('error', () => {}); // terminating a socket that never opened reports that it never opened
    nowhere.terminate();

    routes.set('down', { target: `http://127.0.0.1:${await deadPort()}`, deploymentId: 'dpl_DOWN' });
    const down = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: `down.${BASE}` } });
    const [, failed] = (await once(down, 'unexpected-response')) as [
      http.ClientRequest,
      http.IncomingMessage,
    ];
    expect(failed.statusCode).toBe(502);
    down.on('error', () => {});
    down.terminate();
  });

  it('switches atomically: no request fails while a label flips between deployments', async () => {
    const routeA = { target: a.target, deploymentId: 'dpl_A' };
    const routeB = { target: b.target, deploymentId: 'dpl_B' };
    routes.set('flip', routeA);
    const connectionsBefore = a.connections() + b.connections();
    let flips = 0;
    const flipper = setInterval(() => {
      routes.set('flip', flips++ % 2 === 0 ? routeB : routeA);
    }, 2);

    const answers = { A: 0, B: 0 };
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < 500) {
        next++;
        try {
          const reply = await send(port, `flip.${BASE}`, { path: '/jitter' });
          const deploymentId = reply.headers[DEPLOYMENT_ID_HEADER];
          if (
            reply.status !== 200 ||
            (reply.body !== 'A' && reply.body !== 'B') ||
            deploymentId !== `dpl_${reply.body}`
          ) {
            failures.push(`${reply.status} ${deploymentId} ${reply.body}`);
          } else {
            answers[reply.body]++;
          }
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    clearInterval(flipper);

    expect(failures).toEqual([]);
    expect(answers.A + answers.B).toBe(500);
    expect(flips).toBeGreaterThan(5);
    expect(answers.A).toBeGreaterThan(0);
    expect(answers.B).toBeGreaterThan(0);

    // After the final flip, only the new deployment answers.
    routes.set('flip', routeB);
    const after = await Promise.all(
      Array.from({ length: 40 }, () => send(port, `flip.${BASE}`, { path: '/jitter' })),
    );
    expect(after.map((reply) => reply.body)).toEqual(Array(40).fill('B'));
    // 540 requests, 20 at a time: upstream connections are reused, not opened per request.
    expect(a.connections() + b.connections() - connectionsBefore).toBeLessThanOrEqual(80);
  });

  it('logs each request at debug level', async () => {
    routes.set('one', { target: a.target, deploymentId: 'dpl_A' });
    await send(port, `one.${BASE}`, { path: '/logged?token=secret' });
    await expect
      .poll(() => logLines.find((line) => line.msg === 'edge request' && line.path === '/logged'))
      .toMatchObject({ level: 20, method: 'GET', host: 'one.localhost', status: 200, deploymentId: 'dpl_A' });
    expect(JSON.stringify(logLines)).not.toContain('secret');
  });
});

describe('closing the edge router', () => {
  it('ends open connections, WebSockets included, promptly', async () => {
    const upstream = await startUpstream('C');
    const router = createEdgeRouter({
      baseDomain: BASE,
      logger,
      lookup: () => ({ target: upstream.target, deploymentId: 'dpl_C' }),
    });
    const port = await router.listen(0, '127.0.0.1');
    try {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: `c.${BASE}` } });
      socket.on('error', () => {});
      await once(socket, 'open');
      // A request in flight and an idle keep-alive connection as well.
      expect((await send(port, `c.${BASE}`)).status).toBe(200);
      const streaming = new Promise<http.IncomingMessage>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/stream', headers: { host: `c.${BASE}` } }, resolve)
          .on('error', reject);
      });
      const res = await streaming;
      // The response is cut short: 'aborted' is the expected outcome.
      const responseClosed = new Promise((resolve) => res.on('close', resolve));
      res.on('error', () => {});
      await once(res, 'data');

      const started = performance.now();
      const closed = once(socket, 'close');
      await router.close();
      await closed;
      await responseClosed;
      expect(performance.now() - started).toBeLessThan(1_000);
      await expect(send(port, `c.${BASE}`)).rejects.toThrow();
      await router.close(); // twice is fine
    } finally {
      await upstream.close();
    }
  });

  it('rejects a port in use', async () => {
    const blocker = http.createServer();
    const port = await listen(blocker);
    const router = createEdgeRouter({ baseDomain: BASE, logger, lookup: () => null });
    try {
      await expect(router.listen(port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await router.close();
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
