import { request } from 'node:http';
import { connect } from 'node:net';
import { type ExitStatus, formatDuration } from './processes';

/**
 * Apps usually listen within a second: ask often at first (a deploy should not wait 100 ms for
 * nothing), then less and less often for one that takes its time.
 */
const FIRST_POLL_MS = 20;
const MAX_POLL_MS = 250;
const PROBE_TIMEOUT_MS = 2000;
const HOST = '127.0.0.1';

export interface WaitOptions {
  timeoutMs: number;
  signal: AbortSignal;
  /** The app's exit: waiting stops as soon as it settles. */
  exited: Promise<ExitStatus>;
}

export type PortWait = { kind: 'listening' } | { kind: 'timed-out' } | { kind: 'exited'; status: ExitStatus };

/** Waits until something accepts TCP connections on 127.0.0.1:port. */
export function waitForPort(port: number, options: WaitOptions): Promise<PortWait> {
  return poll<PortWait>(options, async () => ((await canConnect(port)) ? { kind: 'listening' } : null), {
    kind: 'timed-out',
  });
}

export type HealthWait =
  | { kind: 'healthy'; status: number }
  | { kind: 'timed-out'; lastAnswer: string }
  | { kind: 'exited'; status: ExitStatus };

/** Waits until `GET http://127.0.0.1:<port><path>` answers with a status below 400. */
export async function waitForHealthy(port: number, path: string, options: WaitOptions): Promise<HealthWait> {
  let lastAnswer = 'none';
  const result = await poll<HealthWait>(
    options,
    async (remainingMs) => {
      const answer = await probe(port, path, Math.min(PROBE_TIMEOUT_MS, Math.max(remainingMs, 50)));
      if (typeof answer === 'number' && answer < 400) return { kind: 'healthy', status: answer };
      lastAnswer = String(answer);
      return null;
    },
    { kind: 'timed-out', lastAnswer },
  );
  return result.kind === 'timed-out' ? { kind: 'timed-out', lastAnswer } : result;
}

async function poll<T>(
  options: WaitOptions,
  attempt: (remainingMs: number) => Promise<T | null>,
  timedOut: T,
): Promise<T | { kind: 'exited'; status: ExitStatus }> {
  let exit: ExitStatus | null = null;
  void options.exited.then((status) => {
    exit = status;
  });
  const deadline = Date.now() + options.timeoutMs;
  let interval = FIRST_POLL_MS;
  for (;;) {
    options.signal.throwIfAborted();
    if (exit) return { kind: 'exited', status: exit };
    const result = await attempt(deadline - Date.now());
    if (result) return result;
    // The app may have answered its last words and exited while we asked.
    if (exit) return { kind: 'exited', status: exit };
    const remaining = deadline - Date.now();
    if (remaining <= 0) return timedOut;
    await Promise.race([delay(Math.min(interval, remaining), options.signal), options.exited]);
    interval = Math.min(interval * 1.5, MAX_POLL_MS);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.setTimeout(PROBE_TIMEOUT_MS);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** The status of one GET, or why there was none ("connection refused", "no answer within 2 s"). */
function probe(port: number, path: string, timeoutMs: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      { host: HOST, port, path, method: 'GET', agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.once('timeout', () => {
      req.destroy();
      resolve(`no answer within ${formatDuration(timeoutMs)}`);
    });
    req.once('error', (error: NodeJS.ErrnoException) => {
      resolve(
        error.code === 'ECONNREFUSED'
          ? 'connection refused'
          : error.code === 'ECONNRESET'
            ? 'connection reset'
            : (error.code ?? error.message),
      );
    });
    req.end();
  });
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
