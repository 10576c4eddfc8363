import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CREDENTIAL_HEADER } from '../../subgraphs/common/credential';

export interface StubServer {
  /** Its /graphql URL, to compose in place of a subgraph's. */
  url: string;
  close(): Promise<void>;
}

/** A server that accepts every request and never answers: a hung subgraph. */
export async function startHungServer(): Promise<StubServer & { received: number }> {
  let received = 0;
  const server = createServer(() => {
    received++;
  });
  return {
    ...(await listen(server)),
    get received() {
      return received;
    },
  };
}

export interface RecordedRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A pass-through proxy in front of a real subgraph (`target`: its /graphql URL) that records what the gateway sends it and
 * can hold each request for a while before forwarding it: a slow subgraph, or a spy.
 */
export async function startProxy(
  target: string,
  options: { delayMs?: number } = {},
): Promise<StubServer & { requests: RecordedRequest[]; nextRequest(): Promise<RecordedRequest> }> {
  const requests: RecordedRequest[] = [];
  const waiting: ((request: RecordedRequest) => void)[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const recorded = {
      method: req.method ?? 'GET',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    };
    requests.push(recorded);
    for (const resolve of waiting.splice(0)) resolve(recorded);
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    try {
      const upstream = await fetch(new URL(req.url ?? '/', target), {
        method: req.method ?? 'POST',
        headers: {
          'content-type': 'application/json',
          accept: String(req.headers.accept ?? '*/*'),
          // The subgraph behind answers the gateway only: pass its credential on.
          [CREDENTIAL_HEADER]: String(req.headers[CREDENTIAL_HEADER] ?? ''),
        },
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : recorded.body,
      });
      res.writeHead(upstream.status, {
        'content-type': upstream.headers.get('content-type') ?? 'text/plain',
      });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    } catch {
      res.destroy();
    }
  });
  return {
    ...(await listen(server)),
    requests,
    nextRequest: () => new Promise((resolve) => waiting.push(resolve)),
  };
}

async function listen(server: Server): Promise<StubServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
