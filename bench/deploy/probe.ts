/**
 * The one way both sides of the latency comparison ask "is it up yet?", so that polling costs
 * and granularity are identical for Construct and for the plain script.
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Answer {
  status: number;
  /** `x-construct-deployment-id`: which deployment the edge routed to, if any. */
  deploymentId: string | undefined;
}

/**
 * One GET to 127.0.0.1:port with the given Host header, on a fresh connection (as a new visitor,
 * and as test/support/edge.ts does): the machine need not resolve `*.localhost`. Connection
 * errors count as "not yet" (status 0).
 */
export function get(port: number, host: string, path = '/'): Promise<Answer> {
  return new Promise((resolve) => {
    const request = http.get(
      { host: '127.0.0.1', port, path, headers: { host }, agent: false },
      (response) => {
        response.resume();
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            deploymentId: response.headers['x-construct-deployment-id'] as string | undefined,
          }),
        );
        response.on('error', () => resolve({ status: 0, deploymentId: undefined }));
      },
    );
    request.on('error', () => resolve({ status: 0, deploymentId: undefined }));
  });
}

export interface PollOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Checked between attempts: a reason to give up early (the deployment failed), or null. */
  abandoned?: () => string | null;
  what: string;
}

/** GETs until `ok` holds, `intervalMs` between the end of one attempt and the next; returns how many it took. */
export async function pollUntil(
  port: number,
  host: string,
  ok: (answer: Answer) => boolean,
  options: PollOptions,
): Promise<number> {
  const deadline = performance.now() + options.timeoutMs;
  let last: Answer | undefined;
  for (let attempts = 1; ; attempts++) {
    last = await get(port, host);
    if (ok(last)) return attempts;
    const reason = options.abandoned?.();
    if (reason) throw new Error(`${options.what}: ${reason}`);
    if (performance.now() > deadline) {
      throw new Error(
        `${options.what}: no success within ${options.timeoutMs / 1000} s (last answer: ${last.status || 'no connection'})`,
      );
    }
    await sleep(options.intervalMs);
  }
}
