import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from './processes';

/** Bounded memo of response bytes by exact request body. Stops growing when full (then yoga serves). */
export class ResponseMemo {
  private readonly entries = new Map<string, Buffer>();
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries: number) {}

  get(body: string): Buffer | undefined {
    const hit = this.entries.get(body);
    if (hit) this.hits++;
    else this.misses++;
    return hit;
  }

  set(body: string, response: Buffer): void {
    if (this.entries.size < this.maxEntries) this.entries.set(body, response);
  }
}

/**
 * Answers a POST from the memo, or by real GraphQL execution through yoga's fetch API, keeping
 * only clean successes: a bench subgraph asked the same few things again and again costs a
 * byte copy after the first answer.
 */
export async function serveMemoised(
  yoga: { fetch(url: string, init: RequestInit): Response | Promise<Response> },
  memo: ResponseMemo,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const body = await readBody(req);
  let payload = memo.get(body);
  if (!payload) {
    const response = await yoga.fetch(`http://127.0.0.1${req.url ?? '/graphql'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body,
    });
    const text = await response.text();
    if (response.status !== 200 || text.includes('"errors"')) {
      res.writeHead(response.status, { 'content-type': 'application/json' });
      res.end(text);
      return;
    }
    payload = Buffer.from(text);
    memo.set(body, payload);
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': payload.length });
  res.end(payload);
}
